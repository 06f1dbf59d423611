// Package certs makes X.509 certificates for TLS: a development CA and the
// broker and client certificates it signs, as PEM in the layout Kafka's PEM
// keystores use (PKCS#8 private key followed by the certificate chain).
//
// It backs `strom certs` and the tests' in-memory certificates (each test
// run makes its own, so no private key is ever committed). It is a leaf
// package: standard library only, importing nothing of Strom's. The keys are
// ECDSA P-256, which every Kafka client's TLS stack accepts and which is
// quick to generate per test.
package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Authority is a certificate authority: its certificate and signing key.
type Authority struct {
	Cert    *x509.Certificate
	CertPEM []byte
	Key     crypto.Signer
	KeyPEM  []byte // PKCS#8, unencrypted
}

// Pair is a certificate signed by an Authority, with its private key.
type Pair struct {
	Cert    *x509.Certificate
	CertPEM []byte // the leaf followed by the issuing CA's certificate
	KeyPEM  []byte // PKCS#8, unencrypted
	TLS     tls.Certificate
}

// Options describe a certificate to issue.
type Options struct {
	// Subject is the certificate's subject; when it is empty, CommonName
	// alone.
	Subject    pkix.Name
	CommonName string
	// Hosts are the DNS names and IP addresses put in the subject
	// alternative names (what a client verifies a broker against).
	Hosts []string
	// Server and Client set the extended key usages; neither means both.
	Server, Client bool
	// Validity is how long the certificate is valid from an hour ago;
	// 0 means a year.
	Validity time.Duration
}

// NewCA makes a self-signed certificate authority named cn, valid for
// validity (0: ten years).
func NewCA(cn string, validity time.Duration) (*Authority, error) {
	if validity == 0 {
		validity = 10 * 365 * 24 * time.Hour
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl, err := template(pkix.Name{CommonName: cn}, validity)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("certs: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return &Authority{Cert: cert, CertPEM: encodeCert(der), Key: key, KeyPEM: keyPEM}, nil
}

// Issue makes a key pair and a certificate for it signed by a.
func (a *Authority) Issue(o Options) (*Pair, error) {
	subject := o.Subject
	if len(subject.Names) == 0 && subject.CommonName == "" && len(subject.Organization) == 0 {
		subject = pkix.Name{CommonName: o.CommonName}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	validity := o.Validity
	if validity == 0 {
		validity = 365 * 24 * time.Hour
	}
	tmpl, err := template(subject, validity)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	if o.Server || !o.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if o.Client || !o.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	for _, h := range o.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, key.Public(), a.Key)
	if err != nil {
		return nil, fmt.Errorf("certs: create certificate for %s: %w", subject, err)
	}
	return newPair(der, a, key)
}

// newPair assembles a Pair from a signed certificate and its key.
func newPair(der []byte, a *Authority, key *ecdsa.PrivateKey) (*Pair, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	chain := append(encodeCert(der), a.CertPEM...)
	tc, err := tls.X509KeyPair(chain, keyPEM)
	if err != nil {
		return nil, err
	}
	return &Pair{Cert: cert, CertPEM: chain, KeyPEM: keyPEM, TLS: tc}, nil
}

// KeystorePEM is the private key followed by the certificate chain: the
// content of a Kafka PEM keystore file (ssl.keystore.location with
// ssl.keystore.type=PEM).
func (p *Pair) KeystorePEM() []byte {
	return bytes.Join([][]byte{p.KeyPEM, p.CertPEM}, nil)
}

// Pool is a certificate pool holding only a's certificate, for tls.Config
// RootCAs or ClientCAs.
func (a *Authority) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.Cert)
	return p
}

func template(subject pkix.Name, validity time.Duration) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
	}, nil
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// LoadCA reads an Authority back from its PEM certificate and PKCS#8 key,
// so that more certificates can be signed by a CA made earlier.
func LoadCA(certPEM, keyPEM []byte) (*Authority, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, errors.New("certs: CA certificate: no PEM CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certs: CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("certs: %s is not a CA certificate", cert.Subject)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "PRIVATE KEY" {
		return nil, errors.New("certs: CA key: no PEM PRIVATE KEY (PKCS#8) block")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certs: CA key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("certs: CA key cannot sign")
	}
	return &Authority{Cert: cert, CertPEM: encodeCert(cb.Bytes), Key: signer, KeyPEM: pem.EncodeToMemory(kb)}, nil
}
