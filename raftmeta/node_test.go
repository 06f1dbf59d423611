package raftmeta

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
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
	// Snapshot now and write more after it, so the restart below restores
	// the snapshot from DataDir and replays the log tail on top of it.
	if err := n.raft.Snapshot().Error(); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if snaps, _ := filepath.Glob(filepath.Join(dir, "raft", "snapshots", "*", "state.bin")); len(snaps) != 1 {
		t.Fatalf("snapshot files: %v", snaps)
	}
	if first, err = n.AllocateProducerIDs(ctx, 1000); err != nil || first != 1000 {
		t.Fatalf("AllocateProducerIDs after snapshot = %d, %v; want 1000", first, err)
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
	if s2.NextProducerID != 2000 {
		t.Fatalf("NextProducerID after restart = %d, want 2000", s2.NextProducerID)
	}
	next, err := n2.AllocateProducerIDs(ctx, 10)
	if err != nil || next != 2000 {
		t.Fatalf("AllocateProducerIDs after restart = %d, %v; want 2000", next, err)
	}
	cf := n2.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		t.Fatal(err)
	}
	if servers := cf.Configuration().Servers; len(servers) != 1 || servers[0].ID != "1" {
		t.Fatalf("raft configuration after restart: %+v", servers)
	}
	// Bootstrapping writes the only configuration entry of a one-voter
	// cluster; a second bootstrap would have written another.
	firstIdx, _ := n2.stores.log.FirstIndex()
	lastIdx, _ := n2.stores.log.LastIndex()
	configs := 0
	for i := firstIdx; i <= lastIdx; i++ {
		var l raft.Log
		if err := n2.stores.log.GetLog(i, &l); err != nil {
			t.Fatalf("GetLog(%d): %v", i, err)
		}
		if l.Type == raft.LogConfiguration {
			configs++
		}
	}
	if configs != 1 {
		t.Fatalf("%d configuration entries in the log, want 1 (bootstrapped once)", configs)
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

// soloNode is an established single-voter node with brokers 1..3 registered.
func soloNode(t *testing.T) *Node {
	t.Helper()
	n := openNode(t, testConfig(t, 1, t.TempDir()))
	waitController(t, n)
	for id := int32(1); id <= 3; id++ {
		if err := n.RegisterBroker(ctxT(t), Broker{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func TestNodeTopicLifecycle(t *testing.T) {
	n := soloNode(t)
	ctx := ctxT(t)

	// validateOnly checks everything and proposes nothing.
	idx := n.State().Index
	vt, err := n.CreateTopic(ctx, TopicSpec{Name: "t", Partitions: 4, ReplicationFactor: 3}, true)
	if err != nil || vt == nil || len(vt.Partitions) != 4 {
		t.Fatalf("validateOnly = %+v, %v", vt, err)
	}
	if _, err := n.CreateTopic(ctx, TopicSpec{Name: "t", Partitions: 4, ReplicationFactor: 4}, true); !errors.Is(err, ErrInvalidReplicationFactor) {
		t.Fatalf("validateOnly rf 4 = %v", err)
	}
	if s := n.State(); s.Index != idx || s.Topics["t"] != nil {
		t.Fatal("validateOnly changed the state")
	}

	changed := n.Changed()
	top, err := n.CreateTopic(ctx, TopicSpec{Name: "t", Partitions: 4, ReplicationFactor: 3}, false)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("Changed not closed after CreateTopic applied")
	}
	if _, err := n.CreateTopic(ctx, TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 1}, false); !errors.Is(err, ErrTopicExists) {
		t.Fatalf("duplicate = %v", err)
	}
	if _, err := n.CreateTopic(ctx, TopicSpec{Name: "u", Assignment: [][]int32{{1, 9}}}, false); !errors.Is(err, ErrInvalidReplicaAssignment) {
		t.Fatalf("bad assignment = %v", err)
	}
	for _, p := range top.Partitions {
		if p.Leader != p.Replicas[0] || !slices.Equal(p.ISR, p.Replicas) || p.LeaderEpoch != 0 {
			t.Fatalf("new partition %+v", p)
		}
	}

	if err := n.CreatePartitions(ctx, "t", 6, nil, true); err != nil {
		t.Fatal(err)
	}
	if got := len(n.State().Topics["t"].Partitions); got != 4 {
		t.Fatalf("validateOnly CreatePartitions grew the topic to %d", got)
	}
	if err := n.CreatePartitions(ctx, "t", 6, nil, false); err != nil {
		t.Fatal(err)
	}
	if err := n.CreatePartitions(ctx, "t", 6, nil, false); !errors.Is(err, ErrInvalidPartitions) {
		t.Fatalf("same total = %v", err)
	}
	if err := n.CreatePartitions(ctx, "t", 7, [][]int32{{3, 2, 1}}, false); err != nil {
		t.Fatal(err)
	}
	if got := n.State().Topics["t"].Partitions; len(got) != 7 || got[6].Leader != 3 {
		t.Fatalf("partitions after growth: %+v", got)
	}

	if err := n.AlterTopicConfigs(ctx, "t", []ConfigOp{{Key: "retention.ms", Value: strp("60000")}}); err != nil {
		t.Fatal(err)
	}
	if got := n.State().Topics["t"].Configs["retention.ms"]; got != "60000" {
		t.Fatalf("config = %q", got)
	}
	if err := n.AlterTopicConfigs(ctx, "nope", nil); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("alter unknown = %v", err)
	}

	p, err := n.AlterPartition(ctx, PartitionChange{Topic: "t", Partition: 0, Leader: top.Partitions[0].Replicas[1], ISR: top.Partitions[0].Replicas[1:]})
	if err != nil || p.LeaderEpoch != 1 || p.PartitionEpoch != 1 {
		t.Fatalf("AlterPartition = %+v, %v", p, err)
	}
	if _, err := n.AlterPartition(ctx, PartitionChange{Topic: "t", Partition: 0, Leader: p.Leader, ISR: p.ISR}); !errors.Is(err, ErrStalePartitionEpoch) {
		t.Fatalf("stale AlterPartition = %v", err)
	}

	if err := n.DeleteTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if err := n.DeleteTopic(ctx, "t"); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("second delete = %v", err)
	}
	if s := n.State(); len(s.Topics) != 0 || len(s.TopicsByID) != 0 {
		t.Fatalf("topics left: %v", s.Topics)
	}
}

func TestNodeProducerIDs(t *testing.T) {
	n := soloNode(t)
	ctx := ctxT(t)
	var next int64
	for _, count := range []int64{1, 1000, 7} {
		first, err := n.AllocateProducerIDs(ctx, count)
		if err != nil || first != next {
			t.Fatalf("AllocateProducerIDs(%d) = %d, %v; want %d", count, first, err, next)
		}
		next += count
	}
	if _, err := n.AllocateProducerIDs(ctx, 0); !errors.Is(err, ErrInvalidProducerIDCount) {
		t.Fatalf("count 0 = %v", err)
	}
	if got := n.State().NextProducerID; got != next {
		t.Fatalf("NextProducerID = %d, want %d", got, next)
	}
}

func TestNodeCanceledContext(t *testing.T) {
	n := soloNode(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.RegisterBroker(ctx, Broker{ID: 4}); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled write = %v", err)
	}
	if err := n.WaitController(ctx); err != nil {
		t.Fatalf("WaitController on an established node = %v", err)
	}
}

func TestNodeWaitControllerWithoutCluster(t *testing.T) {
	cfg := testConfig(t, 1, t.TempDir())
	cfg.BootstrapSelf = false // nobody bootstraps: no controller ever
	n := openNode(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := n.WaitController(ctx); !errors.Is(err, ErrNoController) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitController = %v, want ErrNoController and DeadlineExceeded", err)
	}
	// A write retries until ctx ends, then says why it could not run.
	wctx, wcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer wcancel()
	if _, err := n.CreateTopic(wctx, TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 1}, false); !errors.Is(err, ErrNotController) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("write without controller = %v, want ErrNotController and DeadlineExceeded", err)
	}
	if s := n.State(); s == nil || s.ControllerID != -1 {
		t.Fatalf("State = %+v", s)
	}
}

func TestNodeRefusesOtherNodesDataDir(t *testing.T) {
	dir := t.TempDir()
	n, err := Open(testConfig(t, 1, dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(testConfig(t, 2, dir)); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Open as node 2 = %v, want ErrInvalidConfig", err)
	}
	// The failed Open released the store: node 1 can still open it.
	openNode(t, testConfig(t, 1, dir))
}

func TestConfigValidate(t *testing.T) {
	valid := DefaultConfig()
	valid.DataDir = t.TempDir()
	if err := valid.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	noBind := valid
	noBind.RaftBind = ""
	if err := noBind.Validate(); err != nil {
		t.Fatalf("empty RaftBind (defaults to loopback) invalid: %v", err)
	}
	fast := valid
	FastTimers(&fast)
	if err := fast.Validate(); err != nil {
		t.Fatalf("FastTimers config invalid: %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"negative id":    func(c *Config) { c.NodeID = -1 },
		"no data dir":    func(c *Config) { c.DataDir = "" },
		"lease > hb":     func(c *Config) { c.LeaderLeaseTimeout = 2 * c.HeartbeatTimeout },
		"election < hb":  func(c *Config) { c.ElectionTimeout = c.HeartbeatTimeout / 2 },
		"zero commit":    func(c *Config) { c.CommitTimeout = 0 },
		"tiny heartbeat": func(c *Config) { c.HeartbeatTimeout = time.Millisecond },
		"zero lease":     func(c *Config) { c.LeaderLeaseTimeout = 0 },
	} {
		c := valid
		mutate(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", name, err)
		}
		if _, err := Open(c); err == nil {
			t.Errorf("%s: Open succeeded", name)
		}
	}
}

func TestListenRaftAdvertise(t *testing.T) {
	s, err := listenRaft("127.0.0.1:0", "", nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr().String() != s.ln.Addr().String() {
		t.Fatalf("advertise %v, bound %v", s.Addr(), s.ln.Addr())
	}
	s.Close()

	s, err = listenRaft("127.0.0.1:0", "broker-0.strom:0", nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(s.ln.Addr().String())
	if want := "broker-0.strom:" + port; s.Addr().String() != want {
		t.Fatalf("advertise %v, want %v", s.Addr(), want)
	}
	s.Close()

	if _, err := listenRaft("0.0.0.0:0", "", nil, nil, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("wildcard bind without advertise = %v", err)
	}
	if _, err := listenRaft("127.0.0.1:0", "nohostport", nil, nil, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("bad advertise = %v", err)
	}
}

// TestControllerIDRecoversFromMissedObservation: a leader change raft never
// reported (it happened before the observer was registered, or the
// observation was dropped) must not leave State().ControllerID at -1, which
// Metadata hands to clients, until the next election.
func TestControllerIDRecoversFromMissedObservation(t *testing.T) {
	n := openNode(t, testConfig(t, 1, t.TempDir()))
	waitController(t, n)
	n.controllerID.Store(-1) // as if the observation had been missed
	n.publish()
	checkFor(t, 5*time.Second, func() error {
		if id := n.State().ControllerID; id != 1 {
			return fmt.Errorf("State().ControllerID = %d", id)
		}
		return nil
	})
}
