package console_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/internal/cluster"
	"github.com/strombroker/strom/internal/server"
)

// chromium finds Debian's chromium: skipped locally when it is missing,
// a failure under CI=true (.ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium is needed by this test and is not installed; install it with: apt-get install chromium"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("SKIPPED: " + msg)
	return ""
}

// shotDir is where screenshots go: $STROM_CONSOLE_SHOTS (or its older
// name $STROM_CONSOLE_SCREENSHOTS), or a new temp directory that outlives
// the test so that its files can be looked at.
func shotDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("STROM_CONSOLE_SHOTS")
	if d == "" {
		d = os.Getenv("STROM_CONSOLE_SCREENSHOTS")
	}
	if d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	d, err := os.MkdirTemp("", "strom-console-screenshots-")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// browser starts headless chromium for the test.
func browser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless, chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	ctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	t.Cleanup(func() { cancel(); cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// do runs browser steps, failing the test with what on error.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// text is the visible text of the first element matching a CSS selector.
func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("text of %s: %v", css, err)
	}
	return v
}

// shooter saves full-page PNG screenshots into dir and logs their paths.
type shooter struct {
	t     *testing.T
	dir   string
	paths []string
}

func (s *shooter) shot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, tgt)
		if err != nil {
			return err
		}
		p := filepath.Join(s.dir, name+".png")
		s.paths = append(s.paths, p)
		return os.WriteFile(p, png, 0o644)
	})
}

// consoleFixture is a 3-broker cluster (racks rack-a, rack-b, rack-c) with a console on each broker, a
// replicated topic "orders" holding 30 JSON records, a topic "load" for
// the throughput chart and a consumer group
// "billing" whose single member has committed only each partition's first
// record.
type consoleFixture struct {
	c        *cluster.Cluster
	consoles []*httptest.Server
	lag      int64 // the group's total lag
}

func newConsoleFixture(t *testing.T) *consoleFixture {
	t.Helper()
	c := cluster.New(t, 3, func(cfg *server.Config) { cfg.Rack = fmt.Sprintf("rack-%c", 'a'+cfg.NodeID-1) })
	f := &consoleFixture{c: c}
	for _, b := range c.Brokers {
		f.consoles = append(f.consoles, serve(t, c, true, b.Addr()))
	}
	for topic, parts := range map[string]int32{"orders": 3, "load": 1} {
		// kadm retries a create that met a controller change; the retry
		// may find the topic its first attempt made.
		if _, err := c.Admin().CreateTopic(ctxFor(t, 30*time.Second), parts, 3, nil, topic); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			t.Fatal(err)
		}
	}
	var recs []*kgo.Record
	for i := range 30 {
		recs = append(recs, &kgo.Record{Topic: "orders", Partition: int32(i % 3), Key: fmt.Appendf(nil, "order-%02d", i),
			Value:   fmt.Appendf(nil, `{"order":%d,"item":"widget","qty":%d}`, i, i%4+1),
			Headers: []kgo.RecordHeader{{Key: "source", Value: []byte("console-test")}}})
	}
	produce(t, c, recs...)
	f.lag = 30 - 3
	f.joinGroup(t)
	// A broker learns the controller (Raft leader) from Raft, a moment
	// after the others; the pages show each broker's own view.
	c.WaitFor("every broker knows the controller", 30*time.Second, func() bool {
		for _, b := range c.Brokers {
			if b.Srv.Metadata().ControllerID <= 0 {
				return false
			}
		}
		return true
	})
	c.WaitFor("full ISR on orders", 30*time.Second, func() bool {
		tds, err := c.Admin().ListTopics(ctxFor(t, 5*time.Second), "orders")
		if err != nil {
			return false
		}
		for _, p := range tds["orders"].Partitions {
			if len(p.ISR) != 3 {
				return false
			}
		}
		return true
	})
	return f
}

// joinGroup runs a member of group "billing" that reads all 30 records but
// commits only the first of each partition, so the group lags by 27.
func (f *consoleFixture) joinGroup(t *testing.T) {
	t.Helper()
	cl := f.c.Client(kgo.ConsumerGroup("billing"), kgo.ConsumeTopics("orders"), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	t.Cleanup(cl.Close)
	ctx := ctxFor(t, 60*time.Second)
	first := map[int32]*kgo.Record{}
	for n := 0; n < 30; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumer read %d of 30 records: %v", n, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if first[r.Partition] == nil {
				first[r.Partition] = r
			}
		})
	}
	var commit []*kgo.Record
	for _, r := range first {
		commit = append(commit, r)
	}
	if err := cl.CommitRecords(ctx, commit...); err != nil {
		t.Fatal(err)
	}
}

// TestConsoleBrowser drives the console in headless chromium: the brokers
// page (on every broker) shows 3 brokers and a controller, the topic page
// partitions with their ISR, the group page lag, the message browser a
// record found by offset, the produce form adds a record, and a stopped
// broker shows as fenced.
func TestConsoleBrowser(t *testing.T) {
	path := chromium(t)
	f := newConsoleFixture(t)
	ctx := browser(t, path)
	s := &shooter{t: t, dir: shotDir(t)}
	t.Cleanup(func() { t.Logf("screenshots: %s", strings.Join(s.paths, " ")) })
	f.checkBrokers(t, ctx, s)
	f.checkTopic(t, ctx, s)
	f.checkGroup(t, ctx, s)
	f.checkBrowse(t, ctx, s)
	f.checkProduce(t, ctx, s)
	f.checkFenced(t, ctx, s)
	f.checkReassigning(t, ctx, s)
}
