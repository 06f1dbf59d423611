package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/internal/chaoscheck"
	"github.com/strombroker/strom/raftmeta"
)

// waitBroker waits until every running broker sees broker id registered
// and alive.
func (c *Cluster) waitBroker(id int32) {
	c.t.Helper()
	c.WaitFor(fmt.Sprintf("broker %d registered and alive", id), 20*time.Second, func() bool {
		for _, b := range c.Brokers {
			if b.Srv == nil {
				continue
			}
			if bb, ok := b.Srv.Metadata().Brokers[id]; !ok || bb.Fenced {
				return false
			}
		}
		return true
	})
}

// runningMeta is the metadata as the first running broker sees it.
func (c *Cluster) runningMeta() *raftmeta.State {
	for _, b := range c.Brokers {
		if b.Srv != nil {
			return b.Srv.Metadata()
		}
	}
	c.t.Fatal("no broker running")
	return nil
}

// replicaCounts is how many replicas of topic each broker holds in the
// metadata, and whether a reassignment is still running.
func (c *Cluster) replicaCounts(topic string) (map[int32]int, bool) {
	st := c.runningMeta()
	counts := map[int32]int{}
	moving := false
	for _, p := range st.Topics[topic].Partitions {
		for _, id := range p.Replicas {
			counts[id]++
		}
		moving = moving || len(p.AddingReplicas) > 0 || len(p.RemovingReplicas) > 0
	}
	return counts, moving
}

// TestClusterRebalanceAddAndDrain: a 4th broker joins; `strom cluster
// rebalance --execute` moves replicas onto it while a producer and a
// consumer run, with nothing lost, and every copy ends identical; `strom
// cluster drain 4` then moves them all off, and broker 4 deletes its logs.
func TestClusterRebalanceAddAndDrain(t *testing.T) {
	const topic, partitions = "moving", 6
	c := New(t, 3)
	two := "2"
	ctx := ctxFor(t, 120*time.Second)
	if resp, err := c.Admin().CreateTopic(ctx, partitions, 3, map[string]*string{"min.insync.replicas": &two}, topic); err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}
	prod := chaoscheck.StartProducer(t, c.Seeds(), topic, chaoscheck.Options{Partitions: partitions, Pace: 5 * time.Millisecond,
		ClientOpts: []kgo.Opt{kgo.MetadataMinAge(250 * time.Millisecond)}})
	group := chaoscheck.StartReader(t, c.Seeds(), topic, kgo.ConsumerGroup("rebalance-readers"))
	prod.WaitAcks(ctx, t, 100, 30*time.Second, "first acknowledgements")

	b4 := c.Add()
	c.waitBroker(4)
	before := prod.AckCount()
	code, out, errOut := runCLI(t, "cluster", "rebalance", "--execute", "--brokers", c.Seeds()[0], "--timeout", "30s")
	if code != 0 {
		t.Fatalf("rebalance: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("rebalance plan:\n%s%s", out, errOut)
	var counts map[int32]int
	c.WaitFor("4-5 replicas on each broker, nothing moving", 10*time.Second, func() bool {
		var moving bool
		counts, moving = c.replicaCounts(topic)
		return !moving && counts[4] >= 4 && counts[1] <= 5 && counts[2] <= 5 && counts[3] <= 5
	})
	c.WaitFor("broker 4 leads some partitions (preferred leaders elected)", 10*time.Second, func() bool {
		for _, p := range c.runningMeta().Topics[topic].Partitions {
			if p.Leader == 4 {
				return true
			}
		}
		return false
	})
	prod.WaitAcks(ctx, t, before+100, 30*time.Second, "acknowledgements after the rebalance")
	prod.Stop(t, 60*time.Second)
	chaoscheck.Verify(context.Background(), t, c.Seeds(), topic, prod, group, chaoscheck.VerifyOptions{})
	group.Stop()
	c.WaitFor("every copy identical, broker 4's included", 30*time.Second, func() bool {
		for p := int32(0); p < partitions; p++ {
			if ok, _ := c.replicasIdentical(topic, p); !ok {
				return false
			}
		}
		return true
	})
	hosted := 0
	for p := int32(0); p < partitions; p++ {
		if _, ok := b4.Srv.LocalReplica(topic, p); ok {
			hosted++
		}
	}
	if hosted != counts[4] {
		t.Fatalf("broker 4 hosts %d replicas locally, metadata says %d", hosted, counts[4])
	}

	code, out, errOut = runCLI(t, "cluster", "drain", "4", "--brokers", c.Seeds()[0], "--timeout", "30s")
	if code != 0 {
		t.Fatalf("drain: exit %d\n%s\n%s", code, out, errOut)
	}
	c.WaitFor("no replica on broker 4", 10*time.Second, func() bool {
		counts, moving := c.replicaCounts(topic)
		return !moving && counts[4] == 0
	})
	c.WaitFor("broker 4 deleted its copies", 20*time.Second, func() bool {
		for p := int32(0); p < partitions; p++ {
			if _, ok := b4.Srv.LocalReplica(topic, p); ok {
				return false
			}
		}
		return true
	})
	acked := prod.AckCount()
	if got := len(chaoscheck.ReadLog(ctx, t, c.Seeds(), topic, partitions, 60*time.Second)); got < acked {
		t.Fatalf("after drain the log holds %d records, %d were acknowledged", got, acked)
	}
}

// TestClusterReassignCancelAndList: kadm's ListPartitionReassignments shows a
// running reassignment (to a broker that is down, so it cannot finish) and
// cancelling it restores the original replicas.
func TestClusterReassignCancelAndList(t *testing.T) {
	c := New(t, 3)
	c.Add()
	c.waitBroker(4)
	ctx := ctxFor(t, 60*time.Second)
	adm := c.Admin()
	if resp, err := adm.CreateTopic(ctx, 1, 2, nil, "stuck"); err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}
	var orig []int32
	c.WaitFor("topic in broker 1's metadata", 10*time.Second, func() bool {
		t := c.Brokers[0].Srv.Metadata().Topics["stuck"]
		if t != nil {
			orig = t.Partitions[0].Replicas
		}
		return t != nil
	})
	// Move the second replica to a broker that is down, so the
	// reassignment cannot complete.
	down := int32(1)
	for slices.Contains(orig, down) {
		down++
	}
	c.Stop(down)
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign("stuck", 0, []int32{orig[0], down})
	resps, err := adm.AlterPartitionAssignments(ctx, req)
	if err != nil || resps["stuck"][0].Err != nil {
		t.Fatalf("alter: %v %+v", err, resps)
	}
	ls, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{"stuck": nil})
	if err != nil {
		t.Fatal(err)
	}
	got := ls["stuck"][0]
	if !slices.Equal(got.AddingReplicas, []int32{down}) || !slices.Equal(got.Replicas, []int32{orig[0], down, orig[1]}) {
		t.Fatalf("listed %+v", got)
	}
	code, out, errOut := runCLI(t, "cluster", "status", "--brokers", c.Seeds()[0])
	_, listed, _ := strings.Cut(out, "reassignments in progress: 1\n")
	want := fmt.Sprintf("stuck 0 %d,%d,%d %d %d", orig[0], down, orig[1], down, orig[1])
	if code != 0 || !strings.Contains(strings.Join(strings.Fields(listed), " "), want) {
		t.Fatalf("cluster status: exit %d, want %q in\n%s%s", code, want, out, errOut)
	}
	var cancel kadm.AlterPartitionAssignmentsReq
	cancel.Assign("stuck", 0, nil)
	if resps, err := adm.AlterPartitionAssignments(ctx, cancel); err != nil || resps["stuck"][0].Err != nil {
		t.Fatalf("cancel: %v %+v", err, resps)
	}
	c.WaitFor("original replicas back", 10*time.Second, func() bool {
		p := c.runningMeta().Topics["stuck"].Partitions[0]
		return slices.Equal(p.Replicas, orig) && p.AddingReplicas == nil
	})
	resps, err = adm.AlterPartitionAssignments(ctx, cancel)
	if err == nil {
		err = resps["stuck"][0].Err
	}
	if err == nil || !errors.Is(err, kerr.NoReassignmentInProgress) {
		t.Fatalf("second cancel = %v, want NO_REASSIGNMENT_IN_PROGRESS", err)
	}
}

// TestClusterCLIReassignAndElect: `strom topic reassign` moves a partition
// and waits for it; reordering the replicas changes only the preferred
// leader, which `strom leader elect` then installs.
func TestClusterCLIReassignAndElect(t *testing.T) {
	c := New(t, 3, noAutoRebalance)
	createAssigned(t, c, "cli", []int32{1, 2})
	produceN(t, c.Client(kgo.RequiredAcks(kgo.AllISRAcks())), "cli", 0, 10)
	seed := c.Seeds()[0]
	code, out, errOut := runCLI(t, "topic", "reassign", "cli", "--partition", "0", "--replicas", "3,1", "--brokers", seed)
	if code != 0 || !strings.Contains(out, "reassigned") {
		t.Fatalf("topic reassign: exit %d\n%s\n%s", code, out, errOut)
	}
	c.WaitFor("replicas [3 1], copies identical", 20*time.Second, func() bool {
		p := c.runningMeta().Topics["cli"].Partitions[0]
		ok, _ := c.replicasIdentical("cli", 0)
		return slices.Equal(p.Replicas, []int32{3, 1}) && ok
	})
	// Once the data moved, the command elected the new preferred replica.
	c.WaitFor("broker 3 leads", 10*time.Second, func() bool { l, _ := c.partitionState("cli"); return l == 3 })
	// Reordering moves no data: done at once, and without waiting the
	// command elects nothing; `leader elect` installs broker 1.
	code, out, errOut = runCLI(t, "topic", "reassign", "cli", "--partition", "0", "--replicas", "1,3", "--no-wait", "--brokers", seed)
	if code != 0 {
		t.Fatalf("reorder: exit %d\n%s\n%s", code, out, errOut)
	}
	if l, _ := c.partitionState("cli"); l != 3 {
		t.Fatalf("leader %d after a reorder, want 3 until elected", l)
	}
	if code, out, errOut = runCLI(t, "leader", "elect", "--brokers", seed); code != 0 || !strings.Contains(out, "cli-0: elected") {
		t.Fatalf("leader elect (all): exit %d\n%s\n%s", code, out, errOut)
	}
	c.WaitFor("broker 1 leads", 10*time.Second, func() bool { l, _ := c.partitionState("cli"); return l == 1 })
	code, out, _ = runCLI(t, "leader", "elect", "--topic", "cli", "--brokers", seed)
	if code != 0 || !strings.Contains(out, "ELECTION_NOT_NEEDED") {
		t.Fatalf("second elect: exit %d %q", code, out)
	}
	code, _, errOut = runCLI(t, "topic", "reassign", "cli", "--partition", "0", "--replicas", "1,9", "--brokers", seed)
	if code != 1 || !strings.Contains(errOut, "INVALID_REPLICA_ASSIGNMENT") {
		t.Fatalf("unknown broker: exit %d %q", code, errOut)
	}
}

// TestClusterReassignControllerFailover: a reassignment that cannot finish
// (its new replica's broker is down) survives the controller's death; once
// that broker is back, the new controller completes it.
func TestClusterReassignControllerFailover(t *testing.T) {
	c := New(t, 3)
	c.Add()
	c.waitBroker(4)
	createAssigned(t, c, "fo", []int32{2, 3})
	produceN(t, c.Client(kgo.RequiredAcks(kgo.AllISRAcks())), "fo", 0, 10)
	c.Stop(4)
	ctx := ctxFor(t, 60*time.Second)
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign("fo", 0, []int32{3, 4})
	if rs, err := c.Admin().AlterPartitionAssignments(ctx, req); err != nil || rs["fo"][0].Err != nil {
		t.Fatalf("reassign: %v %+v", err, rs)
	}
	ctl := c.controllerID()
	c.Stop(ctl)
	c.WaitFor("a new controller", 20*time.Second, func() bool { id := c.controllerID(); return id > 0 && id != ctl })
	if p := c.runningMeta().Topics["fo"].Partitions[0]; !slices.Equal(p.AddingReplicas, []int32{4}) {
		t.Fatalf("the new controller's state lost the reassignment: %+v", p)
	}
	c.Restart(4)
	c.Restart(ctl)
	c.WaitFor("reassignment completed by the new controller, copies identical", 30*time.Second, func() bool {
		p := c.runningMeta().Topics["fo"].Partitions[0]
		ok, _ := c.replicasIdentical("fo", 0)
		_, on2 := c.Broker(2).Srv.LocalReplica("fo", 0)
		return p.AddingReplicas == nil && slices.Equal(p.Replicas, []int32{3, 4}) && ok && !on2
	})
	if got := consumeAll(t, c, "fo", 10); len(got) != 10 {
		t.Fatalf("read back %d records, want 10", len(got))
	}
}
