package tests

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/internal/certs"
)

// pki is a CA, a broker certificate for 127.0.0.1 and localhost and a
// client certificate, made in memory for one test and written as PEM files
// the way `strom certs` lays them out (no key is ever committed).
type pki struct {
	ca             *certs.Authority
	client         *certs.Pair
	caFile         string // ssl.truststore.location, clients' CA file
	keystore       string // ssl.keystore.location: key + chain
	clientCertFile string
	clientKeyFile  string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	ca, err := certs.NewCA("strom-tests-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	broker, err := ca.Issue(certs.Options{CommonName: "broker", Hosts: []string{"127.0.0.1", "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.Issue(certs.Options{Subject: pkix.Name{CommonName: "client", OrganizationalUnit: []string{"eng"}, Organization: []string{"acme"}}, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := &pki{ca: ca, client: client}
	for path, data := range map[*string][]byte{
		&p.caFile: ca.CertPEM, &p.keystore: broker.KeystorePEM(),
		&p.clientCertFile: client.CertPEM, &p.clientKeyFile: client.KeyPEM,
	} {
		f, err := os.CreateTemp(dir, "*.pem")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
		f.Close()
		*path = f.Name()
	}
	return p
}

// startSSLBroker starts a broker process whose only listener is SSL, with
// ssl.client.auth=clientAuth.
func startSSLBroker(t *testing.T, p *pki, clientAuth string) *broker {
	t.Helper()
	return startBroker(t, "--listen", "SSL://127.0.0.1:0",
		"--ssl-keystore-type", "PEM", "--ssl-keystore-location", p.keystore,
		"--ssl-truststore-location", p.caFile, "--ssl-client-auth", clientAuth)
}

// kcatSSL is the -X settings for kcat over SSL, with the client
// certificate when withCert.
func (p *pki) kcatSSL(withCert bool) []string {
	args := []string{"-X", "security.protocol=ssl", "-X", "ssl.ca.location=" + p.caFile}
	if withCert {
		args = append(args, "-X", "ssl.certificate.location="+p.clientCertFile, "-X", "ssl.key.location="+p.clientKeyFile)
	}
	return args
}

// pySSL is ssl_client.py's certificate flags.
func (p *pki) pySSL(withCert bool) []string {
	args := []string{"--ca", p.caFile}
	if withCert {
		args = append(args, "--cert", p.clientCertFile, "--key", p.clientKeyFile)
	}
	return args
}

// franzTLS is a franz-go dial option over TLS.
func (p *pki) franzTLS(withCert bool) kgo.Opt {
	cfg := &tls.Config{RootCAs: p.ca.Pool()}
	if withCert {
		cfg.Certificates = []tls.Certificate{p.client.TLS}
	}
	return kgo.DialTLSConfig(cfg)
}

// sslRoundTrips produces three records with each client to a topic of its
// own over the broker's SSL listener and consumes them back.
func sslRoundTrips(t *testing.T, b *broker, p *pki, withCert bool) {
	values := []string{"one", "two", "three"}
	t.Run("kcat", func(t *testing.T) {
		requireTool(t, "kcat")
		topic := "ssl-kcat"
		runTool(t, 60*time.Second, []byte(strings.Join(values, "\n")+"\n"), "kcat",
			append([]string{"-b", b.Addr(), "-t", topic, "-P"}, p.kcatSSL(withCert)...)...)
		out := runTool(t, 60*time.Second, nil, "kcat",
			append([]string{"-b", b.Addr(), "-t", topic, "-C", "-o", "beginning", "-e", "-f", "%s\n"}, p.kcatSSL(withCert)...)...)
		if got := strings.Fields(string(out)); !slices.Equal(got, values) {
			t.Fatalf("kcat consumed %q, want %q", got, values)
		}
	})
	for _, lib := range []string{"kafka-python", "confluent"} {
		t.Run(lib, func(t *testing.T) {
			requireTool(t, map[string]string{"kafka-python": "python:kafka", "confluent": "python:confluent_kafka"}[lib])
			topic := "ssl-" + lib
			runPython(t, 90*time.Second, "ssl_client.py", append([]string{lib, "produce", b.Addr(), topic}, append(values, p.pySSL(withCert)...)...)...)
			var got struct{ Values []string }
			decodeJSON(t, runPython(t, 90*time.Second, "ssl_client.py", append([]string{lib, "consume", b.Addr(), topic, "3"}, p.pySSL(withCert)...)...), &got)
			if !slices.Equal(got.Values, values) {
				t.Fatalf("%s consumed %q, want %q", lib, got.Values, values)
			}
		})
	}
	t.Run("franz-go", func(t *testing.T) {
		topic := "ssl-franz-go"
		cl := newKgo(t, b.Addr(), p.franzTLS(withCert), kgo.AllowAutoTopicCreation())
		ctx := testCtx(t, 30*time.Second)
		for _, v := range values {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		cons := newKgo(t, b.Addr(), p.franzTLS(withCert), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		var got []string
		for len(got) < len(values) {
			fs := cons.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("consumed %q: %v", got, err)
			}
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		}
		if !slices.Equal(got, values) {
			t.Fatalf("franz-go consumed %q, want %q", got, values)
		}
	})
}

// TestInteropSSL: kcat, kafka-python, confluent-kafka and franz-go produce
// and consume over an SSL listener (server certificate only).
func TestInteropSSL(t *testing.T) {
	p := newPKI(t)
	b := startSSLBroker(t, p, "none")
	sslRoundTrips(t, b, p, false)
}

// TestInteropMTLSRequired: with ssl.client.auth=required the same clients
// work when they present a certificate, and one without is refused.
func TestInteropMTLSRequired(t *testing.T) {
	p := newPKI(t)
	b := startSSLBroker(t, p, "required")
	sslRoundTrips(t, b, p, true)

	t.Run("kcat-without-certificate", func(t *testing.T) {
		requireTool(t, "kcat")
		ctx := testCtx(t, 60*time.Second)
		cmd := exec.CommandContext(ctx, "kcat", append([]string{"-b", b.Addr(), "-L", "-m", "5"}, p.kcatSSL(false)...)...)
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Fatalf("kcat without a client certificate listed metadata:\n%s", out)
		}
	})
	for _, lib := range []string{"kafka-python", "confluent"} {
		t.Run(lib+"-without-certificate", func(t *testing.T) {
			requireTool(t, map[string]string{"kafka-python": "python:kafka", "confluent": "python:confluent_kafka"}[lib])
			var got struct {
				OK    bool
				Error string
			}
			out := runTool(t, 60*time.Second, nil, pythonBin, append([]string{filepath.Join("python", "ssl_client.py"), lib, "probe", b.Addr()}, p.pySSL(false)...)...)
			if err := json.Unmarshal(out, &got); err != nil || got.OK {
				t.Fatalf("%s without a client certificate: %s (%v)", lib, out, err)
			}
		})
	}
	t.Run("franz-go-without-certificate", func(t *testing.T) {
		cl := newKgo(t, b.Addr(), p.franzTLS(false))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := cl.Ping(ctx); err == nil {
			t.Fatal("franz-go without a client certificate reached the broker")
		}
	})
	waitFor(t, 10*time.Second, "the broker logging the refused handshakes", func() error {
		if !strings.Contains(b.Logs(), "TLS handshake failed") {
			return fmt.Errorf("no %q in the broker log", "TLS handshake failed")
		}
		return nil
	})
}
