package raftmeta

import "testing"

// TestClusterSyncReadBarrier: right after the controller applies a write, a
// follower's Sync returns only once the follower's state shows it, every
// time; on the controller Sync returns at once.
func TestClusterSyncReadBarrier(t *testing.T) {
	nodes, leader := startCluster3(t)
	registerBrokers(t, leader, 1, 2, 3)
	followers := followersOf(nodes, leader)
	for i := range 20 {
		name := "sync-" + string(rune('a'+i))
		if _, err := leader.CreateTopic(ctxT(t), TopicSpec{Name: name, Partitions: 1, ReplicationFactor: 3}, false); err != nil {
			t.Fatal(err)
		}
		f := followers[i%len(followers)]
		if err := f.Sync(ctxT(t)); err != nil {
			t.Fatalf("Sync on node %d: %v", f.cfg.NodeID, err)
		}
		if f.State().Topics[name] == nil {
			t.Fatalf("node %d: topic %s missing after Sync", f.cfg.NodeID, name)
		}
	}
	if err := leader.Sync(ctxT(t)); err != nil {
		t.Fatalf("Sync on the controller: %v", err)
	}
}
