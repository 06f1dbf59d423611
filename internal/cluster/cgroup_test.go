package cluster

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/internal/chaoscheck"
	"github.com/strombroker/strom/internal/server"
)

// consumerGroupOpts: KIP-848 members heartbeat every 100ms, and
// __consumer_offsets is small.
func consumerGroupOpts(c *server.Config) {
	c.GroupConsumerHeartbeatInterval = 100 * time.Millisecond
	c.GroupConsumerSessionTimeout = 6 * time.Second
	c.OffsetsTopicPartitions = 3
}

func produceSeq(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, from, n int) {
	t.Helper()
	rs := make([]*kgo.Record, 0, n)
	for i := from; i < from+n; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("v%05d", i))})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// describe848 returns the group's epoch and sorted member ids.
func describe848(ctx context.Context, t *testing.T, adm *kadm.Client, group string) (int32, []string, string) {
	t.Helper()
	ds, err := adm.DescribeConsumerGroups(ctx, group)
	if err != nil {
		return -1, nil, err.Error()
	}
	d := ds[group]
	if d.Err != nil {
		return -1, nil, d.Err.Error()
	}
	var ids []string
	for _, m := range d.Members {
		ids = append(ids, m.MemberID)
	}
	sort.Strings(ids)
	return d.Epoch, ids, d.State
}

// TestClusterConsumerGroup848CoordinatorStopped: two franz-go KIP-848
// consumers share a topic on 3 brokers; the group coordinator's broker is
// stopped. The new coordinator replays the group from __consumer_offsets:
// same members at the same group epoch, no rebalance. A third member then
// joins on the new coordinator. No partition ever has two owners, no record
// is lost and none is delivered twice.
func TestClusterConsumerGroup848CoordinatorStopped(t *testing.T) {
	c := New(t, 3, consumerGroupOpts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const topic, group = "c848", "cg848"
	if _, err := c.Admin().CreateTopic(ctx, 6, 3, nil, topic); err != nil {
		t.Fatal(err)
	}
	prod := c.Client(kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	defer prod.Close()
	produceSeq(ctx, t, prod, topic, 0, 300)

	o := chaoscheck.NewOwnership(t)
	chaoscheck.StartConsumer848(t, c.Seeds(), group, topic, "a", o)
	chaoscheck.StartConsumer848(t, c.Seeds(), group, topic, "b", o)
	c.WaitFor("a and b own 3 partitions each", 20*time.Second, func() bool { return o.Held("a") == 3 && o.Held("b") == 3 })
	c.WaitFor("300 records consumed", 20*time.Second, func() bool { return o.Total() == 300 })

	adm := c.Admin()
	var epoch int32
	var members []string
	var state string
	c.WaitFor("the group Stable", 10*time.Second, func() bool {
		epoch, members, state = describe848(ctx, t, adm, group)
		return state == "Stable"
	})
	co := adm.FindGroupCoordinators(ctx, group)
	r, ok := co[group]
	if !ok || r.Err != nil {
		t.Fatalf("find coordinator of %s: %v", group, r.Err)
	}
	t.Logf("stopping broker %d, the group coordinator (group epoch %d, members %v)", r.NodeID, epoch, members)
	c.Stop(r.NodeID)

	produceSeq(ctx, t, prod, topic, 300, 300)
	c.WaitFor("600 records consumed", 30*time.Second, func() bool { return o.Total() == 600 })
	adm2 := kadm.NewClient(c.Client())
	defer adm2.Close()
	c.WaitFor("the group described by the new coordinator", 20*time.Second, func() bool {
		e, ids, st := describe848(ctx, t, adm2, group)
		if st != "Stable" {
			return false
		}
		if e != epoch || fmt.Sprint(ids) != fmt.Sprint(members) {
			t.Fatalf("after failover: epoch %d members %v, want epoch %d members %v (replayed, no rebalance)", e, ids, epoch, members)
		}
		return true
	})

	chaoscheck.StartConsumer848(t, c.Seeds(), group, topic, "c", o)
	c.WaitFor("a, b and c own 2 partitions each", 20*time.Second, func() bool {
		return o.Held("a") == 2 && o.Held("b") == 2 && o.Held("c") == 2
	})
	produceSeq(ctx, t, prod, topic, 600, 300)
	c.WaitFor("900 records consumed", 30*time.Second, func() bool { return o.Total() == 900 })
	o.Check()
}
