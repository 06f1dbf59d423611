package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/certs"
	"github.com/strombroker/strom/wire"
)

// testPKI is a CA with a broker certificate for 127.0.0.1 and a client
// certificate, made per test.
type testPKI struct {
	ca             *certs.Authority
	broker, client *certs.Pair
	dir            string
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	ca, err := certs.NewCA("strom-test-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{ca: ca, dir: t.TempDir()}
	if p.broker, err = ca.Issue(certs.Options{CommonName: "broker", Hosts: []string{"127.0.0.1", "localhost"}}); err != nil {
		t.Fatal(err)
	}
	sub := pkix.Name{CommonName: "client", OrganizationalUnit: []string{"eng"}, Organization: []string{"acme"}}
	if p.client, err = ca.Issue(certs.Options{Subject: sub, Client: true}); err != nil {
		t.Fatal(err)
	}
	return p
}

// write writes b to name in the PKI's directory and returns the path.
func (p *testPKI) write(t testing.TB, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sslConfig makes c's only listener SSL with the PKI's broker keystore and
// CA truststore files.
func (p *testPKI) sslConfig(t testing.TB, c *Config, clientAuth string) {
	c.Listeners = []Listener{{Name: "SSL", Host: "127.0.0.1", Port: 0}}
	c.SSL = TLSSettings{
		KeystoreType:       "PEM",
		KeystoreLocation:   p.write(t, "broker.keystore.pem", p.broker.KeystorePEM()),
		TruststoreLocation: p.write(t, "ca.pem", p.ca.CertPEM),
		ClientAuth:         clientAuth,
	}
}

// clientTLS is a client configuration trusting the CA, with the client
// certificate when withCert.
func (p *testPKI) clientTLS(withCert bool) *tls.Config {
	cfg := &tls.Config{RootCAs: p.ca.Pool()}
	if withCert {
		cfg.Certificates = []tls.Certificate{p.client.TLS}
	}
	return cfg
}

func TestTLSConfigValidate(t *testing.T) {
	base := func() Config {
		c := DefaultConfig()
		c.Listeners = []Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 0}, {Name: "EXTERNAL", Host: "127.0.0.1", Port: 0}}
		c.ListenerSecurityProtocols = map[string]string{"PLAINTEXT": "PLAINTEXT", "EXTERNAL": "SSL"}
		c.SSL.KeystoreLocation = "/etc/strom/broker.pem"
		return c
	}
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string // "" = valid
	}{
		{"valid", func(*Config) {}, ""},
		{"no keystore", func(c *Config) { c.SSL.KeystoreLocation = "" }, "ssl.keystore.location"},
		{"jks", func(c *Config) { c.SSL.KeystoreType = "JKS" }, "ssl.keystore.type=JKS is not supported"},
		{"pkcs12 truststore", func(c *Config) { c.SSL.TruststoreType = "PKCS12" }, "ssl.truststore.type=PKCS12"},
		{"chain without key", func(c *Config) { c.SSL.KeystoreLocation, c.SSL.KeystoreCertificateChain = "", "x" }, "go together"},
		{"required without truststore", func(c *Config) { c.SSL.ClientAuth = "required" }, "ssl.truststore.location"},
		{"bad client auth", func(c *Config) { c.SSL.ClientAuth = "always" }, "ssl.client.auth=always"},
		{"bad rules", func(c *Config) { c.SSL.PrincipalMappingRules = "default" }, "ssl.principal.mapping.rules"},
		{"tls 1.1", func(c *Config) { c.SSL.EnabledProtocols = "TLSv1.1,TLSv1.2" }, "TLSv1.1"},
		{"bad cipher", func(c *Config) { c.SSL.CipherSuites = "TLS_RSA_WITH_RC4_128_SHA" }, "ssl.cipher.suites"},
		{"listener override", func(c *Config) {
			c.SSL.KeystoreLocation = ""
			if !c.SetListenerSSL("listener.name.external.ssl.keystore.location", "/etc/strom/ext.pem") {
				t.Fatal("listener.name.external.ssl.keystore.location not taken")
			}
		}, ""},
		{"override of unknown listener", func(c *Config) { c.SetListenerSSL("listener.name.internal.ssl.client.auth", "required") }, "no listener INTERNAL"},
		{"plaintext only needs nothing", func(c *Config) {
			c.SSL.KeystoreLocation = ""
			c.ListenerSecurityProtocols["EXTERNAL"] = "SASL_PLAINTEXT"
		}, ""},
		{"sasl_ssl needs a keystore", func(c *Config) {
			c.SSL.KeystoreLocation = ""
			c.ListenerSecurityProtocols["EXTERNAL"] = "SASL_SSL"
		}, "the EXTERNAL listener needs a keystore"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.mutate(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if c := base(); c.SetListenerSSL("listener.name.external.sasl.enabled.mechanisms", "PLAIN") {
		t.Fatal("SetListenerSSL took a non-ssl key")
	}
}

func TestTLSEncryptedKeyRefusedAtStart(t *testing.T) {
	p := newTestPKI(t)
	c := testConfig(t)
	p.sslConfig(t, &c, "none")
	enc := "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n"
	c.SSL.KeystoreLocation = p.write(t, "enc.pem", append([]byte(enc), p.broker.CertPEM...))
	c.SSL.KeyPassword = "secret"
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Start(testCtx(t, 30*time.Second)); !errors.Is(err, ErrEncryptedKey) {
		t.Fatalf("Start: %v, want ErrEncryptedKey", err)
	}
}

// TestTLSBrokerFranzGo: franz-go produces and consumes over an mTLS
// listener; a client without a certificate gets nowhere.
func TestTLSBrokerFranzGo(t *testing.T) {
	p := newTestPKI(t)
	_, addr := startTestServer(t, func(c *Config) { p.sslConfig(t, c, "required") })
	cl := newClient(t, addr, kgo.DialTLSConfig(p.clientTLS(true)), kgo.AllowAutoTopicCreation())
	ctx := testCtx(t, 30*time.Second)
	rec := &kgo.Record{Topic: "tls", Value: []byte("over TLS")}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	consumer := newClient(t, addr, kgo.DialTLSConfig(p.clientTLS(true)), kgo.ConsumeTopics("tls"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fs := consumer.PollRecords(ctx, 1)
	if err := fs.Err0(); err != nil {
		t.Fatal(err)
	}
	if recs := fs.Records(); len(recs) != 1 || string(recs[0].Value) != "over TLS" {
		t.Fatalf("consumed %v", recs)
	}

	anon := newClient(t, addr, kgo.DialTLSConfig(p.clientTLS(false)))
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := anon.Ping(short); err == nil {
		t.Fatal("a client without a certificate reached an ssl.client.auth=required listener")
	}
}

// TestTLSPrincipalFromBrokerListener: an SSL listener's connections carry
// the certificate subject mapped by ssl.principal.mapping.rules.
func TestTLSPrincipalFromBrokerListener(t *testing.T) {
	p := newTestPKI(t)
	c := testConfig(t)
	p.sslConfig(t, &c, "requested")
	c.SSL.PrincipalMappingRules = "RULE:^CN=(.*?),OU=(.*?),O=.*$/$1@$2/U,DEFAULT"
	c.TLSReloadInterval = -1 // no reloader: this Server is not started
	srv := &Server{cfg: c, logger: slog.New(slog.DiscardHandler)}
	if err := srv.startTLS(); err != nil {
		t.Fatal(err)
	}
	tlsCfg, mapFn := srv.listenerTLS("SSL")
	var mu sync.Mutex
	var got []wire.Principal
	h := wire.HandlerFunc(func(_ context.Context, req *wire.Request) (kmsg.Response, error) {
		mu.Lock()
		got = append(got, req.Conn.Principal())
		mu.Unlock()
		return kmsg.NewPtrApiVersionsResponse(), nil
	})
	addr := serveWire(t, wire.Config{Handler: h, TLS: tlsCfg, PrincipalFromCert: mapFn})
	for _, withCert := range []bool{true, false} {
		cl, err := wire.DialWith(testCtx(t, 10*time.Second), wire.TLSDial(nil, func() *tls.Config { return p.clientTLS(withCert) }), addr, "t")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Request(testCtx(t, 10*time.Second), kmsg.NewPtrApiVersionsRequest()); err != nil {
			t.Fatal(err)
		}
		cl.Close()
	}
	want := []wire.Principal{{Type: "User", Name: "CLIENT@ENG"}, wire.Anonymous}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("principals %v, want %v", got, want)
	}
}

// serveWire runs a wire server on 127.0.0.1:0 until the test ends.
func serveWire(t *testing.T, cfg wire.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ws := wire.NewServer(cfg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ws.Serve(ln)
	}()
	t.Cleanup(func() {
		ws.Close()
		<-done
	})
	return ln.Addr().String()
}

// TestTLSReload: new keystore and truststore files reach new connections
// without a restart; a broken file is logged and the old certificates kept.
func TestTLSReload(t *testing.T) {
	p := newTestPKI(t)
	c := testConfig(t)
	p.sslConfig(t, &c, "required")
	logs := &syncBuffer{}
	src, err := newTLSSource("SSL", c.SSL, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	h := wire.HandlerFunc(func(context.Context, *wire.Request) (kmsg.Response, error) {
		return kmsg.NewPtrApiVersionsResponse(), nil
	})
	addr := serveWire(t, wire.Config{Handler: h, TLS: src.serverConfig()})

	// A second CA's client, refused until the truststore holds its CA.
	ca2, err := certs.NewCA("second-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	client2, err := ca2.Issue(certs.Options{CommonName: "client2", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	dial := func(cert tls.Certificate) (*x509Serial, error) { return handshakeSerial(t, addr, p, cert) }
	first, err := dial(p.client.TLS)
	if err != nil || first.serial != p.broker.Cert.SerialNumber.String() {
		t.Fatalf("first handshake: %v, %v", first, err)
	}
	if _, err := dial(client2.TLS); err == nil {
		t.Fatal("a client of an untrusted CA was accepted")
	}

	renewed, err := p.ca.Issue(certs.Options{CommonName: "broker", Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	p.write(t, "broker.keystore.pem", renewed.KeystorePEM())
	p.write(t, "ca.pem", append(append([]byte(nil), p.ca.CertPEM...), ca2.CertPEM...))
	src.reload()
	if got, err := dial(client2.TLS); err != nil || got.serial != renewed.Cert.SerialNumber.String() {
		t.Fatalf("after reload: %v, %v; want the renewed certificate and the second CA trusted", got, err)
	}

	p.write(t, "broker.keystore.pem", []byte("-----BEGIN PRIVATE KEY-----\ngarbage\n"))
	src.reload()
	if got, err := dial(p.client.TLS); err != nil || got.serial != renewed.Cert.SerialNumber.String() {
		t.Fatalf("after a broken file: %v, %v; want the renewed certificate kept", got, err)
	}
	if !strings.Contains(logs.String(), "new TLS files rejected") {
		t.Fatalf("broken file not logged:\n%s", logs.String())
	}
}

// x509Serial is the serial number of the certificate a broker presented.
type x509Serial struct{ serial string }

// handshakeSerial completes a TLS handshake and one request with addr as a
// client presenting cert, returning the broker certificate's serial.
func handshakeSerial(t *testing.T, addr string, p *testPKI, cert tls.Certificate) (*x509Serial, error) {
	t.Helper()
	var serial string
	cfg := &tls.Config{RootCAs: p.ca.Pool(), Certificates: []tls.Certificate{cert}, ServerName: "127.0.0.1",
		VerifyConnection: func(cs tls.ConnectionState) error {
			serial = cs.PeerCertificates[0].SerialNumber.String()
			return nil
		}}
	cl, err := wire.DialWith(testCtx(t, 10*time.Second), wire.TLSDial(nil, func() *tls.Config { return cfg }), addr, "t")
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	if _, err := cl.Request(testCtx(t, 10*time.Second), kmsg.NewPtrApiVersionsRequest()); err != nil {
		return nil, err // TLS 1.3 reports a refused client certificate here
	}
	return &x509Serial{serial}, nil
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestTLSBrokerReloadsAndPerListenerKeystore: a running broker picks up a
// renewed keystore file on its own (ssl.reload.interval.ms), and a listener
// with listener.name.<name>.ssl.keystore.location presents its own
// certificate.
func TestTLSBrokerReloadsAndPerListenerKeystore(t *testing.T) {
	p := newTestPKI(t)
	external, err := p.ca.Issue(certs.Options{CommonName: "external", Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := startTestServer(t, func(c *Config) {
		p.sslConfig(t, c, "none")
		c.Listeners = append(c.Listeners, Listener{Name: "EXTERNAL", Host: "127.0.0.1", Port: 0})
		c.ListenerSecurityProtocols = map[string]string{"EXTERNAL": "SSL"}
		c.SetListenerSSL("listener.name.external.ssl.keystore.location", p.write(t, "external.pem", external.KeystorePEM()))
		c.TLSReloadInterval = 20 * time.Millisecond
	})
	sslAddr, extAddr := srv.Addrs()[0], srv.Addrs()[1]
	serial := func(addr string) string {
		t.Helper()
		got, err := handshakeSerial(t, addr, p, p.client.TLS)
		if err != nil {
			t.Fatal(err)
		}
		return got.serial
	}
	if got := serial(extAddr); got != external.Cert.SerialNumber.String() {
		t.Fatalf("EXTERNAL presents serial %s, want its own keystore's %s", got, external.Cert.SerialNumber)
	}
	if got := serial(sslAddr); got != p.broker.Cert.SerialNumber.String() {
		t.Fatalf("SSL presents serial %s, want %s", got, p.broker.Cert.SerialNumber)
	}

	renewed, err := p.ca.Issue(certs.Options{CommonName: "broker", Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	p.write(t, "broker.keystore.pem", renewed.KeystorePEM())
	deadline := time.Now().Add(10 * time.Second)
	for serial(sslAddr) != renewed.Cert.SerialNumber.String() {
		if time.Now().After(deadline) {
			t.Fatal("the broker did not pick up the renewed keystore file")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := serial(extAddr); got != external.Cert.SerialNumber.String() {
		t.Fatalf("EXTERNAL changed to serial %s", got)
	}
}

// TestTLSEndpointIdentification: followers check the leader's certificate
// against the address they dial unless ssl.endpoint.identification.algorithm
// is set empty, and the chain is verified either way.
func TestTLSEndpointIdentification(t *testing.T) {
	p := newTestPKI(t)
	elsewhere, err := p.ca.Issue(certs.Options{CommonName: "elsewhere", Hosts: []string{"broker.example"}})
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := certs.NewCA("stranger", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := stranger.Issue(certs.Options{CommonName: "foreign", Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	h := wire.HandlerFunc(func(context.Context, *wire.Request) (kmsg.Response, error) {
		return kmsg.NewPtrApiVersionsResponse(), nil
	})
	misnamed := serveWire(t, wire.Config{Handler: h, TLS: &tls.Config{Certificates: []tls.Certificate{elsewhere.TLS}}})
	untrusted := serveWire(t, wire.Config{Handler: h, TLS: &tls.Config{Certificates: []tls.Certificate{foreign.TLS}}})

	c := testConfig(t)
	p.sslConfig(t, &c, "none")
	for _, tc := range []struct {
		setting   *string // nil: not set
		misnamed  bool    // dialing the misnamed broker succeeds
		untrusted bool
	}{
		{nil, false, false},
		{ptr("https"), false, false},
		{ptr(""), true, false},
	} {
		st := c.SSL
		if tc.setting != nil {
			st.Set("ssl.endpoint.identification.algorithm", *tc.setting)
		}
		if err := st.validate("SSL"); err != nil {
			t.Fatal(err)
		}
		src, err := newTLSSource("SSL", st, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		dial := wire.TLSDial(nil, src.clientConfig)
		for addr, want := range map[string]bool{misnamed: tc.misnamed, untrusted: tc.untrusted} {
			nc, err := dial(testCtx(t, 10*time.Second), "tcp", addr)
			if err == nil {
				nc.Close()
			}
			if (err == nil) != want {
				t.Errorf("setting %v, dial %s: err %v, want success %v", tc.setting, addr, err, want)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }
