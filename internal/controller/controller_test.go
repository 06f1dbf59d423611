package controller

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strombroker/strom/internal/membership"
	"github.com/strombroker/strom/raftmeta"
)

// fakeNet is a gossip network in memory: every broker's current meta and
// whether it is alive. Each broker's fakeGossip sees the live ones.
type fakeNet struct {
	mu     sync.Mutex
	metas  map[int32]membership.Meta
	alive  map[int32]bool
	views  []*fakeGossip
	starts atomic.Int32 // StartGossip calls
	// failStarts makes that many StartGossip calls fail (a join list that
	// does not resolve while the network is down).
	failStarts atomic.Int32
}

func newFakeNet() *fakeNet {
	return &fakeNet{metas: map[int32]membership.Meta{}, alive: map[int32]bool{}}
}

// setAlive marks brokers alive or dead and sends every view an event, as
// memberlist would after its failure detection.
func (n *fakeNet) setAlive(alive bool, ids ...int32) {
	n.mu.Lock()
	for _, id := range ids {
		if _, ok := n.metas[id]; !ok {
			n.metas[id] = membership.Meta{NodeID: id, RaftAddr: fmt.Sprintf("inmem-%d", id)}
		}
		n.alive[id] = alive
	}
	views := slices.Clone(n.views)
	n.mu.Unlock()
	for _, v := range views {
		v.notify()
	}
}

// fakeGossip is one broker's view of a fakeNet; it implements Gossip.
type fakeGossip struct {
	net     *fakeNet
	self    int32
	adv     string
	events  chan membership.Event
	rejoins atomic.Int32
	closed  atomic.Bool
	once    sync.Once
}

func (n *fakeNet) start(self int32, adv string, meta membership.Meta) *fakeGossip {
	g := &fakeGossip{net: n, self: self, adv: adv, events: make(chan membership.Event, 1)}
	n.mu.Lock()
	n.metas[self] = meta
	n.alive[self] = true
	n.views = append(n.views, g)
	n.mu.Unlock()
	n.starts.Add(1)
	return g
}

func (g *fakeGossip) notify() {
	if g.closed.Load() {
		return
	}
	select {
	case g.events <- membership.Event{Type: membership.EventUpdate}:
	default: // coalesced, as membership's queue does
	}
}

func (g *fakeGossip) Members() []membership.Member {
	g.net.mu.Lock()
	defer g.net.mu.Unlock()
	var out []membership.Member
	for id, m := range g.net.metas {
		if g.net.alive[id] {
			out = append(out, membership.Member{Meta: m, State: membership.StateAlive})
		}
	}
	slices.SortFunc(out, func(a, b membership.Member) int { return int(a.NodeID - b.NodeID) })
	return out
}

func (g *fakeGossip) Events() <-chan membership.Event { return g.events }

func (g *fakeGossip) UpdateMeta(m membership.Meta) error {
	g.net.mu.Lock()
	g.net.metas[g.self] = m
	views := slices.Clone(g.net.views)
	g.net.mu.Unlock()
	for _, v := range views {
		v.notify()
	}
	return nil
}

func (g *fakeGossip) Rejoin(context.Context) error { g.rejoins.Add(1); return nil }
func (g *fakeGossip) Leave(time.Duration) error    { return nil }
func (g *fakeGossip) Stopping()                    {}

func (g *fakeGossip) Shutdown() error {
	g.once.Do(func() {
		g.closed.Store(true)
		close(g.events)
	})
	return nil
}

// openMeta opens an in-memory raft node with tight timers.
func openMeta(t *testing.T, id int32, bootstrapSelf bool, expect int) *raftmeta.Node {
	t.Helper()
	cfg := raftmeta.DefaultConfig()
	cfg.NodeID = id
	cfg.InMemory = true
	cfg.BootstrapSelf = bootstrapSelf
	cfg.BootstrapExpect = expect
	raftmeta.FastTimers(&cfg)
	n, err := raftmeta.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// startController runs a controller for node id over meta on net, with
// timers tight enough for tests. adv, when set, is what GossipAdvertise
// returns on each call.
func startController(t *testing.T, net *fakeNet, meta *raftmeta.Node, id int32, expect int, adv *atomic.Value) *Controller {
	t.Helper()
	cfg := Config{
		NodeID:                  id,
		BootstrapExpect:         expect,
		Tick:                    20 * time.Millisecond,
		AutoLeaderRebalance:     true,
		LeaderRebalanceInterval: 50 * time.Millisecond,
		RejoinInterval:          10 * time.Millisecond,
		AddressCheckInterval:    10 * time.Millisecond,
		GossipMeta: func() membership.Meta {
			return membership.Meta{NodeID: id, RaftAddr: meta.RaftAddr(), HasState: meta.HasState()}
		},
		GossipAdvertise: func(context.Context) (string, error) {
			if adv == nil {
				return "", nil
			}
			return adv.Load().(string), nil
		},
		StartGossip: func(_ context.Context, a string, m membership.Meta) (Gossip, error) {
			if net.failStarts.Add(-1) >= 0 {
				net.starts.Add(1)
				return nil, fmt.Errorf("join %s: no such host", a)
			}
			net.failStarts.Store(0)
			return net.start(id, a, m), nil
		},
	}
	c, err := New(cfg, meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// checkFor polls cond until it returns nil or timeout passes.
func checkFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// registerCluster registers brokers 1..n and creates a topic "t" with six
// partitions replicated min(n, 3) times, so with three brokers every one
// leads two.
func registerCluster(t *testing.T, meta *raftmeta.Node, n int32) {
	t.Helper()
	ctx := testCtx(t)
	if err := meta.WaitController(ctx); err != nil {
		t.Fatal(err)
	}
	for id := int32(1); id <= n; id++ {
		b := raftmeta.Broker{ID: id, RaftAddr: fmt.Sprintf("inmem-%d", id),
			Listeners: []raftmeta.Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9000 + id}}}
		if err := meta.RegisterBroker(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := meta.CreateTopic(ctx, raftmeta.TopicSpec{Name: "t", Partitions: 6, ReplicationFactor: int16(min(n, 3))}, false); err != nil {
		t.Fatal(err)
	}
}

// movedOff reports an error while broker id is unfenced, leads a partition
// or is in an ISR.
func movedOff(st *raftmeta.State, id int32) error {
	if !st.Brokers[id].Fenced {
		return fmt.Errorf("broker %d not fenced", id)
	}
	for _, p := range st.Topics["t"].Partitions {
		if p.Leader == id || p.Leader < 0 || slices.Contains(p.ISR, id) {
			return fmt.Errorf("partition %d: leader %d, isr %v", p.Index, p.Leader, p.ISR)
		}
	}
	return nil
}

// TestControllerFailedBrokerFencedAndLeadersMoved: a broker that gossip
// declares dead is fenced, the partitions it led get a leader from the ISR,
// and it leaves every ISR; when it returns it is unfenced and, once back in
// the ISR, gets its preferred leaderships back.
func TestControllerFailedBrokerFencedAndLeadersMoved(t *testing.T) {
	net := newFakeNet()
	meta := openMeta(t, 1, true, 1)
	registerCluster(t, meta, 3)
	net.setAlive(true, 2, 3)
	startController(t, net, meta, 1, 1, nil)

	start := time.Now()
	net.setAlive(false, 2)
	checkFor(t, 10*time.Second, "broker 2 moved off", func() error { return movedOff(meta.State(), 2) })
	t.Logf("broker failed -> fenced, leaders moved, ISRs shrunk in %v", time.Since(start))

	net.setAlive(true, 2)
	checkFor(t, 10*time.Second, "broker 2 unfenced", func() error {
		if meta.State().Brokers[2].Fenced {
			return fmt.Errorf("still fenced")
		}
		return nil
	})
	// The partition leaders add the caught-up replica back to their ISR
	// (replica's ISR expansion, an AlterPartition); then the preferred
	// leader check hands leadership back.
	ctx := testCtx(t)
	for _, p := range meta.State().Topics["t"].Partitions {
		if slices.Contains(p.ISR, 2) {
			continue
		}
		ch := raftmeta.PartitionChange{Topic: "t", Partition: p.Index, Leader: p.Leader,
			ISR: append(slices.Clone(p.ISR), 2), PartitionEpoch: p.PartitionEpoch}
		if _, err := meta.AlterPartition(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	checkFor(t, 10*time.Second, "preferred leaders restored", func() error {
		for _, p := range meta.State().Topics["t"].Partitions {
			if p.Leader != p.Replicas[0] {
				return fmt.Errorf("partition %d led by %d, prefers %d", p.Index, p.Leader, p.Replicas[0])
			}
		}
		return nil
	})
}

// TestControllerRejoinsWhileShort: fewer live peers than registered brokers
// makes the controller re-contact its join list, in the background.
func TestControllerRejoinsWhileShort(t *testing.T) {
	net := newFakeNet()
	meta := openMeta(t, 1, true, 1)
	registerCluster(t, meta, 3)
	net.setAlive(true, 2)
	startController(t, net, meta, 1, 1, nil)
	g := net.views[0]
	checkFor(t, 10*time.Second, "rejoin", func() error {
		if g.rejoins.Load() < 2 {
			return fmt.Errorf("%d rejoins", g.rejoins.Load())
		}
		return nil
	})
}

// TestControllerRestartsGossipOnNewAddress: when the derived gossip address
// moves (a container back with a new IP), gossip restarts on the new one.
func TestControllerRestartsGossipOnNewAddress(t *testing.T) {
	net := newFakeNet()
	meta := openMeta(t, 1, true, 1)
	registerCluster(t, meta, 1)
	var adv atomic.Value
	adv.Store("10.0.0.1:9094")
	startController(t, net, meta, 1, 1, &adv)
	first := net.views[0]
	adv.Store("10.0.0.2:9094")
	checkFor(t, 10*time.Second, "gossip restarted", func() error {
		if net.starts.Load() < 2 || !first.closed.Load() {
			return fmt.Errorf("%d starts, first closed %v", net.starts.Load(), first.closed.Load())
		}
		return nil
	})
	net.mu.Lock()
	last := net.views[len(net.views)-1]
	net.mu.Unlock()
	if last.adv != "10.0.0.2:9094" {
		t.Fatalf("restarted gossip advertises %q", last.adv)
	}
}

// TestControllerRetriesFailedGossipRestart: the address moves while the
// network is down, the restart's join fails, and the address is back to the
// old one by the next check: gossip must still be restarted, not left
// stopped because "the address did not change" (seen in the compose
// network-partition chaos: the broker stayed fenced for good).
func TestControllerRetriesFailedGossipRestart(t *testing.T) {
	net := newFakeNet()
	meta := openMeta(t, 1, true, 1)
	registerCluster(t, meta, 1)
	var adv atomic.Value
	adv.Store("10.0.0.1:9094")
	startController(t, net, meta, 1, 1, &adv)
	first := net.views[0]
	net.failStarts.Store(1)
	adv.Store("10.0.0.9:9094") // disconnected: a transient address
	checkFor(t, 10*time.Second, "failed restart", func() error {
		if net.starts.Load() < 2 {
			return fmt.Errorf("%d starts", net.starts.Load())
		}
		return nil
	})
	adv.Store("10.0.0.1:9094") // reconnected with the old address
	checkFor(t, 10*time.Second, "gossip running again", func() error {
		net.mu.Lock()
		defer net.mu.Unlock()
		last := net.views[len(net.views)-1]
		if last == first || last.closed.Load() || last.adv != "10.0.0.1:9094" {
			return fmt.Errorf("%d starts, %d instances, last at %s closed %v", net.starts.Load(), len(net.views), last.adv, last.closed.Load())
		}
		return nil
	})
}

// TestControllerBootstrapAndFailover: three brokers without Raft state find
// each other by (fake) gossip; exactly one founds the quorum, all announce
// their state, and when the controller itself dies, the new controller
// fences it and moves its partitions.
func TestControllerBootstrapAndFailover(t *testing.T) {
	net := newFakeNet()
	var metas []*raftmeta.Node
	for id := int32(1); id <= 3; id++ {
		metas = append(metas, openMeta(t, id, false, 3))
	}
	raftmeta.ConnectInMemory(metas...)
	ctrls := make([]*Controller, 3)
	for i, m := range metas {
		ctrls[i] = startController(t, net, m, int32(i+1), 3, nil)
	}
	var leader *raftmeta.Node
	checkFor(t, 10*time.Second, "a controller", func() error {
		for _, m := range metas {
			if m.IsController() {
				leader = m
				return nil
			}
		}
		return fmt.Errorf("none")
	})
	checkFor(t, 10*time.Second, "has-state gossiped", func() error {
		for _, m := range net.views[0].Members() {
			if !m.HasState {
				return fmt.Errorf("broker %d does not gossip has-state", m.NodeID)
			}
		}
		return nil
	})
	registerCluster(t, leader, 3)

	deadID := int32(slices.Index(metas, leader) + 1)
	start := time.Now()
	ctrls[deadID-1].Close()
	raftmeta.DisconnectInMemory(leader, metas...)
	leader.Close()
	net.setAlive(false, deadID)
	var next *raftmeta.Node
	checkFor(t, 20*time.Second, "controller failover", func() error {
		for _, m := range metas {
			if m != leader && m.IsController() {
				next = m
				return movedOff(m.State(), deadID)
			}
		}
		return fmt.Errorf("no new controller")
	})
	t.Logf("controller %d killed -> new controller %d fenced it and moved its leaders in %v",
		deadID, next.State().ControllerID, time.Since(start))
}
