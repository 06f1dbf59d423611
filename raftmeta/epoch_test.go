package raftmeta

import (
	"bytes"
	"testing"
)

// TestClusterBrokerEpochs: every registration, forwarded from a follower
// or made on the controller, gives the broker a new non-zero epoch, even
// when nothing else changed (a broker process restarting with the same
// listeners); every node applies the same epoch; an epoch the caller sends
// is ignored (the controller chooses it).
func TestClusterBrokerEpochs(t *testing.T) {
	nodes, leader := startCluster3(t)
	f := followersOf(nodes, leader)[0]
	seen := map[int64]bool{}
	for i, via := range []*Node{f, f, leader, f} {
		b := Broker{ID: 7, Rack: "r7", Epoch: 42}
		if err := via.RegisterBroker(ctxT(t), b); err != nil {
			t.Fatalf("registration %d via node %d: %v", i, via.cfg.NodeID, err)
		}
		// Read your writes: the caller's own state holds the new epoch.
		got := via.State().Brokers[7].Epoch
		if got <= 0 || got == 42 || seen[got] {
			t.Fatalf("registration %d: epoch %d, want a new positive one the controller chose (seen %v)", i, got, seen)
		}
		seen[got] = true
		waitSameState(t, nodes)
		for _, n := range nodes {
			if e := n.State().Brokers[7].Epoch; e != got {
				t.Fatalf("registration %d: node %d has epoch %d, node %d %d", i, n.cfg.NodeID, e, via.cfg.NodeID, got)
			}
		}
	}
}

// TestBrokerEpochValidated: a registration command with a negative epoch
// is refused by every FSM, whoever proposed it; 0 ("none", a registration
// by a controller from before epochs) is taken.
func TestBrokerEpochValidated(t *testing.T) {
	if err := (&registerBrokerCmd{Broker: Broker{ID: 1, Epoch: -1}}).validate(); err == nil {
		t.Fatal("epoch -1 accepted")
	}
	if err := (&registerBrokerCmd{Broker: Broker{ID: 1}}).validate(); err != nil {
		t.Fatalf("epoch 0 refused: %v", err)
	}
}

// TestSnapshotWithoutBrokerEpoch: a snapshot written before broker epochs
// decodes with epoch 0, and one with an epoch keeps it.
func TestSnapshotWithoutBrokerEpoch(t *testing.T) {
	old := `{"version":1,"cluster_id":"c","brokers":[{"ID":1,"Listeners":null,"Rack":"","RaftAddr":"a:1","Fenced":false}],"topics":[],"next_producer_id":0,"index":3}`
	s, err := decodeSnapshot(bytes.NewReader([]byte(old)))
	if err != nil {
		t.Fatal(err)
	}
	if b := s.Brokers[1]; b.Epoch != 0 || b.RaftAddr != "a:1" {
		t.Fatalf("old snapshot decoded to %+v", b)
	}
	s = s.clone()
	b := s.Brokers[1]
	b.Epoch = 1 << 62
	s.Brokers[1] = b
	var buf bytes.Buffer
	if err := encodeSnapshot(&buf, s); err != nil {
		t.Fatal(err)
	}
	back, err := decodeSnapshot(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Brokers[1].Epoch; got != 1<<62 {
		t.Fatalf("epoch after a snapshot round trip: %d", got)
	}
}
