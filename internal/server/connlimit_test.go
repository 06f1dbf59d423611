//go:build unix

package server

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// raiseNoFile makes room for n more descriptors in this process (the test's
// client sockets and the broker's accepted ones), or skips the test (fails
// it under CI=true) when the hard limit forbids it.
func raiseNoFile(t *testing.T, n uint64) {
	t.Helper()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Cur >= n {
		return
	}
	old := rl
	rl.Cur = min(n, rl.Max)
	if rl.Cur < n || syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl) != nil {
		msg := "cannot raise RLIMIT_NOFILE to the descriptors this test needs"
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (%d, hard limit %d)", msg, n, rl.Max)
		}
		t.Skipf("%s (%d, hard limit %d)", msg, n, rl.Max)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// produceN produces n records to topic through cl, one at a time.
func produceN(t *testing.T, cl *kgo.Client, topic string, n int) {
	t.Helper()
	ctx := testCtx(t, 20*time.Second)
	for i := range n {
		r := &kgo.Record{Topic: topic, Value: []byte{byte(i)}}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
}

// TestManyIdleConnectionsDoNotStopClients opens 10 000 idle connections
// against a broker with max.connections=1000: all but the first ~1000 are
// closed at once, the broker keeps at most 1000, and a client connected
// before the flood goes on producing and consuming throughout.
func TestManyIdleConnectionsDoNotStopClients(t *testing.T) {
	const flood, limit = 10000, 1000
	raiseNoFile(t, flood+limit+1000)
	s, addr := startTestServer(t, func(c *Config) {
		c.MaxConnections = limit
		c.AutoCreateTopics = true
	})
	topic := "flood"
	cl := newClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AllowAutoTopicCreation())
	produceN(t, cl, topic, 1)
	consumeN(t, cl, 1)

	conns := dialFlood(t, addr, flood)
	if n := s.wires[0].NumConns(); n > limit {
		t.Fatalf("broker holds %d connections, max.connections is %d", n, limit)
	}
	closed := countClosed(conns)
	if closed < flood-limit {
		t.Fatalf("%d of %d flood connections closed by the broker, want >= %d", closed, flood, flood-limit)
	}
	t.Logf("flood: %d of %d connections refused, broker holds %d", closed, flood, s.wires[0].NumConns())

	produceN(t, cl, topic, 50)
	consumeN(t, cl, 50)

	for _, c := range conns {
		c.Close()
	}
	waitUntil(t, 10*time.Second, "flood connections to be released", func() bool { return s.wires[0].NumConns() < limit/2 })
	fresh := newClient(t, addr)
	if err := fresh.Ping(testCtx(t, 10*time.Second)); err != nil {
		t.Fatalf("a new client after the flood: %v", err)
	}
}

// consumeN polls cl until it has n more records.
func consumeN(t *testing.T, cl *kgo.Client, n int) {
	t.Helper()
	ctx := testCtx(t, 20*time.Second)
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", got, n, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch error: %v", err) })
		got += fs.NumRecords()
	}
}

// dialFlood opens n TCP connections to addr that never send a byte.
func dialFlood(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				c, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err != nil {
					failed.Store(err)
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("dialing the flood: %v", err)
	}
	return conns
}

// countClosed reports how many of conns the peer has closed: a read ends in
// EOF or a reset instead of timing out.
func countClosed(conns []net.Conn) int {
	var closed atomic.Int64
	var wg sync.WaitGroup
	ch := make(chan net.Conn)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b [1]byte
			for c := range ch {
				c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				if _, err := c.Read(b[:]); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
					closed.Add(1)
				}
				c.SetReadDeadline(time.Time{})
			}
		}()
	}
	for _, c := range conns {
		ch <- c
	}
	close(ch)
	wg.Wait()
	return int(closed.Load())
}

// TestIdleConnectionClosedByBroker checks connections.max.idle.ms on a real
// broker: a client connection left alone is closed after the idle limit.
func TestIdleConnectionClosedByBroker(t *testing.T) {
	s, addr := startTestServer(t, func(c *Config) { c.ConnectionsMaxIdle = 200 * time.Millisecond })
	if n := s.wires[0].NumConns(); n != 0 {
		t.Fatalf("%d connections before the test dialled", n)
	}
	raw := dialRaw(t, addr)
	if _, err := raw.Request(testCtx(t, 5*time.Second), kmsg.NewPtrApiVersionsRequest()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitUntil(t, 5*time.Second, "the idle connection to be closed", func() bool { return s.wires[0].NumConns() == 0 })
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("closed after %v, before connections.max.idle.ms", d)
	}
}

// waitUntil polls cond every few milliseconds until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
