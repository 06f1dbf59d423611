package cluster

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkClusterReassignThrottled measures how fast a reassignment copies
// a 16 MiB partition to a new replica, unthrottled and with
// leader.replication.throttled.rate at 4 MiB/s: the copy rate in MiB/s
// (throttled, expect about (16 MiB) / ((16 MiB − 4 MiB burst) / 4 MiB/s) =
// 5.3 MiB/s). Run with -benchtime=1x.
func BenchmarkClusterReassignThrottled(b *testing.B) {
	for _, rate := range []int64{-1, 4 << 20} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			for range b.N {
				mibps := reassignCopyRate(b, rate)
				b.ReportMetric(mibps, "MiB/s")
			}
		})
	}
}

// reassignCopyRate fills a partition of two replicas with 16 MiB, adds
// the third broker under the given leader throttle (-1 none) and returns the
// copy rate.
func reassignCopyRate(b *testing.B, rate int64) float64 {
	b.StopTimer()
	c := New(b, 3)
	adm := c.Admin()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if r, err := adm.CreateTopic(ctx, 1, 2, nil, "bulk"); err != nil || r.Err != nil {
		b.Fatalf("create: %v %v", err, r.Err)
	}
	cl := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchMaxBytes(1<<20),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	value := make([]byte, 64<<10)
	rand.Read(value)
	const total = 16 << 20
	var failed atomic.Value
	for range total / len(value) {
		cl.Produce(ctx, &kgo.Record{Topic: "bulk", Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Store(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if err := failed.Load(); err != nil {
		b.Fatalf("produce: %v", err)
	}
	if rate >= 0 {
		v := fmt.Sprint(rate)
		if _, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "leader.replication.throttled.rate", Value: &v}}); err != nil {
			b.Fatal(err)
		}
		c.WaitFor("throttle applied", 10*time.Second, func() bool {
			_, ok := c.runningMeta().BrokerConfig(1, "leader.replication.throttled.rate")
			return ok
		})
	}
	var target []int32
	c.WaitFor("topic visible", 10*time.Second, func() bool {
		t := c.runningMeta().Topics["bulk"]
		if t != nil {
			target = slices.Clone(t.Partitions[0].Replicas)
		}
		return t != nil
	})
	for id := int32(1); id <= 3; id++ {
		if !slices.Contains(target, id) {
			target = append(target, id)
		}
	}
	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	dirs.Each(func(d kadm.DescribedLogDir) {
		if p, ok := d.Topics["bulk"][0]; ok {
			size = max(size, p.Size)
		}
	})
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign("bulk", 0, target)
	b.StartTimer()
	start := time.Now()
	if _, err := adm.AlterPartitionAssignments(ctx, req); err != nil {
		b.Fatal(err)
	}
	c.WaitFor("reassignment done", 4*time.Minute, func() bool {
		p := c.runningMeta().Topics["bulk"].Partitions[0]
		return p.AddingReplicas == nil && slices.Equal(p.Replicas, target)
	})
	elapsed := time.Since(start)
	b.StopTimer()
	return float64(size) / (1 << 20) / elapsed.Seconds()
}
