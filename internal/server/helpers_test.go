package server

import (
	"context"
	"log/slog"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/wire"
)

// testConfig is a broker config for tests: port 0 everywhere, a temp data
// dir, no group rebalance delay and few offsets partitions to keep it fast.
func testConfig(t testing.TB) Config {
	t.Helper()
	c := DefaultConfig()
	c.Listeners = []Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 0}}
	c.DataDir = t.TempDir()
	c.RaftAddr = "127.0.0.1:0"
	c.GossipAddr = "127.0.0.1:0"
	c.FastRaft = true // as the cluster harness; production timers are for busy hosts
	c.OffsetsTopicPartitions = 4
	c.GroupInitialRebalanceDelay = 0
	c.GroupMinSessionTimeout = 100 * time.Millisecond
	if testing.Verbose() {
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return c
}

// startTestServer starts a real broker on 127.0.0.1:0 in a temp dir and
// closes it when the test ends.
func startTestServer(t testing.TB, mutate ...func(*Config)) (*Server, string) {
	t.Helper()
	c := testConfig(t)
	for _, m := range mutate {
		m(&c)
	}
	return startWithConfig(t, c)
}

func startWithConfig(t testing.TB, c Config) (*Server, string) {
	t.Helper()
	s, err := New(c)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	return s, s.Addrs()[0]
}

// newClient returns a franz-go client for addr, closed at test end.
func newClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// newAdmin returns a kadm client for addr.
func newAdmin(t testing.TB, addr string) *kadm.Client {
	t.Helper()
	return kadm.NewClient(newClient(t, addr))
}

// testCtx returns a context that ends with the test or after d.
func testCtx(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// kadmCreate creates a topic with replication factor 1 and fails on error.
func kadmCreate(ctx context.Context, t testing.TB, addr, topic string, partitions int32) (kadm.CreateTopicResponse, error) {
	t.Helper()
	return newAdmin(t, addr).CreateTopic(ctx, partitions, 1, nil, topic)
}

// portOf returns the port of a host:port address.
func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// dialRaw opens a wire client that sends requests at exactly the version set
// on them (kgo negotiates its own).
func dialRaw(t testing.TB, addr string) *wire.Client {
	t.Helper()
	c, err := wire.Dial(testCtx(t, 10*time.Second), addr, "strom-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
