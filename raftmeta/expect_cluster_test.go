package raftmeta

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// expectConfig is a cluster-mode node: no self-bootstrap, three expected
// voters, tight timers.
func expectConfig(t testing.TB, id int32, dir, bind string) Config {
	t.Helper()
	c := testConfig(t, id, dir)
	c.BootstrapSelf = false
	c.BootstrapExpect = 3
	c.RaftBind = bind
	c.DeadVoterTimeout = 300 * time.Millisecond
	c.ReconcileInterval = 20 * time.Millisecond
	return c
}

// peerList is what membership would report for nodes.
func peerList(nodes ...*Node) []Peer {
	out := make([]Peer, len(nodes))
	for i, n := range nodes {
		out[i] = Peer{NodeID: n.cfg.NodeID, RaftAddr: n.RaftAddr(), HasState: n.HasState()}
	}
	return out
}

// shuffled returns a shuffled copy of peers.
func shuffled(peers []Peer) []Peer {
	out := slices.Clone(peers)
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// waitLeader waits until exactly one of nodes is the established controller.
func waitLeader(t testing.TB, nodes []*Node) *Node {
	t.Helper()
	var leader *Node
	checkFor(t, 20*time.Second, func() error {
		leader = nil
		for _, n := range nodes {
			if n.IsController() {
				if leader != nil {
					return fmt.Errorf("nodes %d and %d both controller", leader.cfg.NodeID, n.cfg.NodeID)
				}
				leader = n
			}
		}
		if leader == nil {
			return errors.New("no controller")
		}
		return nil
	})
	return leader
}

// waitRaftServers waits until every node reports the wanted raft configuration.
func waitRaftServers(t testing.TB, nodes []*Node, want []RaftServer) {
	t.Helper()
	checkFor(t, 20*time.Second, func() error {
		for _, n := range nodes {
			got, err := n.RaftServers()
			if err != nil {
				return err
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("node %d has configuration %+v, want %+v", n.cfg.NodeID, got, want)
			}
		}
		return nil
	})
}

func reconcileAll(t *testing.T, nodes []*Node, peers []Peer) {
	t.Helper()
	for _, n := range nodes {
		if err := n.ReconcileMembers(ctxT(t), shuffled(peers)); err != nil {
			t.Fatalf("node %d ReconcileMembers: %v", n.cfg.NodeID, err)
		}
	}
}

// TestClusterBootstrapExpect walks a cluster's life with no operator step:
// three brokers expecting three voters race to bootstrap and form exactly one
// cluster; a fourth joins as a non-voter through reconciliation and gets the
// state; the controller dies, is fenced, its partitions get new leaders, and
// after DeadVoterTimeout the non-voter replaces it as voter; writes continue;
// finally every node restarts from its data directory into the same cluster,
// and the dead broker comes back as a non-voter and is unfenced.
func TestClusterBootstrapExpect(t *testing.T) {
	dirs := map[int32]string{}
	open := func(id int32, bind string) *Node {
		t.Helper()
		if dirs[id] == "" {
			dirs[id] = t.TempDir()
		}
		return openNode(t, expectConfig(t, id, dirs[id], bind))
	}
	nodes := []*Node{open(1, "127.0.0.1:0"), open(2, "127.0.0.1:0"), open(3, "127.0.0.1:0")}
	peers := peerList(nodes...)

	// Every node tries to bootstrap, concurrently and repeatedly, each with
	// its own order of the member list (as membership events would).
	var wg sync.WaitGroup
	var mu sync.Mutex
	var booted []int32
	for _, n := range nodes {
		wg.Go(func() {
			for range 3 {
				ok, err := n.TryBootstrap(shuffled(peers))
				if err != nil {
					t.Errorf("node %d TryBootstrap: %v", n.cfg.NodeID, err)
				}
				if ok {
					mu.Lock()
					booted = append(booted, n.cfg.NodeID)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if !slices.Equal(booted, []int32{1}) {
		t.Fatalf("bootstrapped by %v, want exactly node 1 once", booted)
	}
	voters := []RaftServer{
		{NodeID: 1, RaftAddr: nodes[0].RaftAddr(), Voter: true},
		{NodeID: 2, RaftAddr: nodes[1].RaftAddr(), Voter: true},
		{NodeID: 3, RaftAddr: nodes[2].RaftAddr(), Voter: true},
	}
	leader := waitLeader(t, nodes)
	waitRaftServers(t, nodes, voters)
	for _, n := range nodes {
		waitController(t, n)
		if !n.HasState() {
			t.Fatalf("node %d has no raft state after joining", n.cfg.NodeID)
		}
	}
	clusterID := leader.State().ClusterID
	if clusterID == "" {
		t.Fatal("no cluster id")
	}
	checkFor(t, 10*time.Second, func() error {
		for _, n := range nodes {
			if s := n.State(); s.ClusterID != clusterID || s.ControllerID != leader.cfg.NodeID {
				return fmt.Errorf("node %d: cluster %q controller %d", n.cfg.NodeID, s.ClusterID, s.ControllerID)
			}
		}
		return nil
	})
	// A later TryBootstrap is a no-op everywhere.
	for _, n := range nodes {
		if ok, err := n.TryBootstrap(peers); ok || err != nil {
			t.Fatalf("node %d TryBootstrap after formation = %v, %v", n.cfg.NodeID, ok, err)
		}
	}

	// Followers refuse leader-only operations and say who the controller is.
	ctx := ctxT(t)
	for _, n := range nodes {
		if n == leader {
			continue
		}
		err := n.AddNonvoter(ctx, 9, "127.0.0.1:1")
		var nce *NotControllerError
		if !errors.Is(err, ErrNotController) || !errors.As(err, &nce) || nce.ControllerID != leader.cfg.NodeID {
			t.Fatalf("follower AddNonvoter = %v, want NotControllerError naming %d", err, leader.cfg.NodeID)
		}
		if n.ControllerID() != leader.cfg.NodeID || n.LeaderRaftAddr() != leader.RaftAddr() {
			t.Fatalf("node %d: ControllerID %d LeaderRaftAddr %q", n.cfg.NodeID, n.ControllerID(), n.LeaderRaftAddr())
		}
	}

	// A fourth broker: it expects three as well but sees a formed cluster.
	n4 := open(4, "127.0.0.1:0")
	all := append(slices.Clone(nodes), n4)
	peers = peerList(all...)
	if ok, err := n4.TryBootstrap(shuffled(peers)); ok || err != nil {
		t.Fatalf("node 4 TryBootstrap next to a cluster = %v, %v", ok, err)
	}
	if n4.HasState() {
		t.Fatal("node 4 has state before joining")
	}
	for id := int32(1); id <= 4; id++ {
		if err := leader.RegisterBroker(ctx, Broker{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	reconcileAll(t, all, peers)
	waitRaftServers(t, all, append(slices.Clone(voters), RaftServer{NodeID: 4, RaftAddr: n4.RaftAddr()}))
	if _, err := leader.CreateTopic(ctx, TopicSpec{Name: "orders", Partitions: 4, ReplicationFactor: 3}, false); err != nil {
		t.Fatal(err)
	}
	waitSameState(t, all)
	if s := n4.State(); s.ClusterID != clusterID || s.Topics["orders"] == nil {
		t.Fatalf("node 4 state: cluster %q topics %v", s.ClusterID, s.Topics)
	}

	// Kill the controller. The survivors learn it from membership.
	dead := leader
	deadID, deadAddr := dead.cfg.NodeID, dead.RaftAddr()
	if err := dead.Close(); err != nil {
		t.Fatal(err)
	}
	live := slices.DeleteFunc(slices.Clone(all), func(n *Node) bool { return n == dead })
	peers = peerList(live...)
	reconcileAll(t, live, peers)
	leader = waitLeader(t, live)
	// The periodic run on the new controller fences the dead broker ...
	checkFor(t, 10*time.Second, func() error {
		for _, n := range live {
			if !n.State().Brokers[deadID].Fenced {
				return fmt.Errorf("node %d: broker %d not fenced", n.cfg.NodeID, deadID)
			}
		}
		return nil
	})
	// ... and, past DeadVoterTimeout, promotes node 4 and removes the dead voter.
	var want []RaftServer
	for _, n := range live {
		want = append(want, RaftServer{NodeID: n.cfg.NodeID, RaftAddr: n.RaftAddr(), Voter: true})
	}
	waitRaftServers(t, live, want)

	// Partition leaders move off the fenced broker (the controller
	// package plans this; here the first live ISR member takes over).
	s := leader.State()
	var changes []PartitionChange
	for _, p := range s.Topics["orders"].Partitions {
		if p.Leader != deadID {
			continue
		}
		isr := slices.DeleteFunc(slices.Clone(p.ISR), func(id int32) bool { return id == deadID })
		changes = append(changes, PartitionChange{Topic: "orders", Partition: p.Index, Leader: isr[0], ISR: isr, PartitionEpoch: p.PartitionEpoch})
	}
	if len(changes) == 0 {
		t.Fatalf("no leader changes though broker %d led partitions: %+v", deadID, s.Topics["orders"].Partitions)
	}
	for _, ch := range changes {
		p, err := leader.AlterPartition(ctx, ch)
		if err != nil || p.Leader == deadID || p.Leader < 0 || slices.Contains(p.ISR, deadID) {
			t.Fatalf("AlterPartition(%+v) = %+v, %v", ch, p, err)
		}
	}
	for _, p := range leader.State().Topics["orders"].Partitions {
		if p.Leader == deadID {
			t.Fatalf("partition %d still led by the dead broker", p.Index)
		}
	}
	if _, err := leader.CreateTopic(ctx, TopicSpec{Name: "after-failover", Partitions: 2, ReplicationFactor: 3}, false); err != nil {
		t.Fatalf("write after failover: %v", err)
	}
	waitSameState(t, live)
	before := leader.State()

	// Restart everything from the data directories, the dead broker too.
	for _, n := range live {
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
	var restarted []*Node
	for _, n := range live {
		restarted = append(restarted, open(n.cfg.NodeID, n.RaftAddr()))
	}
	for _, n := range restarted {
		if !n.HasState() {
			t.Fatalf("node %d lost its raft state", n.cfg.NodeID)
		}
		if ok, err := n.TryBootstrap(peerList(restarted...)); ok || err != nil {
			t.Fatalf("node %d re-bootstrapped: %v, %v", n.cfg.NodeID, ok, err)
		}
	}
	leader = waitLeader(t, restarted)
	waitRaftServers(t, restarted, want)
	waitSameState(t, restarted)
	if got := leader.State(); got.ClusterID != clusterID || got.Topics["after-failover"] == nil ||
		got.Topics["orders"].ID != before.Topics["orders"].ID {
		t.Fatalf("state after restart: cluster %q topics %v", got.ClusterID, got.Topics)
	}

	back := open(deadID, deadAddr)
	restarted = append(restarted, back)
	peers = peerList(restarted...)
	reconcileAll(t, restarted, peers)
	want = append(want, RaftServer{NodeID: deadID, RaftAddr: deadAddr})
	slices.SortFunc(want, func(a, b RaftServer) int { return int(a.NodeID - b.NodeID) })
	waitRaftServers(t, restarted, want)
	waitSameState(t, restarted)
	checkFor(t, 10*time.Second, func() error {
		if back.State().Brokers[deadID].Fenced {
			return fmt.Errorf("broker %d still fenced", deadID)
		}
		return nil
	})
}

// A solo controller fences and unfences registered brokers as membership
// changes, adds members as non-voters and drops them after DeadVoterTimeout;
// ReconcileMembers on a node that is not the controller records and returns.
func TestClusterReconcileFencing(t *testing.T) {
	cfg := testConfig(t, 1, t.TempDir())
	cfg.DeadVoterTimeout = 200 * time.Millisecond
	cfg.ReconcileInterval = 20 * time.Millisecond
	n := openNode(t, cfg)
	waitController(t, n)
	ctx := ctxT(t)
	for id := int32(1); id <= 3; id++ {
		if err := n.RegisterBroker(ctx, Broker{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	// Peers 2 and 3 at addresses nobody listens on: raft only tries to
	// replicate to them as non-voters, which never blocks the solo voter.
	p2 := Peer{NodeID: 2, RaftAddr: "127.0.0.1:1"}
	p3 := Peer{NodeID: 3, RaftAddr: "127.0.0.1:2"}
	fenced := func() []int32 {
		var ids []int32
		for id := range n.State().FencedBrokers() {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return ids
	}

	if err := n.ReconcileMembers(ctx, []Peer{p2, p3}); err != nil { // self added implicitly
		t.Fatal(err)
	}
	if got := fenced(); len(got) != 0 {
		t.Fatalf("fenced %v with everyone present", got)
	}
	servers, err := n.RaftServers()
	if err != nil {
		t.Fatal(err)
	}
	wantServers := []RaftServer{{NodeID: 1, RaftAddr: n.RaftAddr(), Voter: true}, {NodeID: 2, RaftAddr: p2.RaftAddr}, {NodeID: 3, RaftAddr: p3.RaftAddr}}
	if !slices.Equal(servers, wantServers) {
		t.Fatalf("raft servers %+v, want %+v", servers, wantServers)
	}

	if err := n.ReconcileMembers(ctx, []Peer{p2}); err != nil {
		t.Fatal(err)
	}
	if got := fenced(); !slices.Equal(got, []int32{3}) {
		t.Fatalf("fenced = %v, want [3]", got)
	}
	idx := n.State().Index
	if err := n.ReconcileMembers(ctx, []Peer{p2}); err != nil {
		t.Fatal(err)
	}
	if got := n.State().Index; got != idx {
		t.Fatalf("state index %d, want %d: an unchanged membership wrote again", got, idx)
	}
	// Past the timeout, the periodic run removes the missing non-voter.
	checkFor(t, 10*time.Second, func() error {
		s, err := n.RaftServers()
		if err != nil {
			return err
		}
		if !slices.Equal(s, wantServers[:2]) {
			return fmt.Errorf("raft servers %+v", s)
		}
		return nil
	})
	// New placements avoid the fenced broker.
	if _, err := n.CreateTopic(ctx, TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 3}, true); !errors.Is(err, ErrInvalidReplicationFactor) {
		t.Fatalf("rf 3 with a fenced broker = %v", err)
	}
	if err := n.ReconcileMembers(ctx, []Peer{p2, p3}); err != nil {
		t.Fatal(err)
	}
	if got := fenced(); len(got) != 0 {
		t.Fatalf("fenced %v after broker 3 returned", got)
	}
	if err := n.ReconcileMembers(ctx, []Peer{{NodeID: 2, RaftAddr: ""}}); !errors.Is(err, ErrInvalidPeer) {
		t.Fatalf("invalid peer = %v", err)
	}

	// A node outside any cluster records and does nothing.
	other := testConfig(t, 5, t.TempDir())
	other.BootstrapSelf = false
	o := openNode(t, other)
	if err := o.ReconcileMembers(ctx, []Peer{p2}); err != nil {
		t.Fatalf("ReconcileMembers on a non-controller = %v", err)
	}
	if peers, ok := o.lastPeers(); !ok || peers[2] != p2.RaftAddr || peers[5] != o.RaftAddr() {
		t.Fatalf("recorded peers %v, %v", peers, ok)
	}
}
