package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/internal/chaoscheck"
)

// fastConsumerGroups makes KIP-848 members heartbeat every 100ms.
func fastConsumerGroups(c *Config) {
	c.GroupConsumerHeartbeatInterval = 100 * time.Millisecond
	c.GroupConsumerSessionTimeout = 3 * time.Second
}

func produceValues(ctx context.Context, t testing.TB, cl *kgo.Client, topic string, from, n int) {
	t.Helper()
	rs := make([]*kgo.Record, 0, n)
	for i := from; i < from+n; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("v%05d", i))})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// TestConsumerGroup848Rebalance: franz-go consumers speaking KIP-848 join
// and leave a group; partitions move without ever having two owners, and
// every record is delivered exactly once across the rebalances.
func TestConsumerGroup848Rebalance(t *testing.T) {
	_, addr := startTestServer(t, fastConsumerGroups)
	ctx := testCtx(t, 60*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "t848", 6); err != nil {
		t.Fatal(err)
	}
	prod := newClient(t, addr, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	produceValues(ctx, t, prod, "t848", 0, 300)

	o := chaoscheck.NewOwnership(t)
	seeds := []string{addr}
	stopA := chaoscheck.StartConsumer848(t, seeds, "g848", "t848", "a", o)
	waitUntil(t, 10*time.Second, "a owns all 6 partitions", func() bool { return o.Held("a") == 6 })
	chaoscheck.StartConsumer848(t, seeds, "g848", "t848", "b", o)
	waitUntil(t, 10*time.Second, "a and b own 3 each", func() bool { return o.Held("a") == 3 && o.Held("b") == 3 })
	produceValues(ctx, t, prod, "t848", 300, 300)
	waitUntil(t, 10*time.Second, "600 records", func() bool { return o.Total() == 600 })

	adm := kadm.NewClient(prod)
	described, err := adm.DescribeConsumerGroups(ctx, "g848")
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	d := described["g848"]
	if d.Err != nil || d.State != "Stable" || len(d.Members) != 2 {
		t.Fatalf("described %+v (err %v), want Stable with 2 members", d, d.Err)
	}

	stopA()
	waitUntil(t, 10*time.Second, "b owns all 6 partitions", func() bool { return o.Held("b") == 6 })
	produceValues(ctx, t, prod, "t848", 600, 300)
	waitUntil(t, 10*time.Second, "900 records", func() bool { return o.Total() == 900 })
	o.Check()

	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatalf("list groups: %v", err)
	}
	if lg, ok := listed["g848"]; !ok || lg.GroupType != "consumer" || lg.ProtocolType != "consumer" {
		t.Fatalf("listed %+v, want a consumer-type group", listed)
	}
}
