package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/internal/cluster"
	"github.com/strombroker/strom/internal/console"
)

// serve starts a console for c's brokers on an httptest server, closed at
// test end.
func serve(t *testing.T, c *cluster.Cluster, write bool, seeds ...string) *httptest.Server {
	t.Helper()
	if len(seeds) == 0 {
		seeds = []string{c.Brokers[0].Addr()}
	}
	return serveWith(t, console.Config{Seeds: seeds, WriteEnable: write, MaxRecords: 50})
}

// serveWith starts a console configured by cfg on an httptest server.
func serveWith(t *testing.T, cfg console.Config) *httptest.Server {
	t.Helper()
	con, err := console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(con.Close)
	mux := http.NewServeMux()
	con.Register(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs
}

// get fetches path and returns status and body.
func get(t *testing.T, hs *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := hs.Client().Get(hs.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// oneBroker starts a one-broker cluster with topic "t" of two partitions.
func oneBroker(t *testing.T) *cluster.Cluster {
	t.Helper()
	c := cluster.New(t, 1)
	if _, err := c.Admin().CreateTopic(ctxFor(t, 20*time.Second), 2, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	return c
}

func produce(t *testing.T, c *cluster.Cluster, recs ...*kgo.Record) {
	t.Helper()
	cl := c.Client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	defer cl.Close()
	if err := cl.ProduceSync(ctxFor(t, 20*time.Second), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestConsoleEscapesHostileContent: record keys, values and headers, and a
// topic name in the URL, reach the page escaped; binary values as hex.
func TestConsoleEscapesHostileContent(t *testing.T) {
	c := oneBroker(t)
	hs := serve(t, c, false)
	produce(t, c, &kgo.Record{
		Topic: "t", Key: []byte(`<img src=x onerror=alert(1)>`), Value: []byte(`<script>alert("v")</script>`),
		Headers: []kgo.RecordHeader{{Key: `"><script>alert("h")</script>`, Value: []byte{0, 1, 2, '<', 0xff}}},
	}, &kgo.Record{Topic: "t", Value: []byte(`{"a":"<b>x</b>","n":[1,2]}`)})
	code, body := get(t, hs, "/console/browse?topic=t&partition=0&offset=0&n=5")
	if code != http.StatusOK {
		t.Fatalf("browse: %d\n%s", code, body)
	}
	for _, raw := range []string{`<script>alert(`, `<img src=x`, `"><script>`, `<b>x</b>`} {
		if strings.Contains(body, raw) {
			t.Errorf("page contains unescaped %q", raw)
		}
	}
	for _, want := range []string{`&lt;script&gt;alert(&#34;v&#34;)&lt;/script&gt;`, `&lt;img src=x onerror=alert(1)&gt;`, `00 01 02 3c ff`, "{\n  &#34;a&#34;: &#34;&lt;b&gt;x&lt;/b&gt;&#34;,\n  &#34;n&#34;: ["} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	code, body = get(t, hs, "/console/topics/"+url.PathEscape(`<script>alert(1)</script>`))
	if code != http.StatusBadRequest || strings.Contains(body, "<script>alert(1)") || !strings.Contains(body, "&lt;script&gt;") {
		t.Errorf("hostile topic path: %d, escaped=%v", code, !strings.Contains(body, "<script>alert(1)"))
	}
	code, body = get(t, hs, "/console/groups/"+url.PathEscape(`<script>g</script>`))
	if code != http.StatusNotFound || strings.Contains(body, "<script>g") {
		t.Errorf("hostile group path: %d\n%s", code, body)
	}
}

// TestConsoleBadParameters: malformed input is 400, missing things 404,
// never a 500.
func TestConsoleBadParameters(t *testing.T) {
	c := oneBroker(t)
	hs := serve(t, c, false)
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/console/browse?topic=t&partition=x", 400},
		{"/console/browse?topic=t&partition=-1", 400},
		{"/console/browse?topic=t&partition=99999999999", 400},
		{"/console/browse?topic=t&offset=abc", 400},
		{"/console/browse?topic=t&offset=-5", 400},
		{"/console/browse?topic=t&n=0", 400},
		{"/console/browse?topic=t&n=1000000", 400},
		{"/console/browse?topic=t&timestamp=yesterday", 400},
		{"/console/browse?topic=a%2Fb", 400},
		{"/console/browse?topic=" + strings.Repeat("x", 300), 400},
		{"/console/browse?topic=nosuch", 404},
		{"/console/browse?topic=t&partition=7", 404},
		{"/console/topics/nosuch", 404},
		{"/console/groups/nosuch", 404},
		{"/console/browse?topic=t&partition=1&offset=0", 200},
		{"/console/browse?topic=t&timestamp=2020-01-01T00:00:00Z", 200},
		{"/console/browse", 200},
	} {
		code, body := get(t, hs, tc.path)
		if code != tc.want {
			t.Errorf("%s: %d, want %d\n%s", tc.path, code, tc.want, body)
		}
	}
}

var tokenRe = regexp.MustCompile(`name="token" value="([0-9a-f]+)"`)

// postForm posts a produce form with the given origin (none if "").
func postForm(t *testing.T, hs *httptest.Server, origin string, form url.Values) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, hs.URL+"/console/produce", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// highWatermark is partition 0 of "t"'s high watermark.
func highWatermark(t *testing.T, c *cluster.Cluster) int64 {
	t.Helper()
	ends, err := c.Admin().ListEndOffsets(ctxFor(t, 10*time.Second), "t")
	if err != nil {
		t.Fatal(err)
	}
	o, _ := ends.Lookup("t", 0)
	return o.Offset
}

// TestConsoleWrites: a read-only console has no produce page and refuses
// the POST; a writable one wants its CSRF token and its own origin.
func TestConsoleWrites(t *testing.T) {
	c := oneBroker(t)
	ro, rw := serve(t, c, false), serve(t, c, true)
	if code, _ := get(t, ro, "/console/produce"); code != http.StatusNotFound {
		t.Errorf("read-only GET produce: %d, want 404", code)
	}
	if _, body := get(t, ro, "/console/"); strings.Contains(body, `href="/console/produce"`) {
		t.Error("read-only console links the produce page")
	}
	form := url.Values{"topic": {"t"}, "partition": {"0"}, "value": {"hello"}}
	if code := postForm(t, ro, "", form); code != http.StatusForbidden {
		t.Errorf("read-only POST: %d, want 403", code)
	}
	code, body := get(t, rw, "/console/produce")
	m := tokenRe.FindStringSubmatch(body)
	if code != http.StatusOK || m == nil {
		t.Fatalf("writable GET produce: %d, token found %v", code, m != nil)
	}
	if code := postForm(t, rw, "", form); code != http.StatusForbidden {
		t.Errorf("POST without token: %d, want 403", code)
	}
	form.Set("token", m[1])
	if code := postForm(t, rw, "http://evil.example", form); code != http.StatusForbidden {
		t.Errorf("cross-origin POST: %d, want 403", code)
	}
	if hw := highWatermark(t, c); hw != 0 {
		t.Fatalf("refused writes produced: high watermark %d", hw)
	}
	if code := postForm(t, rw, rw.URL, form); code != http.StatusSeeOther {
		t.Fatalf("same-origin POST with token: %d, want 303", code)
	}
	if hw := highWatermark(t, c); hw != 1 {
		t.Fatalf("after produce: high watermark %d, want 1", hw)
	}
	for _, tc := range []struct {
		topic, partition string
		want             int
	}{
		{"t", "nope", http.StatusBadRequest},
		{"t", "2", http.StatusBadRequest}, // t has partitions 0 and 1
		{"a/b", "0", http.StatusBadRequest},
		{"nosuch", "0", http.StatusNotFound}, // never auto-created
	} {
		form.Set("topic", tc.topic)
		form.Set("partition", tc.partition)
		if code := postForm(t, rw, rw.URL, form); code != tc.want {
			t.Errorf("produce to %s/%s: %d, want %d", tc.topic, tc.partition, code, tc.want)
		}
	}
	if tds, err := c.Admin().ListTopics(ctxFor(t, 10*time.Second), "nosuch"); err != nil || tds["nosuch"].Err == nil {
		t.Errorf("topic nosuch exists after a refused produce: %v", err)
	}
}
