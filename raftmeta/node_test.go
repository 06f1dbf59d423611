package raftmeta

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestNodeSingleRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, 1, dir)

	n, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitController(t, n)
	if !n.IsController() {
		t.Fatal("single voter is not controller after WaitController")
	}
	s := n.State()
	if len(s.ClusterID) != 22 {
		t.Fatalf("cluster id %q, want 22 chars", s.ClusterID)
	}
	if s.ControllerID != 1 {
		t.Fatalf("ControllerID = %d, want 1", s.ControllerID)
	}
	ctx := ctxT(t)
	if err := n.RegisterBroker(ctx, Broker{ID: 1, Listeners: []Listener{{Name: "PLAINTEXT", Host: "localhost", Port: 9092}}}); err != nil {
		t.Fatal(err)
	}
	top, err := n.CreateTopic(ctx, TopicSpec{Name: "orders", Partitions: 3, ReplicationFactor: 1, Configs: map[string]string{"cleanup.policy": "compact"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Partitions) != 3 || top.Partitions[2].Leader != 1 || top.ID == ([16]byte{}) {
		t.Fatalf("unexpected topic %+v", top)
	}
	first, err := n.AllocateProducerIDs(ctx, 1000)
	if err != nil || first != 0 {
		t.Fatalf("AllocateProducerIDs = %d, %v; want 0", first, err)
	}
	if got := n.State().Topics["orders"]; got == nil || got.ID != top.ID {
		t.Fatalf("State does not show the topic: %+v", got)
	}
	clusterID := n.State().ClusterID
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := n.RegisterBroker(ctx, Broker{ID: 2}); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after Close = %v, want ErrClosed", err)
	}

	// Reopen the same directory: same state, no second bootstrap.
	cfg2 := cfg
	n2 := openNode(t, cfg2)
	waitController(t, n2)
	s2 := n2.State()
	if s2.ClusterID != clusterID {
		t.Fatalf("cluster id changed across restart: %q -> %q", clusterID, s2.ClusterID)
	}
	got := s2.Topics["orders"]
	if got == nil || got.ID != top.ID || got.Configs["cleanup.policy"] != "compact" || len(got.Partitions) != 3 {
		t.Fatalf("topic after restart: %+v", got)
	}
	if s2.TopicsByID[top.ID] != got {
		t.Fatal("TopicsByID not rebuilt")
	}
	if s2.NextProducerID != 1000 {
		t.Fatalf("NextProducerID after restart = %d, want 1000", s2.NextProducerID)
	}
	next, err := n2.AllocateProducerIDs(ctx, 10)
	if err != nil || next != 1000 {
		t.Fatalf("AllocateProducerIDs after restart = %d, %v; want 1000", next, err)
	}
	cf := n2.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		t.Fatal(err)
	}
	if servers := cf.Configuration().Servers; len(servers) != 1 || servers[0].ID != "1" {
		t.Fatalf("raft configuration after restart: %+v", servers)
	}
	// One bootstrap means exactly one configuration entry at the start of the log.
	if _, err := os.Stat(filepath.Join(dir, "raft", "raft.db")); err != nil {
		t.Fatal(err)
	}
}

// With production timers a sole voter still elects itself at once (the
// election kick) and the configured timers are back in force afterwards.
func TestNodeSoloDefaultTimers(t *testing.T) {
	cfg := testConfig(t, 7, t.TempDir())
	d := DefaultConfig()
	cfg.HeartbeatTimeout, cfg.ElectionTimeout = d.HeartbeatTimeout, d.ElectionTimeout
	cfg.LeaderLeaseTimeout, cfg.CommitTimeout = d.LeaderLeaseTimeout, d.CommitTimeout
	n := openNode(t, cfg)
	waitController(t, n)
	if got := n.State().ControllerID; got != 7 {
		t.Fatalf("ControllerID = %d, want 7", got)
	}
	rc := n.raft.ReloadableConfig()
	if rc.HeartbeatTimeout != d.HeartbeatTimeout || rc.ElectionTimeout != d.ElectionTimeout {
		t.Fatalf("raft timers not restored: heartbeat %v election %v", rc.HeartbeatTimeout, rc.ElectionTimeout)
	}
}
