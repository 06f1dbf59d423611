package tests

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// httpGet fetches url and returns status and body.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(raw)
}

// consoleBase returns the base URL of b's --http-addr once its console is
// up. The broker logs its Kafka listener, which is what startBroker waits
// for, a moment before it starts the console, which answers 503 ("the broker
// is starting") until then.
func consoleBase(t *testing.T, b *broker) string {
	t.Helper()
	m := metricsAddrRe.FindStringSubmatch(b.Logs())
	if m == nil {
		t.Fatal("the broker did not log where it serves metrics")
	}
	base := "http://" + m[2]
	waitFor(t, 10*time.Second, "the console to start", func() error {
		if code, body := httpGet(t, base+"/console/"); code == http.StatusServiceUnavailable {
			return fmt.Errorf("/console/ answered %d: %s", code, body)
		}
		return nil
	})
	return base
}

// TestConsoleEndpoint: `strom broker --http-addr` serves the web console
// beside /metrics, reading the broker through its own listener, read-only
// unless --console-write-enable; --console-enable=false leaves /metrics alone.
func TestConsoleEndpoint(t *testing.T) {
	b := startBroker(t, "--http-addr", "127.0.0.1:0")
	base := consoleBase(t, b)
	createTopic(t, b.Addr(), "console-proc", 1, nil)
	produceSync(t, b.Addr(), &kgo.Record{Topic: "console-proc", Key: []byte("k"), Value: []byte(`{"hello":"console"}`)})
	if code, body := httpGet(t, base+"/console/"); code != http.StatusOK || !strings.Contains(body, `class="broker alive"`) {
		t.Errorf("brokers page: %d\n%s", code, body)
	}
	if code, body := httpGet(t, base+"/console/topics/console-proc"); code != http.StatusOK || !strings.Contains(body, `<td class="hw">1</td>`) {
		t.Errorf("topic page: %d\n%s", code, body)
	}
	if code, body := httpGet(t, base+"/console/browse?topic=console-proc&offset=0"); code != http.StatusOK || !strings.Contains(body, "&#34;hello&#34;: &#34;console&#34;") {
		t.Errorf("browse: %d\n%s", code, body)
	}
	if code, _ := httpGet(t, base+"/console/produce"); code != http.StatusNotFound {
		t.Errorf("produce page of a read-only console: %d, want 404", code)
	}
	if code, _ := httpGet(t, base+"/metrics"); code != http.StatusOK {
		t.Errorf("/metrics beside the console: %d", code)
	}

	off := startBroker(t, "--http-addr", "127.0.0.1:0", "--console-enable=false")
	m := metricsAddrRe.FindStringSubmatch(off.Logs())
	if m == nil {
		t.Fatal("the broker did not log where it serves metrics")
	}
	if code, _ := httpGet(t, "http://"+m[2]+"/console/"); code != http.StatusNotFound {
		t.Errorf("console.enable=false: /console/ answered %d, want 404", code)
	}
}

// TestConsoleSASLClientConfig: on a SASL_PLAINTEXT listener the console
// reads the broker as the principal of console.client.config (here
// SCRAM-SHA-256 as scram-user, a user made in the metadata); without it the
// console can read nothing.
func TestConsoleSASLClientConfig(t *testing.T) {
	props := filepath.Join(t.TempDir(), "console.properties")
	if err := os.WriteFile(props, []byte("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-256\nsasl.username=scram-user\nsasl.password=scram-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"with console.client.config", []string{"--console-client-config", props}, http.StatusOK},
		{"without", nil, http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--listener-security-protocol-map", "PLAINTEXT:SASL_PLAINTEXT", "--sasl-jaas-config", saslBrokerJAAS, "--http-addr", "127.0.0.1:0"}, tc.args...)
			b := startBroker(t, args...)
			cl := newKgo(t, b.Addr(), kgo.SASL(plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism()))
			res, err := kadm.NewClient(cl).AlterUserSCRAMs(testCtx(t, 30*time.Second), nil, []kadm.UpsertSCRAM{
				{User: "scram-user", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "scram-secret"},
			})
			if err != nil || res.Error() != nil {
				t.Fatalf("create SCRAM user: %v %v", err, res.Error())
			}
			if code, body := httpGet(t, consoleBase(t, b)+"/console/"); code != tc.want {
				t.Errorf("brokers page: %d, want %d\n%s", code, tc.want, body)
			}
		})
	}
}
