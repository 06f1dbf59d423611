package tests

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
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

// TestConsoleEndpoint: `strom broker --http-addr` serves the web console
// beside /metrics, reading the broker through its own listener, read-only
// unless --console-write-enable; --console-enable=false leaves /metrics alone.
func TestConsoleEndpoint(t *testing.T) {
	b := startBroker(t, "--http-addr", "127.0.0.1:0")
	m := metricsAddrRe.FindStringSubmatch(b.Logs())
	if m == nil {
		t.Fatal("the broker did not log where it serves metrics")
	}
	base := "http://" + m[2]
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
	m = metricsAddrRe.FindStringSubmatch(off.Logs())
	if m == nil {
		t.Fatal("the broker did not log where it serves metrics")
	}
	if code, _ := httpGet(t, "http://"+m[2]+"/console/"); code != http.StatusNotFound {
		t.Errorf("console.enable=false: /console/ answered %d, want 404", code)
	}
}
