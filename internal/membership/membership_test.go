package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestClusterJoinThroughFirst(t *testing.T) {
	nodes := startCluster(t, 3)
	for _, m := range nodes {
		got := m.Members()
		for i, mem := range got {
			want := nodes[i]
			if !reflect.DeepEqual(mem.Meta, testMeta(want.NodeID())) {
				t.Errorf("node %d sees meta %+v for node %d, want %+v", m.NodeID(), mem.Meta, want.NodeID(), testMeta(want.NodeID()))
			}
			if mem.Addr != want.Addr() || mem.State != StateAlive {
				t.Errorf("node %d sees node %d at %s (%v), want %s alive", m.NodeID(), mem.NodeID, mem.Addr, mem.State, want.Addr())
			}
		}
	}
	// Node 1's feed starts with itself and has a Join for each other node.
	for _, id := range []int32{1, 2, 3} {
		ev, _ := waitEvent(t, nodes[0], fmt.Sprintf("join of %d", id), isEvent(EventJoin, id))
		if ev.Member.Addr != nodes[id-1].Addr() {
			t.Errorf("join event for %d has addr %s, want %s", id, ev.Member.Addr, nodes[id-1].Addr())
		}
	}
}

func TestClusterGracefulLeave(t *testing.T) {
	nodes := startCluster(t, 3)
	if err := nodes[2].Leave(5 * time.Second); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if err := nodes[2].Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, m := range nodes[:2] {
		ev, seen := waitEvent(t, m, "leave of node 3", func(ev Event) bool {
			return ev.Member.NodeID == 3 && (ev.Type == EventLeave || ev.Type == EventFail)
		})
		if ev.Type != EventLeave || ev.Member.State != StateLeft {
			t.Errorf("node %d saw %v (%v) for node 3, want leave (left); earlier: %v", m.NodeID(), ev.Type, ev.Member.State, seen)
		}
		if !reflect.DeepEqual(ev.Member.Meta, testMeta(3)) {
			t.Errorf("leave event carries meta %+v, want node 3's last meta", ev.Member.Meta)
		}
		waitMembers(t, m, 1, 2)
	}
}

// TestClusterLeavesAtOnce stops a whole cluster together, as docker-compose
// down does. memberlist sends its leave only by gossip to live members, and
// the others' leaves mark them left one by one, so before each member told
// the others that it was leaving too, every Leave waited out its timeout and
// failed with ErrBroadcastTimeout. Production timers: with the fast ones the
// broadcasts used to go out before the others' leaves arrived.
func TestClusterLeavesAtOnce(t *testing.T) {
	nodes := startCluster(t, 3, func(c *Config) { c.Fast = false })
	for _, m := range nodes {
		m.leaving.Store(true) // each has begun leaving before any intent arrives
	}
	errs := make(chan error, len(nodes))
	for _, m := range nodes {
		go func() { errs <- m.Leave(5 * time.Second) }()
	}
	for range nodes {
		if err := <-errs; err != nil {
			t.Errorf("Leave: %v", err)
		}
	}
	for _, m := range nodes {
		if !m.peersAllLeaving() {
			t.Errorf("node %d has not recorded every other node as leaving", m.NodeID())
		}
	}
}

func TestClusterFailureWithoutLeave(t *testing.T) {
	nodes := startCluster(t, 3)
	if err := nodes[2].Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, m := range nodes[:2] {
		ev, _ := waitEvent(t, m, "failure of node 3", func(ev Event) bool {
			return ev.Member.NodeID == 3 && (ev.Type == EventLeave || ev.Type == EventFail)
		})
		if ev.Type != EventFail || ev.Member.State != StateDead {
			t.Errorf("node %d saw %v (%v) for node 3, want fail (dead)", m.NodeID(), ev.Type, ev.Member.State)
		}
		waitMembers(t, m, 1, 2)
	}
}

func TestClusterRestartOnNewPort(t *testing.T) {
	nodes := startCluster(t, 3)
	oldAddr := nodes[2].Addr()
	if err := nodes[2].Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, m := range nodes[:2] {
		waitEvent(t, m, "failure of node 3", isEvent(EventFail, 3))
	}

	cfg := testConfig(t, 3, nodes[1].Addr()) // rejoin through node 2 this time
	cfg.Meta.Version = "restarted"
	again := start(t, cfg)
	if again.Addr() == oldAddr {
		t.Fatalf("restarted node got the same address %s; the test needs a new port", oldAddr)
	}
	for _, m := range nodes[:2] {
		ev, _ := waitEvent(t, m, "return of node 3", func(ev Event) bool {
			return ev.Member.NodeID == 3 && (ev.Type == EventJoin || ev.Type == EventUpdate)
		})
		if ev.Member.Addr != again.Addr() || ev.Member.Version != "restarted" {
			t.Errorf("node %d: node 3 returned at %s version %q, want %s %q", m.NodeID(), ev.Member.Addr, ev.Member.Version, again.Addr(), "restarted")
		}
	}
	for _, m := range []*Membership{nodes[0], nodes[1], again} {
		waitFor(t, fmt.Sprintf("node %d to see node 3 at its new address", m.NodeID()), func() bool {
			ms := m.Members()
			return len(ms) == 3 && ms[2].Addr == again.Addr()
		})
	}
}

// TestClusterRestartBeforeFailureDetected restarts a crashed broker on a new
// port before the others have noticed the crash: its old incarnation does
// not answer, so Start waits for the cluster to declare it dead instead of
// refusing the id.
func TestClusterRestartBeforeFailureDetected(t *testing.T) {
	nodes := startCluster(t, 3)
	if err := nodes[2].Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	again := start(t, testConfig(t, 3, nodes[0].Addr()))
	for _, m := range nodes[:2] {
		_, seen := waitEvent(t, m, "return of node 3 at its new address", func(ev Event) bool {
			return ev.Type == EventJoin && ev.Member.NodeID == 3 && ev.Member.Addr == again.Addr()
		})
		if !slices.ContainsFunc(seen, isEvent(EventFail, 3)) {
			t.Errorf("node %d saw node 3 return without failing first: %v", m.NodeID(), seen)
		}
	}
	waitMembers(t, again, 1, 2, 3)
}

func TestDuplicateNodeIDRefused(t *testing.T) {
	nodes := startCluster(t, 2)
	for _, tc := range []struct {
		name string
		id   int32
		via  int // index of the node joined through
	}{
		{"through the holder of the id", 1, 0},
		{"through another member", 1, 1},
		{"id of the member joined through", 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			m, err := Start(ctx, testConfig(t, tc.id, nodes[tc.via].Addr()))
			if err == nil {
				_ = m.Shutdown()
				t.Fatal("Start with a duplicate node id succeeded")
			}
			if !errors.Is(err, ErrDuplicateNodeID) {
				t.Fatalf("Start: %v, want ErrDuplicateNodeID", err)
			}
			if !strings.Contains(err.Error(), nodes[tc.id-1].Addr()) {
				t.Errorf("error %q does not name the address holding id %d (%s)", err, tc.id, nodes[tc.id-1].Addr())
			}
		})
	}
	// The originals are untouched: same members, same addresses.
	for _, m := range nodes {
		ms := m.Members()
		if len(ms) != 2 || ms[0].Addr != nodes[0].Addr() || ms[1].Addr != nodes[1].Addr() {
			t.Errorf("node %d members after refusals: %+v", m.NodeID(), ms)
		}
	}
}

func TestMetaTooLargeRefused(t *testing.T) {
	cfg := testConfig(t, 1)
	cfg.Meta.Rack = strings.Repeat("r", 600)
	_, err := Start(context.Background(), cfg)
	if !errors.Is(err, ErrMetaTooLarge) || !strings.Contains(err.Error(), "rack 602 bytes") {
		t.Fatalf("Start with a 600-byte rack: %v, want ErrMetaTooLarge naming the rack", err)
	}

	m := start(t, testConfig(t, 1))
	big := testMeta(1)
	for i := range 20 {
		big.Listeners = append(big.Listeners, Listener{Name: "LISTENER_" + strconv.Itoa(i), Host: "broker-1.example.internal", Port: 9092})
	}
	err = m.UpdateMeta(big)
	if !errors.Is(err, ErrMetaTooLarge) || !strings.Contains(err.Error(), "listeners (21)") {
		t.Fatalf("UpdateMeta with 21 listeners: %v, want ErrMetaTooLarge naming the listeners", err)
	}
	if got := m.Members()[0].Meta; !reflect.DeepEqual(got, testMeta(1)) {
		t.Errorf("refused update changed the meta to %+v", got)
	}
	if err := m.UpdateMeta(testMeta(2)); !errors.Is(err, ErrInvalidMeta) {
		t.Errorf("UpdateMeta with another node's id: %v, want ErrInvalidMeta", err)
	}
}

func TestUpdateMetaSeenByPeers(t *testing.T) {
	nodes := startCluster(t, 2)
	meta := testMeta(2)
	meta.Listeners = append(meta.Listeners, Listener{Name: "INTERNAL", Host: "10.0.0.2", Port: 9093})
	if err := nodes[1].UpdateMeta(meta); err != nil {
		t.Fatalf("UpdateMeta: %v", err)
	}
	ev, _ := waitEvent(t, nodes[0], "update of node 2", isEvent(EventUpdate, 2))
	if !reflect.DeepEqual(ev.Member.Meta, meta) {
		t.Errorf("update event meta %+v, want %+v", ev.Member.Meta, meta)
	}
	if got := nodes[0].Members()[1].Meta; !reflect.DeepEqual(got, meta) {
		t.Errorf("Members meta %+v, want %+v", got, meta)
	}
}

// TestEventsNeverBlockGossip leaves node 1's feed unread with room for one
// event while the cluster changes a lot: gossip must keep working and the
// feed must end with each node's latest state.
func TestEventsNeverBlockGossip(t *testing.T) {
	cfg := testConfig(t, 1)
	cfg.EventBuffer = 1
	first := start(t, cfg)
	nodes := []*Membership{first}
	for id := int32(2); id <= 4; id++ {
		nodes = append(nodes, start(t, testConfig(t, id, first.Addr())))
	}
	waitMembers(t, first, 1, 2, 3, 4)
	const updates = 20
	meta := testMeta(2)
	for i := 1; i <= updates; i++ {
		meta.Version = "v" + strconv.Itoa(i)
		if err := nodes[1].UpdateMeta(meta); err != nil {
			t.Fatalf("UpdateMeta %d: %v", i, err)
		}
	}
	waitFor(t, "node 1 to see node 2's last meta", func() bool {
		ms := first.Members()
		return len(ms) == 4 && ms[1].Version == meta.Version
	})
	// memberlist on node 1 still takes joins (it would deadlock on its node
	// lock if an event callback were stuck).
	late := start(t, testConfig(t, 5, first.Addr()))
	waitMembers(t, late, 1, 2, 3, 4, 5)
	waitMembers(t, first, 1, 2, 3, 4, 5)

	// Undelivered events stay bounded: at most one pending per node.
	first.events.mu.Lock()
	pending := len(first.events.pending)
	first.events.mu.Unlock()
	if pending > 5 {
		t.Errorf("%d events pending for 5 nodes", pending)
	}
	last := map[int32]Event{}
	waitFor(t, "the feed to end with each node's latest state", func() bool {
		for {
			select {
			case ev := <-first.Events():
				last[ev.Member.NodeID] = ev
				continue
			default:
			}
			return len(last) == 5 && last[2].Member.Version == meta.Version && last[5].Type == EventJoin
		}
	})
	if typ := last[2].Type; typ != EventUpdate && typ != EventJoin {
		t.Errorf("last event for node 2 is %v", typ)
	}
}

func TestJoinListNamingOnlySelfStartsAlone(t *testing.T) {
	addr := freeAddr(t)
	cfg := testConfig(t, 1, addr)
	cfg.BindAddr = addr
	m := start(t, cfg)
	if m.Addr() != addr {
		t.Fatalf("bound %s, want %s", m.Addr(), addr)
	}
	waitMembers(t, m, 1)

	targets, err := m.joinTargets(context.Background())
	if err != nil || len(targets) != 0 {
		t.Errorf("joinTargets with only self = %v, %v; want none", targets, err)
	}
	m.cfg.Join = []string{addr, "127.0.0.2:" + strings.Split(addr, ":")[1], "127.0.0.1:1"}
	targets, err = m.joinTargets(context.Background())
	want := []string{"127.0.0.2:" + strings.Split(addr, ":")[1], "127.0.0.1:1"}
	if err != nil || !reflect.DeepEqual(targets, want) {
		t.Errorf("joinTargets = %v, %v; want %v", targets, err, want)
	}
}

func TestJoinRetriesUntilContextEnds(t *testing.T) {
	cfg := testConfig(t, 2, freeAddr(t)) // nobody listens there
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	m, err := Start(ctx, cfg)
	if err == nil {
		_ = m.Shutdown()
		t.Fatal("Start joined an address nobody listens on")
	}
	if !errors.Is(err, ErrJoin) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start: %v, want ErrJoin and DeadlineExceeded", err)
	}
}

// TestJoinWaitsForLateFirstBroker starts the joiner before the broker it
// joins, which must not fail it: it retries until the first one is up.
func TestJoinWaitsForLateFirstBroker(t *testing.T) {
	addr := freeAddr(t)
	cfg := testConfig(t, 2, addr)
	retrying := make(chan struct{})
	cfg.Logger = slog.New(&signalHandler{Handler: cfg.Logger.Handler(), substr: "retrying", ch: retrying})
	type result struct {
		m   *Membership
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := Start(context.Background(), cfg)
		done <- result{m, err}
	}()
	select {
	case <-retrying:
	case r := <-done:
		t.Fatalf("Start returned before anyone listened at %s: %v", addr, r.err)
	}
	firstCfg := testConfig(t, 1)
	firstCfg.BindAddr = addr
	start(t, firstCfg)
	r := <-done
	if r.err != nil {
		t.Fatalf("Start of the second broker: %v", r.err)
	}
	t.Cleanup(func() { _ = r.m.Shutdown() })
	waitMembers(t, r.m, 1, 2)
}

func TestShutdownClosesEverything(t *testing.T) {
	m := start(t, testConfig(t, 1))
	if err := m.Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := m.Shutdown(); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	for range m.Events() { // drains whatever was buffered, then ends
	}
	if err := m.UpdateMeta(testMeta(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("UpdateMeta after Shutdown: %v, want ErrClosed", err)
	}
	if err := m.Leave(time.Second); !errors.Is(err, ErrClosed) {
		t.Errorf("Leave after Shutdown: %v, want ErrClosed", err)
	}
	c, err := net.Dial("tcp", m.Addr())
	if err == nil {
		c.Close()
		t.Errorf("gossip port %s still accepts connections after Shutdown", m.Addr())
	}
}

// freeAddr returns a loopback address with a port the kernel just handed out
// and released (for tests that must know the address before binding it).
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
