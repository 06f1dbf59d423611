package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCertsMakesWorkingPEMFiles: strom certs writes a CA, a broker keystore
// and a client certificate with which a TLS server and client complete a
// mutually authenticated handshake; a second run reuses the CA.
func TestCertsMakesWorkingPEMFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	mustRun(t, "", "", "certs", "--out", dir, "--broker", "broker1.example,127.0.0.1", "--client", "alice")
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, name := range []string{"ca-key.pem", "broker.keystore.pem", "client-key.pem", "client.keystore.pem"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", name, err, st.Mode())
		}
	}
	ks := read("broker.keystore.pem")
	brokerCert, err := tls.X509KeyPair(ks, ks)
	if err != nil {
		t.Fatal(err)
	}
	clientCert, err := tls.X509KeyPair(read("client.pem"), read("client-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(read("ca.pem")) {
		t.Fatal("ca.pem holds no certificate")
	}
	handshake(t, &tls.Config{Certificates: []tls.Certificate{brokerCert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert},
		&tls.Config{Certificates: []tls.Certificate{clientCert}, RootCAs: pool, ServerName: "broker1.example"})

	caBefore := string(read("ca.pem"))
	mustRun(t, "", "", "certs", "--out", dir, "--broker", "", "--client", "bob")
	if string(read("ca.pem")) != caBefore {
		t.Fatal("a second run replaced the CA")
	}
	bob, err := tls.X509KeyPair(read("client.pem"), read("client-key.pem"))
	if err != nil || bob.Leaf.Subject.CommonName != "bob" {
		t.Fatalf("second client: %v %v", err, bob.Leaf)
	}
	if _, err := bob.Leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("second client not signed by the first CA: %v", err)
	}
	mustRun(t, "", "", "certs", "--out", dir, "--broker", "broker-1,broker-2", "--broker-cn", "brokers", "--client", "")
	{
		b := read("broker.keystore.pem")
		kp, err := tls.X509KeyPair(b, b)
		if err != nil || kp.Leaf.Subject.CommonName != "brokers" || !slices.Equal(kp.Leaf.DNSNames, []string{"broker-1", "broker-2"}) {
			t.Fatalf("--broker-cn brokers: %v, CN %q, SANs %v", err, kp.Leaf.Subject.CommonName, kp.Leaf.DNSNames)
		}
	}
	if r := run(t, "", "", "certs", "--days", "0", "--out", dir); r.code != exitUsage || !strings.Contains(r.stderr, "--days") {
		t.Fatalf("--days 0: exit %d, %s", r.code, r.stderr)
	}
}

// handshake runs a TLS handshake between server and client over a pipe.
func handshake(t *testing.T, server, client *tls.Config) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	errc := make(chan error, 1)
	go func() { errc <- tls.Server(a, server).HandshakeContext(context.Background()) }()
	if err := tls.Client(b, client).HandshakeContext(context.Background()); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
}
