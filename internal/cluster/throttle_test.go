package cluster

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestClusterReassignThrottle: with the cluster-wide
// leader.replication.throttled.rate at 0, a replica being added gets no
// records while the partition's other follower keeps up; removing the
// throttle lets the reassignment finish.
func TestClusterReassignThrottle(t *testing.T) {
	c := New(t, 3, noAutoRebalance)
	createAssigned(t, c, "slow", []int32{1, 2})
	prod := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()))
	produceN(t, prod, "slow", 0, 20)
	adm := c.Admin()
	ctx := ctxFor(t, 60*time.Second)
	zero := "0"
	set := func(v *string, op kadm.IncrementalOp) {
		t.Helper()
		rs, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: op, Name: "leader.replication.throttled.rate", Value: v}})
		if err == nil {
			for _, r := range rs {
				if r.Err != nil {
					err = r.Err
				}
			}
		}
		if err != nil {
			t.Fatalf("alter broker configs: %v", err)
		}
	}
	set(&zero, kadm.SetConfig)
	c.WaitFor("every broker sees the throttle", 10*time.Second, func() bool {
		for _, b := range c.Brokers {
			if v, ok := b.Srv.Metadata().BrokerConfig(1, "leader.replication.throttled.rate"); !ok || v != "0" {
				return false
			}
		}
		return true
	})
	rcs, err := adm.DescribeBrokerConfigs(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, rc := range rcs {
		for _, cfg := range rc.Configs {
			if cfg.Key == "leader.replication.throttled.rate" {
				found = cfg.MaybeValue() == "0" && cfg.Source == kmsg.ConfigSourceDynamicDefaultBrokerConfig
			}
		}
	}
	if !found {
		t.Fatalf("broker 2's configs do not show the cluster-wide throttle: %+v", rcs)
	}
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign("slow", 0, []int32{1, 2, 3})
	if rs, err := adm.AlterPartitionAssignments(ctx, req); err != nil || rs["slow"][0].Err != nil {
		t.Fatalf("reassign: %v %+v", err, rs)
	}
	c.WaitFor("broker 3 hosts its (empty) copy", 10*time.Second, func() bool {
		_, ok := c.Broker(3).Srv.LocalReplica("slow", 0)
		return ok
	})
	produceN(t, prod, "slow", 20, 20) // acks=all: broker 2 fetched them
	c.WaitFor("broker 2 at the leader's log end", 10*time.Second, func() bool {
		l, _ := c.Broker(1).Srv.LocalReplica("slow", 0)
		f, _ := c.Broker(2).Srv.LocalReplica("slow", 0)
		return l.LogEndOffset == 40 && f.LogEndOffset == 40
	})
	if r, _ := c.Broker(3).Srv.LocalReplica("slow", 0); r.LogEndOffset != 0 {
		t.Fatalf("throttled replica got records: log end %d", r.LogEndOffset)
	}
	set(nil, kadm.DeleteConfig)
	c.WaitFor("reassignment done once unthrottled", 30*time.Second, func() bool {
		p := c.runningMeta().Topics["slow"].Partitions[0]
		ok, _ := c.replicasIdentical("slow", 0)
		return p.AddingReplicas == nil && slices.Equal(p.Replicas, []int32{1, 2, 3}) && ok
	})
}
