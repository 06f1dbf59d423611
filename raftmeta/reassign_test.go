package raftmeta

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// applyOne applies one entry after the fsm's current index and returns its result.
func applyOne(t testing.TB, f *fsm, data []byte) applyResult {
	t.Helper()
	return f.Apply(&raft.Log{Index: f.current().Index + 1, Type: raft.LogCommand, Data: data}).(applyResult)
}

func reassignCmd(t testing.TB, r Reassignment) []byte {
	return cmd(t, cmdReassignPartition, reassignPartitionCmd{R: r})
}

func TestReassignStateMachine(t *testing.T) {
	f, _ := testFSM(t)
	applyLog(t, f, baseLog(t))
	applyLog(t, f, [][]byte{cmd(t, cmdRegisterBroker, registerBrokerCmd{Broker: Broker{ID: 4}})})

	// a-0 is [1 2] led by 1; move it to [3 4]: both adding, both removing.
	res := applyOne(t, f, reassignCmd(t, Reassignment{Topic: "a", Partition: 0, Op: ReassignStart, Target: []int32{3, 4}}))
	if res.err != nil {
		t.Fatal(res.err)
	}
	p := res.partition
	if !slices.Equal(p.Replicas, []int32{3, 4, 1, 2}) || !slices.Equal(p.AddingReplicas, []int32{3, 4}) ||
		!slices.Equal(p.RemovingReplicas, []int32{1, 2}) || p.Leader != 1 || !slices.Equal(p.ISR, []int32{1, 2}) {
		t.Fatalf("started: %+v", p)
	}
	// Not ready: completing fails.
	if res := applyOne(t, f, reassignCmd(t, Reassignment{Topic: "a", Op: ReassignComplete, PartitionEpoch: p.PartitionEpoch})); !errors.Is(res.err, ErrReassignmentNotReady) {
		t.Fatalf("complete before ISR = %v", res.err)
	}
	// The leader adds 3 and 4 to the ISR.
	res = applyOne(t, f, cmd(t, cmdSetPartitionState, setPartitionStateCmd{Change: PartitionChange{Topic: "a", Leader: 1, ISR: []int32{1, 2, 3, 4}, PartitionEpoch: p.PartitionEpoch}}))
	if res.err != nil || !ReassignmentReady(res.partition) {
		t.Fatalf("ISR expand: %v %+v", res.err, res.partition)
	}
	p = res.partition
	if res := applyOne(t, f, reassignCmd(t, Reassignment{Topic: "a", Op: ReassignComplete, PartitionEpoch: p.PartitionEpoch - 1})); !errors.Is(res.err, ErrStalePartitionEpoch) {
		t.Fatalf("stale complete = %v", res.err)
	}
	res = applyOne(t, f, reassignCmd(t, Reassignment{Topic: "a", Op: ReassignComplete, PartitionEpoch: p.PartitionEpoch}))
	if res.err != nil {
		t.Fatal(res.err)
	}
	q := res.partition
	if !slices.Equal(q.Replicas, []int32{3, 4}) || q.AddingReplicas != nil || q.RemovingReplicas != nil ||
		q.Leader != 3 || q.LeaderEpoch != p.LeaderEpoch+1 || !slices.Equal(q.ISR, []int32{3, 4}) {
		t.Fatalf("completed: %+v (from %+v)", q, p)
	}
	if res := applyOne(t, f, reassignCmd(t, Reassignment{Topic: "a", Op: ReassignCancel})); !errors.Is(res.err, ErrNoReassignmentInProgress) {
		t.Fatalf("cancel with none running = %v", res.err)
	}
}

func TestReassignCancelReplaceAndShrink(t *testing.T) {
	f, _ := testFSM(t)
	applyLog(t, f, baseLog(t))
	applyLog(t, f, [][]byte{cmd(t, cmdRegisterBroker, registerBrokerCmd{Broker: Broker{ID: 4}})})
	start := func(target ...int32) Partition {
		t.Helper()
		res := applyOne(t, f, reassignCmd(t, Reassignment{Topic: "a", Partition: 1, Op: ReassignStart, Target: target}))
		if res.err != nil {
			t.Fatal(res.err)
		}
		return res.partition
	}
	// a-1 is [2 3]. Start [2 4], then replace with [1 2]: computed from the
	// original [2 3], not from [2 4 3].
	p := start(2, 4)
	if !slices.Equal(p.Replicas, []int32{2, 4, 3}) {
		t.Fatalf("start: %+v", p)
	}
	p = start(1, 2)
	if !slices.Equal(p.Replicas, []int32{1, 2, 3}) || !slices.Equal(p.AddingReplicas, []int32{1}) || !slices.Equal(p.RemovingReplicas, []int32{3}) {
		t.Fatalf("replace: %+v", p)
	}
	res := applyOne(t, f, reassignCmd(t, Reassignment{Topic: "a", Partition: 1, Op: ReassignCancel}))
	if res.err != nil || !slices.Equal(res.partition.Replicas, []int32{2, 3}) || res.partition.AddingReplicas != nil || res.partition.Leader != 2 {
		t.Fatalf("cancel: %v %+v", res.err, res.partition)
	}
	// Shrinking the replica set adds nothing: done in one command, and the
	// leader (2) moves to the first remaining ISR member.
	p = start(3)
	if !slices.Equal(p.Replicas, []int32{3}) || p.Leader != 3 || !slices.Equal(p.ISR, []int32{3}) || p.AddingReplicas != nil {
		t.Fatalf("shrink: %+v", p)
	}
	// Invalid targets.
	for _, target := range [][]int32{{9}, {3, 3}, nil} {
		res := applyOne(t, f, reassignCmd(t, Reassignment{Topic: "a", Partition: 1, Op: ReassignStart, Target: target}))
		if !errors.Is(res.err, ErrInvalidReplicaAssignment) {
			t.Fatalf("target %v = %v", target, res.err)
		}
	}
	// A running reassignment survives a snapshot round trip.
	start(3, 4)
	var g *fsm
	g, _ = testFSM(t)
	if err := g.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, f.current())))); err != nil {
		t.Fatal(err)
	}
	if got := g.current().Topics["a"].Partitions[1]; !slices.Equal(got.AddingReplicas, []int32{4}) {
		t.Fatalf("after restore: %+v", got)
	}
}

// TestClusterReassignFailover starts a reassignment, kills the controller
// and completes it on the new one: the state is in the raft log.
func TestClusterReassignFailover(t *testing.T) {
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
			t.Fatal(err)
		}
	}
	for id := int32(1); id <= 3; id++ {
		if err := n1.RegisterBroker(ctx, Broker{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n1.CreateTopic(ctx, TopicSpec{Name: "r", Assignment: [][]int32{{1, 2}}}, false); err != nil {
		t.Fatal(err)
	}
	// Started through a follower (forwarded).
	p, err := nodes[2].ReassignPartition(ctx, Reassignment{Topic: "r", Op: ReassignStart, Target: []int32{2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	waitSameState(t, nodes)
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
	got := leader.State().Topics["r"].Partitions[0]
	if !slices.Equal(got.AddingReplicas, []int32{3}) || !slices.Equal(got.RemovingReplicas, []int32{1}) {
		t.Fatalf("new controller lost the reassignment: %+v", got)
	}
	p, err = leader.AlterPartition(ctx, PartitionChange{Topic: "r", Leader: 1, ISR: []int32{1, 2, 3}, PartitionEpoch: p.PartitionEpoch})
	if err != nil {
		t.Fatal(err)
	}
	p, err = leader.ReassignPartition(ctx, Reassignment{Topic: "r", Op: ReassignComplete, PartitionEpoch: p.PartitionEpoch})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Replicas, []int32{2, 3}) || p.Leader != 2 {
		t.Fatalf("completed: %+v", p)
	}
	waitSameState(t, nodes[1:])
}

func TestAlterBrokerConfigs(t *testing.T) {
	f, _ := testFSM(t)
	applyLog(t, f, baseLog(t))
	rate := "1048576"
	applyLog(t, f, [][]byte{
		cmd(t, cmdAlterBrokerConfigs, alterBrokerConfigsCmd{Broker: 2, Ops: []ConfigOp{{Key: "leader.replication.throttled.rate", Value: &rate}}}),
		cmd(t, cmdAlterBrokerConfigs, alterBrokerConfigsCmd{Broker: DefaultBrokerConfigs, Ops: []ConfigOp{{Key: "follower.replication.throttled.rate", Value: &rate}}}),
	})
	s := f.current()
	if v, ok := s.BrokerConfig(2, "leader.replication.throttled.rate"); !ok || v != rate {
		t.Fatalf("broker 2: %q %v", v, ok)
	}
	if v, ok := s.BrokerConfig(3, "follower.replication.throttled.rate"); !ok || v != rate {
		t.Fatalf("default for broker 3: %q %v", v, ok)
	}
	g, _ := testFSM(t)
	if err := g.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, s)))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snapshotBytes(t, g.current()), snapshotBytes(t, s)) {
		t.Fatal("snapshot round trip changed the broker configs")
	}
	applyLog(t, f, [][]byte{cmd(t, cmdAlterBrokerConfigs, alterBrokerConfigsCmd{Broker: 2, Ops: []ConfigOp{{Key: "leader.replication.throttled.rate"}}})})
	if _, ok := f.current().BrokerConfig(2, "leader.replication.throttled.rate"); ok {
		t.Fatal("deleted config still set")
	}
	if res := applyOne(t, f, cmd(t, cmdAlterBrokerConfigs, alterBrokerConfigsCmd{Broker: -2})); !errors.Is(res.err, ErrInvalidBroker) {
		t.Fatalf("broker -2: %v", res.err)
	}
}

// TestCreatePartitionsDuringReassignment: new partitions get the topic's
// replication factor, not the longer replica list of a partition being
// reassigned.
func TestCreatePartitionsDuringReassignment(t *testing.T) {
	f, _ := testFSM(t)
	applyLog(t, f, baseLog(t))
	applyLog(t, f, [][]byte{reassignCmd(t, Reassignment{Topic: "a", Partition: 0, Op: ReassignStart, Target: []int32{2, 3}})})
	cmd, err := planPartitions(f.current(), "a", 3, nil, func(n int) (int, int) { return 0, 0 })
	if err != nil {
		t.Fatal(err)
	}
	if len(cmd.Replicas) != 1 || len(cmd.Replicas[0]) != 2 {
		t.Fatalf("new partition replicas %v, want 2 of them", cmd.Replicas)
	}
}
