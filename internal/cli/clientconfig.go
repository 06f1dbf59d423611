package cli

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/strombroker/strom/internal/sasl"
)

// --command-config: a Kafka client properties file, as Kafka's tools take
// it (kafka-topics.sh --command-config client.properties), turned into kgo
// options. Understood keys:
//
//	security.protocol                     PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
//	sasl.mechanism                        PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (default PLAIN, Kafka's GSSAPI is not implemented)
//	sasl.jaas.config                      ...LoginModule required username="..." password="...";
//	sasl.username, sasl.password          librdkafka's spelling, instead of the JAAS config
//	ssl.truststore.location               PEM file of CA certificates (ssl.truststore.type=PEM)
//	ssl.truststore.certificates           the same, inline PEM
//	ssl.keystore.location                 PEM file with the client certificate chain and its key (mTLS)
//	ssl.keystore.certificate.chain        inline PEM certificate chain, with ssl.keystore.key
//	ssl.keystore.key                      inline PEM private key
//	ssl.endpoint.identification.algorithm https (default: check the broker's host name) or empty (do not)
//
// Other keys are ignored, as the Java tools ignore what they do not use.

// clientProps reads a Java properties file: key=value or key: value lines,
// '#' and '!' comments, a trailing backslash continuing the line.
func clientProps(r io.Reader) (map[string]string, error) {
	props := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var cont strings.Builder
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		if cont.Len() == 0 && (line == "" || line[0] == '#' || line[0] == '!') {
			continue
		}
		if strings.HasSuffix(line, `\`) && !strings.HasSuffix(line, `\\`) {
			cont.WriteString(strings.TrimSuffix(line, `\`))
			continue
		}
		cont.WriteString(line)
		full := cont.String()
		cont.Reset()
		i := strings.IndexAny(full, "=:")
		if i < 0 {
			return nil, fmt.Errorf("line %d: want key=value", n)
		}
		props[strings.TrimSpace(full[:i])] = strings.TrimSpace(full[i+1:])
	}
	return props, sc.Err()
}

// commandConfigOpts reads the --command-config file at path into kgo
// options.
func commandConfigOpts(path string) ([]kgo.Opt, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: --command-config: %v", ErrUsage, err)
	}
	defer f.Close()
	props, err := clientProps(f)
	if err != nil {
		return nil, fmt.Errorf("%w: --command-config %s: %v", ErrUsage, path, err)
	}
	opts, err := propsOpts(props)
	if err != nil {
		return nil, fmt.Errorf("%w: --command-config %s: %v", ErrUsage, path, err)
	}
	return opts, nil
}

// propsOpts turns client properties into kgo options.
func propsOpts(props map[string]string) ([]kgo.Opt, error) {
	proto := strings.ToUpper(props["security.protocol"])
	var opts []kgo.Opt
	switch proto {
	case "", "PLAINTEXT":
		return nil, nil
	case "SSL", "SASL_SSL":
		tc, err := tlsConfig(props)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	case "SASL_PLAINTEXT":
	default:
		return nil, fmt.Errorf("security.protocol %q: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", proto)
	}
	if strings.HasPrefix(proto, "SASL_") {
		o, err := saslOpt(props)
		if err != nil {
			return nil, err
		}
		opts = append(opts, o)
	}
	return opts, nil
}

func saslOpt(props map[string]string) (kgo.Opt, error) {
	user, pass := props["sasl.username"], props["sasl.password"]
	token := false // ScramLoginModule's tokenauth="true": user and password are a delegation token's id and HMAC
	if j := props["sasl.jaas.config"]; j != "" {
		m, err := sasl.ParseJAASModule(j)
		if err != nil {
			return nil, fmt.Errorf("sasl.jaas.config: %w", err)
		}
		user, pass = m.Options["username"], m.Options["password"]
		token = strings.EqualFold(m.Options["tokenauth"], "true")
	}
	if user == "" || pass == "" {
		return nil, errors.New("a SASL security.protocol needs sasl.jaas.config with username and password (or sasl.username and sasl.password)")
	}
	switch mech := props["sasl.mechanism"]; mech {
	case "", sasl.Plain:
		return kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()), nil
	case sasl.ScramSHA256:
		return kgo.SASL(scram.Auth{User: user, Pass: pass, IsToken: token}.AsSha256Mechanism()), nil
	case sasl.ScramSHA512:
		return kgo.SASL(scram.Auth{User: user, Pass: pass, IsToken: token}.AsSha512Mechanism()), nil
	default:
		return nil, fmt.Errorf("sasl.mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", mech)
	}
}

// tlsConfig builds the client TLS configuration from PEM trust and key
// stores.
func tlsConfig(props map[string]string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	caPEM := []byte(props["ssl.truststore.certificates"])
	if loc := props["ssl.truststore.location"]; loc != "" {
		b, err := os.ReadFile(loc)
		if err != nil {
			return nil, fmt.Errorf("ssl.truststore.location: %w", err)
		}
		caPEM = append(caPEM, b...)
	}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("ssl.truststore: no PEM certificate found (only ssl.truststore.type=PEM is supported)")
		}
		tc.RootCAs = pool
	}
	keyPEM, chainPEM := []byte(props["ssl.keystore.key"]), []byte(props["ssl.keystore.certificate.chain"])
	if loc := props["ssl.keystore.location"]; loc != "" {
		b, err := os.ReadFile(loc)
		if err != nil {
			return nil, fmt.Errorf("ssl.keystore.location: %w", err)
		}
		chainPEM, keyPEM = b, b
	}
	if len(chainPEM) > 0 || len(keyPEM) > 0 {
		cert, err := tls.X509KeyPair(chainPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("ssl.keystore (PEM certificate chain and unencrypted key): %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if alg, ok := props["ssl.endpoint.identification.algorithm"]; ok && alg == "" {
		skipHostnameCheck(tc)
	}
	return tc, nil
}

// skipHostnameCheck keeps verifying the broker's chain against the trust
// store but not its host name (ssl.endpoint.identification.algorithm=
// empty, as in Kafka).
func skipHostnameCheck(tc *tls.Config) {
	roots := tc.RootCAs
	tc.InsecureSkipVerify = true // replaced by the chain check below
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("broker sent no certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
		return err
	}
}
