package wire

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/certs"
)

// tlsFixture is a CA and the certificates the TLS tests use, made fresh
// for each test.
type tlsFixture struct {
	ca     *certs.Authority
	server *certs.Pair
	client *certs.Pair
}

func newTLSFixture(t testing.TB) *tlsFixture {
	t.Helper()
	ca, err := certs.NewCA("wire-test-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Issue(certs.Options{CommonName: "broker", Hosts: []string{"127.0.0.1", "localhost"}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := ca.Issue(certs.Options{CommonName: "client", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	return &tlsFixture{ca: ca, server: srv, client: cl}
}

// serverTLS is a server configuration asking for client certificates per auth.
func (f *tlsFixture) serverTLS(auth tls.ClientAuthType) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{f.server.TLS}, ClientCAs: f.ca.Pool(), ClientAuth: auth}
}

// dial connects a wire Client over TLS, presenting the client certificate
// when withCert.
func (f *tlsFixture) dial(addr string, withCert bool) (*Client, error) {
	c, _, err := f.dialLocal(addr, withCert)
	return c, err
}

// dialLocal is dial that also returns the client's local address (the
// remote in the server's log lines).
func (f *tlsFixture) dialLocal(addr string, withCert bool) (*Client, string, error) {
	cfg := &tls.Config{RootCAs: f.ca.Pool()}
	if withCert {
		cfg.Certificates = []tls.Certificate{f.client.TLS}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var local string
	raw := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, network, addr)
		if err == nil {
			local = nc.LocalAddr().String()
		}
		return nc, err
	}
	c, err := DialWith(ctx, TLSDial(raw, func() *tls.Config { return cfg }), addr, "tls-test")
	return c, local, err
}

// apiVersionsOver sends one ApiVersions request over c.
func apiVersionsOver(c *Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_, err := c.Request(ctx, kmsg.NewPtrApiVersionsRequest())
	return err
}

// cnPrincipal is a PrincipalFromCert for tests: User:<common name>.
func cnPrincipal(cert *x509.Certificate) (Principal, error) {
	return Principal{Type: "User", Name: cert.Subject.CommonName}, nil
}

func TestTLSClientAuth(t *testing.T) {
	f := newTLSFixture(t)
	cases := []struct {
		name     string
		auth     tls.ClientAuthType
		withCert bool
		ok       bool
		want     Principal
	}{
		{"none/no-cert", tls.NoClientCert, false, true, Anonymous},
		{"none/cert-not-asked", tls.NoClientCert, true, true, Anonymous},
		{"requested/no-cert", tls.VerifyClientCertIfGiven, false, true, Anonymous},
		{"requested/cert", tls.VerifyClientCertIfGiven, true, true, Principal{"User", "client"}},
		{"required/no-cert", tls.RequireAndVerifyClientCert, false, false, Principal{}},
		{"required/cert", tls.RequireAndVerifyClientCert, true, true, Principal{"User", "client"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Config{TLS: f.serverTLS(tc.auth), PrincipalFromCert: cnPrincipal, SecurityProtocol: ProtocolSSL})
			c, local, err := f.dialLocal(ts.addr, tc.withCert)
			if err == nil {
				defer c.Close()
				err = apiVersionsOver(c) // TLS 1.3 reports a refused client certificate on first read
			}
			if !tc.ok {
				if err == nil {
					t.Fatal("a client without a certificate was served under ssl.client.auth=required")
				}
				ts.logs.waitFor(t, local, "TLS handshake failed")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			seen := ts.h.requests()
			if len(seen) != 1 {
				t.Fatalf("%d requests", len(seen))
			}
			if got := seen[0].Conn.Principal(); got != tc.want {
				t.Fatalf("principal %v, want %v", got, tc.want)
			}
			if got := seen[0].Conn.SecurityProtocol; got != ProtocolSSL {
				t.Fatalf("security protocol %q", got)
			}
		})
	}
}

func TestTLSPrincipalMappingErrorClosesConnection(t *testing.T) {
	f := newTLSFixture(t)
	refuse := func(*x509.Certificate) (Principal, error) { return Principal{}, errors.New("no rule matches") }
	ts := startServer(t, Config{TLS: f.serverTLS(tls.RequireAndVerifyClientCert), PrincipalFromCert: refuse})
	c, local, err := f.dialLocal(ts.addr, true)
	if err == nil {
		defer c.Close()
		err = apiVersionsOver(c)
	}
	if err == nil {
		t.Fatal("served a client whose certificate maps to no principal")
	}
	ts.logs.waitFor(t, local, "TLS handshake failed", "no rule matches")
	if n := len(ts.h.requests()); n != 0 {
		t.Fatalf("handler saw %d requests", n)
	}
}

// TestTLSSilentClientTimesOut: a client that connects and never starts the
// handshake is disconnected after TLSHandshakeTimeout, and meanwhile other
// clients are accepted and served.
func TestTLSSilentClientTimesOut(t *testing.T) {
	f := newTLSFixture(t)
	ts := startServer(t, Config{TLS: f.serverTLS(tls.NoClientCert), TLSHandshakeTimeout: 300 * time.Millisecond})
	silent := dialRaw(t, ts.addr)
	c, err := f.dial(ts.addr, false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := apiVersionsOver(c); err != nil {
		t.Fatalf("a silent client stalled another: %v", err)
	}
	silent.expectClosed()
	ts.logs.waitFor(t, silent.local(), "TLS handshake failed")
}

// TestTLSGarbageClosesOnlyThatConnection: plaintext Kafka or random bytes
// instead of a ClientHello end that connection only.
func TestTLSGarbageClosesOnlyThatConnection(t *testing.T) {
	f := newTLSFixture(t)
	ts := startServer(t, Config{TLS: f.serverTLS(tls.NoClientCert)})
	c, err := f.dial(ts.addr, false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, garbage := range [][]byte{
		appendRequest(nil, 1, "plaintext-client", kmsg.NewPtrApiVersionsRequest()),
		bytes.Repeat([]byte{0x16, 0x03, 0x01, 0xff, 0xff}, 100),
		[]byte("GET / HTTP/1.0\r\n\r\n"),
	} {
		bad := dialRaw(t, ts.addr)
		bad.write(garbage)
		bad.expectClosed()
		ts.logs.waitFor(t, bad.local(), "TLS handshake failed")
		if err := apiVersionsOver(c); err != nil {
			t.Fatalf("established TLS connection broken by another's garbage: %v", err)
		}
	}
}

// TestTLSFetchSplicedFileRanges: a Fetch whose records come from a file
// (sendfile on plaintext) is copied through TLS and arrives intact.
func TestTLSFetchSplicedFileRanges(t *testing.T) {
	f := newTLSFixture(t)
	content := make([]byte, 3<<20)
	for i := range content {
		content[i] = byte(i * 7 / 3)
	}
	path := filepath.Join(t.TempDir(), "00000000000000000000.log")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	h := &spliceHandler{path: path, ranges: [][2]int64{{5, 2 << 20}, {(2 << 20) + 100, 17}}}
	ts := startServer(t, Config{Handler: h, TLS: f.serverTLS(tls.NoClientCert)})
	c, err := f.dial(ts.addr, false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, version := range []int16{4, 12} {
		req := kmsg.NewPtrFetchRequest()
		req.Version = version
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		kresp, err := c.Request(ctx, req)
		cancel()
		if err != nil {
			t.Fatalf("v%d: %v", version, err)
		}
		parts := kresp.(*kmsg.FetchResponse).Topics[0].Partitions
		for i, r := range h.ranges {
			if got, want := parts[2*i].RecordBatches, content[r[0]:r[0]+r[1]]; !bytes.Equal(got, want) {
				t.Fatalf("v%d partition %d: %d bytes differ from the file's %d", version, 2*i, len(got), len(want))
			}
		}
	}
}

// TestTLSDialVerifiesServerName: the client checks the broker's certificate
// against the address it dials.
func TestTLSDialVerifiesServerName(t *testing.T) {
	f := newTLSFixture(t)
	other, err := f.ca.Issue(certs.Options{CommonName: "elsewhere", Hosts: []string{"broker.example"}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{TLS: &tls.Config{Certificates: []tls.Certificate{other.TLS}}})
	if c, err := f.dial(ts.addr, false); err == nil {
		c.Close()
		t.Fatal("dialled 127.0.0.1 and accepted a certificate for broker.example")
	}
}
