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
