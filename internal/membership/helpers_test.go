package membership

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strombroker/strom/internal/testlog"
)

// waitTimeout bounds every poll: generous, because the race detector on a
// busy 2-core machine slows gossip a lot. Tests never assert on speed.
const waitTimeout = 20 * time.Second

// testLogger sends slog output to t.Log until the test's cleanups run, so a
// straggling memberlist line cannot fail a finished test. Called before the
// nodes are opened, so their cleanups run first.
func testLogger(t testing.TB) *slog.Logger {
	t.Helper()
	return testlog.New(t, slog.LevelInfo)
}

// testMeta is a plausible broker meta for node id.
func testMeta(id int32) Meta {
	return Meta{
		NodeID:    id,
		Listeners: []Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9092 + id}},
		RaftAddr:  fmt.Sprintf("127.0.0.1:%d", 19000+id),
		Rack:      "r" + fmt.Sprint(id%2),
		Version:   "test",
	}
}

// testConfig is a Fast, loopback, port-0 config for node id joining join.
func testConfig(t testing.TB, id int32, join ...string) Config {
	t.Helper()
	c := DefaultConfig()
	c.NodeID = id
	c.BindAddr = "127.0.0.1:0"
	c.Join = join
	c.Meta = testMeta(id)
	c.Logger = testLogger(t).With("node", id)
	c.Fast = true
	return c
}

// start starts cfg and shuts it down when the test ends.
func start(t testing.TB, cfg Config) *Membership {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	m, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start node %d: %v", cfg.NodeID, err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}

// startCluster starts n nodes with ids 1..n, all joining through node 1, and
// waits until every node sees all of them. opts adjust each node's
// testConfig.
func startCluster(t testing.TB, n int, opts ...func(*Config)) []*Membership {
	t.Helper()
	config := func(id int32, join ...string) Config {
		c := testConfig(t, id, join...)
		for _, o := range opts {
			o(&c)
		}
		return c
	}
	nodes := []*Membership{start(t, config(1))}
	for id := int32(2); id <= int32(n); id++ {
		nodes = append(nodes, start(t, config(id, nodes[0].Addr())))
	}
	for _, m := range nodes {
		waitMembers(t, m, ids(1, n)...)
	}
	return nodes
}

func ids(from, to int) []int32 {
	var out []int32
	for i := from; i <= to; i++ {
		out = append(out, int32(i))
	}
	return out
}

// waitFor polls cond until it holds or waitTimeout passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func memberIDs(ms []Member) []int32 {
	out := make([]int32, len(ms))
	for i, mem := range ms {
		out[i] = mem.NodeID
	}
	return out
}

// waitMembers waits until m's live members are exactly want (sorted).
func waitMembers(t testing.TB, m *Membership, want ...int32) {
	t.Helper()
	waitFor(t, fmt.Sprintf("node %d to see members %v", m.NodeID(), want), func() bool {
		return slices.Equal(memberIDs(m.Members()), want)
	})
}

// waitEvent reads m's events until one matches, failing on timeout or a
// closed channel. Earlier events are consumed and returned for inspection.
func waitEvent(t testing.TB, m *Membership, what string, match func(Event) bool) (Event, []Event) {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	var seen []Event
	for {
		select {
		case ev, ok := <-m.Events():
			if !ok {
				t.Fatalf("node %d: events closed while waiting for %s (seen %v)", m.NodeID(), what, seen)
			}
			if match(ev) {
				return ev, seen
			}
			seen = append(seen, ev)
		case <-timer.C:
			t.Fatalf("node %d: timed out waiting for %s (seen %v)", m.NodeID(), what, seen)
		}
	}
}

func isEvent(typ EventType, id int32) func(Event) bool {
	return func(ev Event) bool { return ev.Type == typ && ev.Member.NodeID == id }
}

// signalHandler closes ch the first time a record's message contains substr
// (records logged through loggers derived with With are not watched).
type signalHandler struct {
	slog.Handler
	substr string
	ch     chan struct{}
	once   sync.Once
}

func (h *signalHandler) Handle(ctx context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.substr) {
		h.once.Do(func() { close(h.ch) })
	}
	return h.Handler.Handle(ctx, r)
}
