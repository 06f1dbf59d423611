package cluster

import (
	"crypto/rand"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/server"
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

// TestClusterFollowerThrottleAcrossLeaders: broker 3, being added to two
// partitions led by brokers 1 and 2, with follower.replication.throttled.rate
// at 200 KB/s, fetches their 800 KB at that rate over both leaders
// together (Kafka's one follower quota per broker): at least (800 − 200
// of burst) / 200 = 3 s, where a budget per leader would take 1 s. Each
// reassignment completes once broker 3 is in sync.
func TestClusterFollowerThrottleAcrossLeaders(t *testing.T) {
	c := New(t, 3, noAutoRebalance)
	createAssigned(t, c, "ta", []int32{1, 2})
	createAssigned(t, c, "tb", []int32{2, 1})
	prod := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	ctx := ctxFor(t, 60*time.Second)
	value := make([]byte, 10000)
	for _, topic := range []string{"ta", "tb"} {
		for range 40 {
			rand.Read(value)
			if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: value}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	adm := c.Admin()
	rate := "200000"
	rs, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "follower.replication.throttled.rate", Value: &rate}}, 3)
	if err != nil || rs[0].Err != nil {
		t.Fatalf("alter broker 3 configs: %v %+v", err, rs)
	}
	c.WaitFor("broker 3 sees its throttle", 10*time.Second, func() bool {
		v, ok := c.Broker(3).Srv.Metadata().BrokerConfig(3, "follower.replication.throttled.rate")
		return ok && v == rate
	})
	start := time.Now()
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign("ta", 0, []int32{1, 2, 3})
	req.Assign("tb", 0, []int32{2, 1, 3})
	if rs, err := adm.AlterPartitionAssignments(ctx, req); err != nil || rs["ta"][0].Err != nil || rs["tb"][0].Err != nil {
		t.Fatalf("reassign: %v %+v", err, rs)
	}
	c.WaitFor("brokers 1 and 2 each report one reassigning partition", 10*time.Second, func() bool {
		for _, id := range []int32{1, 2} {
			if metricSum(t, c.Broker(id).Srv.Metrics(), "kafka_server_replicamanager_reassigningpartitions", nil) != 1 {
				return false
			}
		}
		return true
	})
	c.WaitFor("both reassignments done", 30*time.Second, func() bool {
		st := c.runningMeta()
		for _, topic := range []string{"ta", "tb"} {
			if p := st.Topics[topic].Partitions[0]; p.AddingReplicas != nil || len(p.Replicas) != 3 {
				return false
			}
		}
		return true
	})
	took := time.Since(start)
	t.Logf("800 KB to broker 3 at 200 KB/s over two leaders: %v", took)
	if took < 2500*time.Millisecond {
		t.Fatalf("throttled reassignment of 800 KB at 200 KB/s took %v, want >= ~3 s", took)
	}
	for _, topic := range []string{"ta", "tb"} {
		if ok, why := c.replicasIdentical(topic, 0); !ok {
			t.Fatalf("%s: %s", topic, why)
		}
	}
	in := metricSum(t, c.Broker(3).Srv.Metrics(), "kafka_server_brokertopicmetrics_reassignmentbytesin_total", nil)
	out := metricSum(t, c.Broker(1).Srv.Metrics(), "kafka_server_brokertopicmetrics_reassignmentbytesout_total", nil) +
		metricSum(t, c.Broker(2).Srv.Metrics(), "kafka_server_brokertopicmetrics_reassignmentbytesout_total", nil)
	if in < 800000 || out < 800000 {
		t.Fatalf("reassignment bytes in %v (broker 3), out %v (brokers 1, 2), want >= 800000 each", in, out)
	}
	c.WaitFor("no reassigning partition left", 10*time.Second, func() bool {
		return metricSum(t, c.Broker(1).Srv.Metrics(), "kafka_server_replicamanager_reassigningpartitions", nil) == 0
	})
}

// TestClusterReassignCompletesOnISR: with the controller's periodic tick at
// a minute, a reassignment still completes within seconds: the controller
// completes it on the ISR change that makes it ready, as Kafka's does.
func TestClusterReassignCompletesOnISR(t *testing.T) {
	c := New(t, 3, noAutoRebalance, func(cfg *server.Config) { cfg.ClusterTick = time.Minute })
	createAssigned(t, c, "isr", []int32{1, 2})
	produceN(t, c.Client(kgo.RequiredAcks(kgo.AllISRAcks())), "isr", 0, 10)
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign("isr", 0, []int32{3, 2})
	ctx := ctxFor(t, 30*time.Second)
	if rs, err := c.Admin().AlterPartitionAssignments(ctx, req); err != nil || rs["isr"][0].Err != nil {
		t.Fatalf("reassign: %v %+v", err, rs)
	}
	c.WaitFor("reassignment completed well before the next tick", 10*time.Second, func() bool {
		p := c.runningMeta().Topics["isr"].Partitions[0]
		return p.AddingReplicas == nil && slices.Equal(p.Replicas, []int32{3, 2})
	})
}
