package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testPKI makes a CA and a server certificate for DNS name host, signed by
// it, and returns the CA PEM and the server's certificate and key PEM.
func testPKI(t *testing.T, host string) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	caCert, _ := x509.ParseCertificate(caDER)
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// dialTLSAgainst dials a TLS server presenting cert with the client config.
func dialTLSAgainst(t *testing.T, cert tls.Certificate, tc *tls.Config) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), tc)
	if err == nil {
		c.Close()
	}
	return err
}

func TestCommandConfigTLS(t *testing.T) {
	caPEM, certPEM, keyPEM := testPKI(t, "broker.example.invalid")
	dir := t.TempDir()
	caFile, keystore := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem")
	os.WriteFile(caFile, caPEM, 0o600)
	os.WriteFile(keystore, append(append([]byte{}, certPEM...), keyPEM...), 0o600)
	server, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}

	// Default: the broker's host name is checked; 127.0.0.1 is not in the
	// certificate, so the handshake fails.
	tc, err := tlsConfig(map[string]string{"ssl.truststore.location": caFile, "ssl.keystore.location": keystore})
	if err != nil {
		t.Fatal(err)
	}
	if len(tc.Certificates) != 1 {
		t.Fatalf("keystore not loaded")
	}
	if err := dialTLSAgainst(t, server, tc); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("host name not checked: %v", err)
	}
	// ssl.endpoint.identification.algorithm= (empty): the chain still is.
	tc, _ = tlsConfig(map[string]string{"ssl.truststore.certificates": string(caPEM), "ssl.endpoint.identification.algorithm": ""})
	if err := dialTLSAgainst(t, server, tc); err != nil {
		t.Fatalf("without host name check: %v", err)
	}
	otherCA, _, _ := testPKI(t, "x")
	tc, _ = tlsConfig(map[string]string{"ssl.truststore.certificates": string(otherCA), "ssl.endpoint.identification.algorithm": ""})
	if err := dialTLSAgainst(t, server, tc); err == nil {
		t.Fatal("a broker certificate from another CA was accepted")
	}
}
