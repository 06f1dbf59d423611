package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// ErrEncryptedKey is a keystore whose private key is encrypted: Strom does
// not decrypt keys (the standard library has no PKCS#8 decryption), so
// ssl.key.password cannot be used.
var ErrEncryptedKey = errors.New("server: encrypted private keys are not supported")

// tlsMaterial is what a listener's keystore and truststore hold.
type tlsMaterial struct {
	cert  tls.Certificate
	roots *x509.CertPool // nil: no truststore (clients use the system roots)
}

// tlsSource holds a TLS listener's current certificates and the tls.Config
// values built from them, and reloads them when the files change. The
// server side (wire.Config.TLS) reads server at each handshake through
// GetConfigForClient and the follower's dialer reads client at each dial,
// so new connections get new certificates; open ones keep theirs.
type tlsSource struct {
	listener string
	settings TLSSettings
	log      *slog.Logger
	auth     tls.ClientAuthType
	lo, hi   uint16
	suites   []uint16
	mapper   *PrincipalMapper // ssl.principal.mapping.rules

	server atomic.Pointer[tls.Config]
	client atomic.Pointer[tls.Config]

	// Owned by the reload goroutine (and newTLSSource before it starts).
	lastSum [sha256.Size]byte // of the file contents last tried
}

// newTLSSource loads the listener's keystore and truststore; an error here
// fails the broker's start, naming the setting.
func newTLSSource(listener string, st TLSSettings, log *slog.Logger) (*tlsSource, error) {
	src := &tlsSource{listener: listener, settings: st, log: log}
	var err error
	if src.auth, err = st.clientAuth(); err != nil {
		return nil, err
	}
	if src.lo, src.hi, err = st.versions(); err != nil {
		return nil, err
	}
	if src.suites, err = st.cipherSuites(); err != nil {
		return nil, err
	}
	if src.mapper, err = ParsePrincipalMappingRules(st.PrincipalMappingRules); err != nil {
		return nil, err
	}
	files, sum, err := st.readFiles()
	if err != nil {
		return nil, fmt.Errorf("listener %s: %w", listener, err)
	}
	m, err := st.load(files)
	if err != nil {
		return nil, fmt.Errorf("listener %s: %w", listener, err)
	}
	src.lastSum = sum
	src.install(m)
	if st.KeyPassword != "" {
		log.Warn("ssl.key.password is set but the private key is not encrypted; the password is not used", "listener", listener)
	}
	return src, nil
}

// serverConfig is the configuration wire.Server handshakes with: it only
// hands each new connection the current one.
func (src *tlsSource) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion: src.lo,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return src.server.Load(), nil
		},
	}
}

// clientConfig is the current configuration for dialing this listener on a
// peer broker: the keystore as client certificate, the truststore as roots.
func (src *tlsSource) clientConfig() *tls.Config { return src.client.Load() }

// install builds and publishes the configurations for m.
func (src *tlsSource) install(m *tlsMaterial) {
	srv := &tls.Config{
		Certificates: []tls.Certificate{m.cert},
		ClientCAs:    m.roots,
		ClientAuth:   src.auth,
		MinVersion:   src.lo,
		MaxVersion:   src.hi,
		CipherSuites: src.suites,
	}
	cl := &tls.Config{
		Certificates: []tls.Certificate{m.cert},
		RootCAs:      m.roots,
		MinVersion:   src.lo,
		MaxVersion:   src.hi,
		CipherSuites: src.suites,
	}
	if strings.EqualFold(src.settings.EndpointIdentification, "none") {
		cl.InsecureSkipVerify = true // the chain is still verified, below
		cl.VerifyConnection = verifyChainOnly(m.roots)
	}
	src.server.Store(srv)
	src.client.Store(cl)
}

// verifyChainOnly verifies a peer's certificate chain against roots (nil:
// the system's) without checking its name: Kafka's empty
// ssl.endpoint.identification.algorithm.
func verifyChainOnly(roots *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("server: peer presented no certificate")
		}
		opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(opts)
		return err
	}
}

// run reloads every interval until ctx ends.
func (src *tlsSource) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			src.reload()
		}
	}
}

// reload rereads the keystore and truststore files and, when their contents
// changed, installs the new certificates. A file that cannot be read or
// parsed is logged (once per content) and the old certificates stay.
func (src *tlsSource) reload() {
	files, sum, err := src.settings.readFiles()
	if err != nil {
		if sum != src.lastSum {
			src.log.Warn("TLS files unreadable; keeping the current certificates", "listener", src.listener, "err", err)
		}
		src.lastSum = sum
		return
	}
	if sum == src.lastSum {
		return
	}
	src.lastSum = sum
	m, err := src.settings.load(files)
	if err != nil {
		src.log.Warn("new TLS files rejected; keeping the current certificates", "listener", src.listener, "err", err)
		return
	}
	src.install(m)
	src.log.Info("TLS certificates reloaded", "listener", src.listener,
		"subject", m.cert.Leaf.Subject.String(), "not_after", m.cert.Leaf.NotAfter)
}

// tlsFiles are the PEM texts of a listener's keystore and truststore,
// from files or from the PEM-string settings.
type tlsFiles struct {
	chain, key, trust []byte
}

// readFiles reads the keystore and truststore and sums their contents, so
// reload can tell a change. An unreadable file's error goes into the sum.
func (s TLSSettings) readFiles() (tlsFiles, [sha256.Size]byte, error) {
	var f tlsFiles
	var errs []error
	if s.KeystoreLocation != "" {
		b, err := os.ReadFile(s.KeystoreLocation)
		if err != nil {
			errs = append(errs, fmt.Errorf("ssl.keystore.location: %w", err))
		}
		f.chain, f.key = b, b
	} else {
		f.chain, f.key = []byte(s.KeystoreCertificateChain), []byte(s.KeystoreKey)
	}
	if s.TruststoreLocation != "" {
		b, err := os.ReadFile(s.TruststoreLocation)
		if err != nil {
			errs = append(errs, fmt.Errorf("ssl.truststore.location: %w", err))
		}
		f.trust = b
	} else {
		f.trust = []byte(s.TruststoreCertificates)
	}
	err := errors.Join(errs...)
	h := sha256.New()
	for _, b := range [][]byte{f.chain, {0}, f.key, {0}, f.trust} {
		h.Write(b)
	}
	if err != nil {
		h.Write([]byte(err.Error()))
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return f, sum, err
}

// load parses the keystore (Kafka's PEM format: a PKCS#8 private key and
// the certificate chain, leaf first; PKCS#1 and SEC 1 keys are accepted too)
// and the truststore.
func (s TLSSettings) load(f tlsFiles) (*tlsMaterial, error) {
	certPEM, keyPEM, err := splitPEM(f.chain, f.key)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	m := &tlsMaterial{cert: cert}
	if len(bytes.TrimSpace(f.trust)) > 0 {
		m.roots = x509.NewCertPool()
		if !m.roots.AppendCertsFromPEM(f.trust) {
			return nil, errors.New("truststore: no PEM certificate found (ssl.truststore.location / ssl.truststore.certificates)")
		}
	}
	return m, nil
}

// splitPEM picks the certificates out of chain and the one private key out
// of key (the same text for a keystore file), refusing encrypted keys.
func splitPEM(chain, key []byte) (certPEM, keyPEM []byte, err error) {
	for rest := chain; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			certPEM = append(certPEM, pem.EncodeToMemory(b)...)
		}
	}
	for rest := key; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		switch {
		case b.Type == "ENCRYPTED PRIVATE KEY", b.Headers["Proc-Type"] == "4,ENCRYPTED":
			return nil, nil, fmt.Errorf("keystore: %w; decrypt it (openssl pkcs8 -in key.pem -out plain.pem), keep the file readable by the broker only, and drop ssl.key.password", ErrEncryptedKey)
		case b.Type == "PRIVATE KEY", b.Type == "RSA PRIVATE KEY", b.Type == "EC PRIVATE KEY":
			if keyPEM != nil {
				return nil, nil, errors.New("keystore: more than one private key")
			}
			keyPEM = pem.EncodeToMemory(b)
		}
	}
	if certPEM == nil {
		return nil, nil, errors.New("keystore: no PEM certificate found")
	}
	if keyPEM == nil {
		return nil, nil, errors.New("keystore: no PEM private key found")
	}
	return certPEM, keyPEM, nil
}
