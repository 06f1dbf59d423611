package raftmeta

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestClusterThreeNodes runs three in-process raft nodes on loopback: one
// bootstraps, two join as voters; metadata replicates, follower writes are
// forwarded to the controller, and after the controller dies another node takes over with the
// same state.
func TestClusterThreeNodes(t *testing.T) {
	nodes := make([]*Node, 3)
	for i := range nodes {
		cfg := testConfig(t, int32(i+1), t.TempDir())
		cfg.BootstrapSelf = i == 0
		nodes[i] = openNode(t, cfg)
	}
	n1 := nodes[0]
	waitController(t, n1)
	ctx := ctxT(t)
	for _, n := range nodes[1:] {
		if err := n1.AddVoter(ctx, n.cfg.NodeID, n.RaftAddr()); err != nil {
			t.Fatalf("AddVoter: %v", err)
		}
	}
	for _, n := range nodes {
		waitController(t, n)
		checkFor(t, 10*time.Second, func() error {
			if got := n.State().ControllerID; got != 1 {
				return fmt.Errorf("node %d sees controller %d", n.cfg.NodeID, got)
			}
			return nil
		})
	}
	for id := int32(1); id <= 3; id++ {
		if err := n1.RegisterBroker(ctx, Broker{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	top, err := n1.CreateTopic(ctx, TopicSpec{Name: "replicated", Partitions: 6, ReplicationFactor: 3}, false)
	if err != nil {
		t.Fatal(err)
	}
	leaders := map[int32]int{}
	for _, p := range top.Partitions {
		leaders[p.Leader]++
	}
	if len(leaders) != 3 {
		t.Fatalf("leaders not spread over 3 brokers: %v", leaders)
	}
	waitSameState(t, nodes)

	follower := nodes[1]
	if follower.IsController() {
		t.Fatal("follower claims to be controller")
	}
	if _, err := follower.CreateTopic(ctx, TopicSpec{Name: "x", Partitions: 1, ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("forwarded follower write = %v", err)
	}
	if follower.State().Topics["x"] == nil {
		t.Fatal("follower state does not show its own forwarded write")
	}

	// Kill the controller; one of the others must take over with the state.
	clusterID := n1.State().ClusterID
	if err := n1.Close(); err != nil {
		t.Fatal(err)
	}
	var leader *Node
	checkFor(t, 20*time.Second, func() error {
		for _, n := range nodes[1:] {
			if n.IsController() {
				leader = n
				return nil
			}
		}
		return errors.New("no new controller")
	})
	s := leader.State()
	if s.ClusterID != clusterID || s.Topics["replicated"] == nil || s.Topics["replicated"].ID != top.ID {
		t.Fatalf("new controller lost state: cluster %q topics %v", s.ClusterID, s.Topics)
	}
	if _, err := leader.CreateTopic(ctx, TopicSpec{Name: "after", Partitions: 2, ReplicationFactor: 2}, false); err != nil {
		t.Fatal(err)
	}
	waitSameState(t, nodes[1:])
	for _, n := range nodes[1:] {
		if got := n.State().ControllerID; got != leader.cfg.NodeID {
			t.Fatalf("node %d sees controller %d, want %d", n.cfg.NodeID, got, leader.cfg.NodeID)
		}
	}
}

// waitSameState waits until every node's FSM state serialises identically.
func waitSameState(t testing.TB, nodes []*Node) {
	t.Helper()
	checkFor(t, 10*time.Second, func() error {
		want := snapshotBytes(t, nodes[0].State())
		for _, n := range nodes[1:] {
			if got := snapshotBytes(t, n.State()); !bytes.Equal(got, want) {
				return fmt.Errorf("node %d differs from node %d:\n%s\n%s", n.cfg.NodeID, nodes[0].cfg.NodeID, got, want)
			}
		}
		return nil
	})
}
