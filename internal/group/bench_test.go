package group

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func BenchmarkOffsetCommit(b *testing.B) {
	c := New(testConfig())
	defer c.Close()
	log := &memLog{}
	if err := c.LoadPartition(context.Background(), 0, log); err != nil {
		b.Fatal(err)
	}
	req := commitReq(8, "bench", "", -1, map[string]map[int32]int64{"t": {0: 1, 1: 2, 2: 3, 3: 4}})
	b.ReportAllocs()
	for b.Loop() {
		if res := c.OffsetCommit(context.Background(), req); res[0].Err != nil {
			b.Fatal(res[0].Err)
		}
	}
}

func BenchmarkHeartbeat(b *testing.B) {
	c := New(testConfig())
	defer c.Close()
	if err := c.LoadPartition(context.Background(), 0, &memLog{}); err != nil {
		b.Fatal(err)
	}
	resp := doJoin(c, context.Background(), joinReq(3, "bench", "", time.Minute))
	doSync(c, context.Background(), syncReq(5, "bench", resp.MemberID, resp.Generation, nil))
	b.ReportAllocs()
	for b.Loop() {
		if err := heartbeat(c, 4, "bench", resp.MemberID, resp.Generation, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadPartition(b *testing.B) {
	log := &memLog{}
	for i := range 10000 {
		rec := kv{offsetKey(fmt.Sprintf("g%d", i%100), "t", int32(i%16)), offsetValue(offsetEntry{offset: int64(i), expireTime: -1})}
		if _, err := log.Append(context.Background(), buildBatch(1, []kv{rec})); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		c := New(testConfig())
		if err := c.LoadPartition(context.Background(), 0, log); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/record")
}

// BenchmarkConsumerGroupHeartbeat: a steady-state KIP-848 heartbeat
// (keepalive, nothing to write) of one member of a 100-member group on
// 3 topics of 100 partitions.
func BenchmarkConsumerGroupHeartbeat(b *testing.B) {
	cfg := testConfig()
	topics := map[string]TopicInfo{}
	for i := range 3 {
		n := fmt.Sprintf("t%d", i)
		topics[n] = TopicInfo{Name: n, ID: topicID{byte(i + 1)}, Partitions: 100}
	}
	cfg.Topics = func() map[string]TopicInfo { return topics }
	c := New(cfg)
	defer c.Close()
	if err := c.LoadPartition(context.Background(), 0, &memLog{}); err != nil {
		b.Fatal(err)
	}
	epochs, held := map[string]int32{}, map[string]parts{}
	for i := range 100 {
		id := fmt.Sprintf("m%03d", i)
		res, err := c.ConsumerGroupHeartbeat(context.Background(), hbReq("bench", id, 0, []string{"t0", "t1", "t2"}, nil))
		if err != nil {
			b.Fatal(err)
		}
		epochs[id], held[id] = res.MemberEpoch, partsOf(res)
	}
	// Heartbeat everyone, acknowledging revocations, until stable.
	for round := 0; cgDescribeB(b, c).State != "Stable"; round++ {
		if round > 10 {
			b.Fatalf("not stable after %d rounds: %s", round, cgDescribeB(b, c).State)
		}
		for id := range epochs {
			res, err := c.ConsumerGroupHeartbeat(context.Background(), hbReq("bench", id, epochs[id], nil, held[id]))
			if err != nil {
				b.Fatal(err)
			}
			epochs[id] = res.MemberEpoch
			if res.HasAssignment {
				held[id] = partsOf(res)
			}
		}
	}
	req := hbReq("bench", "m099", epochs["m099"], nil, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.ConsumerGroupHeartbeat(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

func cgDescribeB(b *testing.B, c *Coordinator) ConsumerGroupDescription {
	d := c.ConsumerGroupDescribe(context.Background(), []string{"bench"})[0]
	if d.Err != nil {
		b.Fatal(d.Err)
	}
	return d
}
