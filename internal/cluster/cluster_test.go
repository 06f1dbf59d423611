package cluster

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/server"
	"github.com/strombroker/strom/wire"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// leaderOf returns the current leader of topic/partition in the metadata of
// any running broker.
func (c *Cluster) leaderOf(topic string, p int32) int32 {
	for _, b := range c.Brokers {
		if b.Srv == nil {
			continue
		}
		if t := b.Srv.Metadata().Topics[topic]; t != nil && int(p) < len(t.Partitions) {
			return t.Partitions[p].Leader
		}
	}
	return -1
}

func (c *Cluster) isrOf(topic string, p int32) []int32 {
	for _, b := range c.Brokers {
		if b.Srv != nil && b.Srv.IsController() {
			if t := b.Srv.Metadata().Topics[topic]; t != nil {
				return t.Partitions[p].ISR
			}
		}
	}
	return nil
}

// replicasIdentical checks every running replica of topic/partition has the
// same log end, high watermark and bytes.
func (c *Cluster) replicasIdentical(topic string, p int32) (bool, string) {
	var infos []server.ReplicaInfo
	var sums []uint32
	for _, b := range c.Brokers {
		if b.Srv == nil {
			continue
		}
		info, ok := b.Srv.LocalReplica(topic, p)
		if !ok {
			continue
		}
		sum, _, err := b.Srv.LocalChecksum(topic, p, 0, info.LogEndOffset)
		if err != nil {
			return false, err.Error()
		}
		infos = append(infos, info)
		sums = append(sums, sum)
	}
	for i := range infos {
		if infos[i].LogEndOffset != infos[0].LogEndOffset || infos[i].HighWatermark != infos[0].HighWatermark || sums[i] != sums[0] {
			return false, fmt.Sprintf("replicas differ: %+v sums %v", infos, sums)
		}
	}
	return len(infos) > 0, fmt.Sprintf("%d replicas", len(infos))
}

func produceN(t *testing.T, cl *kgo.Client, topic string, from, n int) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	for i := from; i < from+n; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
}

func consumeAll(t *testing.T, c *Cluster, topic string, want int) []string {
	t.Helper()
	cl := c.Client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := ctxFor(t, 30*time.Second)
	var got []string
	for len(got) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d", len(got), want)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

func TestClusterReplicatedTopic(t *testing.T) {
	c := New(t, 3)
	ctx := ctxFor(t, 30*time.Second)
	resp, err := c.Admin().CreateTopic(ctx, 3, 3, nil, "rf3")
	if err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	// Every broker hosts every partition, each with a full ISR.
	c.WaitFor("replicas opened on every broker", 10*time.Second, func() bool {
		for _, b := range c.Brokers {
			for p := int32(0); p < 3; p++ {
				if _, ok := b.Srv.LocalReplica("rf3", p); !ok {
					return false
				}
			}
		}
		return true
	})
	prod := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()))
	produceN(t, prod, "rf3", 0, 300)
	if got := consumeAll(t, c, "rf3", 300); len(got) != 300 {
		t.Fatalf("consumed %d", len(got))
	}
	for p := int32(0); p < 3; p++ {
		c.WaitFor(fmt.Sprintf("partition %d replicas identical", p), 10*time.Second, func() bool {
			ok, _ := c.replicasIdentical("rf3", p)
			return ok
		})
		if isr := c.isrOf("rf3", p); len(isr) != 3 {
			t.Fatalf("partition %d ISR %v, want 3 members", p, isr)
		}
	}
}

func TestClusterLeaderFailover(t *testing.T) {
	// A long lag time: the dead broker must leave the ISR because the
	// controller fences it, and rejoin as soon as it catches up, neither
	// waiting for the leader's periodic lag check.
	c := New(t, 3, func(c *server.Config) { c.ReplicaLagTimeMax = time.Minute })
	ctx := ctxFor(t, 60*time.Second)
	if _, err := c.Admin().CreateTopic(ctx, 1, 3, nil, "fo"); err != nil {
		t.Fatal(err)
	}
	prod := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()))
	produceN(t, prod, "fo", 0, 50)
	old := c.leaderOf("fo", 0)
	c.Stop(old)
	c.WaitFor("a new leader", 15*time.Second, func() bool {
		l := c.leaderOf("fo", 0)
		return l >= 0 && l != old
	})
	produceN(t, prod, "fo", 50, 50)
	// The old leader returns, catches up, rejoins the ISR, and (preferred
	// replica) leads again.
	c.Restart(old)
	c.WaitFor("returning broker back in the ISR", 20*time.Second, func() bool {
		return slices.Contains(c.isrOf("fo", 0), old) && len(c.isrOf("fo", 0)) == 3
	})
	got := consumeAll(t, c, "fo", 100)
	for i, v := range got {
		if v != fmt.Sprint(i) {
			t.Fatalf("record %d = %s", i, v)
		}
	}
	c.WaitFor("replicas identical after failover", 15*time.Second, func() bool {
		ok, _ := c.replicasIdentical("fo", 0)
		return ok
	})
}

// rawProduce sends one acks=all Produce of a single record straight to the
// broker with id (no client retries) and returns the partition error code.
func rawProduce(t *testing.T, c *Cluster, id int32, topic string) int16 {
	t.Helper()
	ctx := ctxFor(t, 10*time.Second)
	cl, err := wire.Dial(ctx, c.Broker(id).Addr(), "cluster-test")
	if err != nil {
		t.Fatalf("dial broker %d: %v", id, err)
	}
	defer cl.Close()
	req := oneRecordProduce(topic, 9)
	req.TimeoutMillis = 1500
	resp, err := cl.Request(ctx, req)
	if err != nil {
		t.Fatalf("produce to broker %d: %v", id, err)
	}
	return resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
}

// tryProduce makes one bounded acks=all attempt through a client without
// idempotence (so the client gives the record up when the broker refuses).
func tryProduce(ctx context.Context, c *Cluster, topic string) error {
	cl := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(),
		kgo.RecordRetries(1), kgo.ProduceRequestTimeout(2*time.Second), kgo.RecordDeliveryTimeout(4*time.Second))
	defer cl.Close()
	return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("x")}).FirstErr()
}

func TestClusterMinInsyncReplicas(t *testing.T) {
	c := New(t, 3)
	ctx := ctxFor(t, 60*time.Second)
	three := "3"
	if _, err := c.Admin().CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": &three}, "mir"); err != nil {
		t.Fatal(err)
	}
	c.WaitFor("a leader hosting the partition", 10*time.Second, func() bool {
		l := c.leaderOf("mir", 0)
		if l < 0 {
			return false
		}
		info, ok := c.Broker(l).Srv.LocalReplica("mir", 0)
		return ok && info.Leader
	})
	leader := c.leaderOf("mir", 0)
	if code := rawProduce(t, c, leader, "mir"); code != 0 {
		t.Fatalf("with all replicas in sync: error %d", code)
	}
	for _, b := range c.Brokers {
		if b.ID != leader {
			c.Stop(b.ID)
			break
		}
	}
	// Until the ISR shrinks, acks=all times out waiting for the stopped
	// replica; after, it is refused with NOT_ENOUGH_REPLICAS. Never a success.
	deadline := time.Now().Add(20 * time.Second)
	for {
		code := rawProduce(t, c, leader, "mir")
		switch code {
		case 0:
			t.Fatal("acks=all write acknowledged with a stopped in-sync replica and min.insync.replicas=3")
		case kerr.NotEnoughReplicas.Code:
			return
		case kerr.RequestTimedOut.Code, kerr.NotEnoughReplicasAfterAppend.Code:
		default:
			t.Fatalf("unexpected error %d", code)
		}
		if time.Now().After(deadline) {
			t.Fatal("never got NOT_ENOUGH_REPLICAS")
		}
	}
}

// Two of three brokers down with min.insync.replicas=2: acks=all writes fail
// rather than being acknowledged, and succeed again once one broker
// returns. (With the default of 1 a graceful stop shrinks the ISR to the
// leader while the quorum still stands, and acks=all rightly succeeds.)
func TestClusterTwoOfThreeDown(t *testing.T) {
	c := New(t, 3)
	ctx := ctxFor(t, 90*time.Second)
	two := "2"
	if _, err := c.Admin().CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": &two}, "two-down"); err != nil {
		t.Fatal(err)
	}
	if err := tryProduce(ctx, c, "two-down"); err != nil {
		t.Fatal(err)
	}
	leader := c.leaderOf("two-down", 0)
	var stopped []int32
	for _, b := range c.Brokers {
		if b.ID != leader {
			c.Stop(b.ID)
			stopped = append(stopped, b.ID)
		}
	}
	for i := 0; i < 3; i++ {
		if err := tryProduce(ctx, c, "two-down"); err == nil {
			t.Fatal("acks=all write acknowledged with 2 of 3 brokers down")
		}
	}
	c.Restart(stopped[0])
	c.WaitFor("acks=all writes accepted again", 30*time.Second, func() bool {
		return tryProduce(ctx, c, "two-down") == nil
	})
}

func TestClusterControllerFailover(t *testing.T) {
	c := New(t, 3)
	ctx := ctxFor(t, 60*time.Second)
	var ctrl int32 = -1
	for _, b := range c.Brokers {
		if b.Srv.IsController() {
			ctrl = b.ID
		}
	}
	if ctrl < 0 {
		t.Fatal("no controller")
	}
	c.Stop(ctrl)
	c.WaitFor("a new controller", 15*time.Second, func() bool {
		for _, b := range c.Brokers {
			if b.Srv != nil && b.Srv.IsController() {
				return true
			}
		}
		return false
	})
	resp, err := c.Admin().CreateTopic(ctx, 2, 2, nil, "after-controller-failover")
	if err != nil || resp.Err != nil {
		t.Fatalf("create after controller failover: %v %v", err, resp.Err)
	}
	prod := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()))
	produceN(t, prod, "after-controller-failover", 0, 20)
}

// Adding a 4th broker to a running 3-broker cluster: it joins through
// gossip, becomes a Raft non-voter holding the metadata, is registered, and
// new topics place replicas on it.
func TestClusterAddBroker(t *testing.T) {
	c := New(t, 3)
	b4 := c.Add()
	ctx := ctxFor(t, 30*time.Second)
	c.WaitFor("broker 4 registered and alive", 15*time.Second, func() bool {
		for _, b := range c.Brokers[:3] {
			if bb, ok := b.Srv.Metadata().Brokers[4]; !ok || bb.Fenced {
				return false
			}
		}
		return true
	})
	resp, err := c.Admin().CreateTopic(ctx, 4, 4, nil, "on-four")
	if err != nil || resp.Err != nil {
		t.Fatalf("create RF4 topic: %v %v", err, resp.Err)
	}
	produceN(t, c.Client(kgo.RequiredAcks(kgo.AllISRAcks())), "on-four", 0, 40)
	c.WaitFor("broker 4 hosts every partition with a log identical to the others", 15*time.Second, func() bool {
		for p := int32(0); p < 4; p++ {
			if _, ok := b4.Srv.LocalReplica("on-four", p); !ok {
				return false
			}
			if ok, _ := c.replicasIdentical("on-four", p); !ok {
				return false
			}
		}
		return true
	})
	if st := b4.Srv.Metadata(); st.Topics["on-four"] == nil {
		t.Fatal("broker 4 has no copy of the metadata")
	}
}
