package cli

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/strombroker/strom/internal/certs"
)

// certFile is one file strom certs writes.
type certFile struct {
	name string
	data []byte
	mode os.FileMode // 0600 for anything holding a private key
}

// runCerts makes a development CA (or reuses the one in --out) and a broker
// and a client certificate signed by it, as PEM files a broker
// (ssl.keystore.location, ssl.truststore.location) and Kafka clients
// (kcat's ssl.*.location, kafka-python's ssl_cafile/ssl_certfile/ssl_keyfile)
// read as they are. For trying TLS out, not for production PKI.
func runCerts(e *env, args []string) error {
	fset := flag.NewFlagSet("strom certs", flag.ContinueOnError)
	fset.SetOutput(e.stderr)
	out := fset.String("out", "certs", "directory to write the PEM files to (created if missing)")
	caName := fset.String("ca", "Strom development CA", "common name of a new CA; a CA already in --out (ca.pem, ca-key.pem) is reused instead")
	brokerHosts := fset.String("broker", "localhost,127.0.0.1", "comma-separated host names and IP addresses of the brokers (the certificate's SANs; clients verify the address they dial against them); empty: no broker certificate")
	brokerCN := fset.String("broker-cn", "", "common name of the broker certificate (brokers present it to each other, so with ssl.client.auth its principal is User:CN=<name>; put that in super.users); default: the first --broker host")
	clientCN := fset.String("client", "client", "common name of the client certificate (its principal is User:CN=<name>); empty: no client certificate")
	days := fset.Int("days", 365, "validity of the broker and client certificates, in days")
	fset.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: strom certs [--out certs] [--ca NAME] [--broker host,ip,...] [--broker-cn CN] [--client CN] [--days 365]")
		fmt.Fprintln(e.stderr, "\nMakes a development CA and broker and client certificates as PEM files.")
		fset.PrintDefaults()
	}
	pos, err := parse(fset, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("certs takes no arguments, got %q", pos[0])
	}
	if *days < 1 {
		return usageErr("--days must be at least 1")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	ca, files, err := loadOrMakeCA(*out, *caName)
	if err != nil {
		return err
	}
	validity := time.Duration(*days) * 24 * time.Hour
	more, err := issueCerts(ca, splitList(*brokerHosts), *brokerCN, *clientCN, validity)
	if err != nil {
		return err
	}
	files = append(files, more...)
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(*out, f.name), f.data, f.mode); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "wrote", filepath.Join(*out, f.name))
	}
	printCertsHint(e, *out, *brokerHosts != "", *clientCN != "")
	return nil
}

// loadOrMakeCA reuses dir's CA or makes one, returning the files to write
// for a new one.
func loadOrMakeCA(dir, name string) (*certs.Authority, []certFile, error) {
	certPEM, err1 := os.ReadFile(filepath.Join(dir, "ca.pem"))
	keyPEM, err2 := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	switch {
	case err1 == nil && err2 == nil:
		ca, err := certs.LoadCA(certPEM, keyPEM)
		if err != nil {
			return nil, nil, fmt.Errorf("reuse the CA in %s: %w", dir, err)
		}
		return ca, nil, nil
	case !errors.Is(err1, fs.ErrNotExist) && err1 != nil:
		return nil, nil, err1
	case !errors.Is(err2, fs.ErrNotExist) && err2 != nil:
		return nil, nil, err2
	case err1 == nil || err2 == nil:
		return nil, nil, fmt.Errorf("%s has one of ca.pem and ca-key.pem but not the other; remove it or add the missing file", dir)
	}
	ca, err := certs.NewCA(name, 0)
	if err != nil {
		return nil, nil, err
	}
	return ca, []certFile{{"ca.pem", ca.CertPEM, 0o644}, {"ca-key.pem", ca.KeyPEM, 0o600}}, nil
}

// issueCerts makes the broker certificate (server and client use: brokers
// also dial each other) and the client certificate.
func issueCerts(ca *certs.Authority, hosts []string, brokerCN, clientCN string, validity time.Duration) ([]certFile, error) {
	var files []certFile
	if len(hosts) > 0 {
		if brokerCN == "" {
			brokerCN = hosts[0]
		}
		b, err := ca.Issue(certs.Options{CommonName: brokerCN, Hosts: hosts, Validity: validity})
		if err != nil {
			return nil, err
		}
		files = append(files, certFile{"broker.keystore.pem", b.KeystorePEM(), 0o600})
	}
	if clientCN != "" {
		c, err := ca.Issue(certs.Options{CommonName: clientCN, Client: true, Validity: validity})
		if err != nil {
			return nil, err
		}
		files = append(files,
			certFile{"client.pem", c.CertPEM, 0o644},
			certFile{"client-key.pem", c.KeyPEM, 0o600},
			certFile{"client.keystore.pem", c.KeystorePEM(), 0o600})
	}
	return files, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// printCertsHint shows the settings that use the files just written.
func printCertsHint(e *env, dir string, broker, client bool) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	if broker {
		fmt.Fprintf(e.stdout, "\nbroker (server.properties):\n  listeners=PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9095\n  ssl.keystore.type=PEM\n  ssl.keystore.location=%s/broker.keystore.pem\n  ssl.truststore.location=%s/ca.pem\n  # ssl.client.auth=required   (mTLS)\n", abs, abs)
	}
	if client {
		fmt.Fprintf(e.stdout, "\nkcat:\n  kcat -b 127.0.0.1:9095 -X security.protocol=ssl -X ssl.ca.location=%s/ca.pem -X ssl.certificate.location=%s/client.pem -X ssl.key.location=%s/client-key.pem -L\n", abs, abs, abs)
	}
}
