package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/server"
)

// TestClusterCompaction: a compacted topic replicated on 3 brokers, each
// running its own background cleaner at its own pace (followers compact on
// their own, as in Kafka). After a final clean of every replica up to the
// same offset, the replicas hold the same batches and records (offsets,
// producer state, keys, values, timestamps), smaller than what was
// written, and a consumer reads exactly the latest value of every key,
// tombstones included (delete.retention.ms is a day here, so every replica
// keeps them whatever its segment boundaries).
//
// They are not byte-identical: since KIP-534 a pass stamps each tombstone
// batch it first keeps with a delete horizon from its own clock (the
// tombstone then lives delete.retention.ms from its first cleaning,
// whatever its record timestamp), and each replica's cleaner first keeps a
// given tombstone at its own time. Kafka's replicas differ the same way.
// LocalRecordsChecksum compares everything but those stamps; a replica
// that copies the leader's cleaned log is byte-identical to it.
func TestClusterCompaction(t *testing.T) {
	c := New(t, 3, func(cfg *server.Config) { cfg.Cleaner.Backoff = 20 * time.Millisecond })
	ctx := ctxFor(t, 60*time.Second)
	const topic = "cmp3"
	resp, err := c.Admin().CreateTopic(ctx, 1, 3, map[string]*string{
		"cleanup.policy": kmsg.StringPtr("compact"), "segment.bytes": kmsg.StringPtr("2048"),
		"segment.ms": kmsg.StringPtr("50"), "min.cleanable.dirty.ratio": kmsg.StringPtr("0.01"),
	}, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	c.WaitFor("replicas opened on every broker", 10*time.Second, func() bool {
		for _, b := range c.Brokers {
			if _, ok := b.Srv.LocalReplica(topic, 0); !ok {
				return false
			}
		}
		return true
	})
	prod := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic(topic))
	want := map[string]string{}
	for round := 0; round < 30; round++ {
		var rs []*kgo.Record
		for k := 0; k < 25; k++ {
			key, v := fmt.Sprintf("k%02d", k), fmt.Sprintf("r%d-%d", round, k)
			if round == 29 && k%5 == 0 {
				rs = append(rs, &kgo.Record{Key: []byte(key)})
				want[key] = "<tombstone>"
			} else {
				rs = append(rs, &kgo.Record{Key: []byte(key), Value: []byte(v)})
				want[key] = v
			}
		}
		if err := prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce round %d: %v", round, err)
		}
	}
	end := int64(30 * 25)
	c.WaitFor("replicas caught up", 20*time.Second, func() bool {
		for _, b := range c.Brokers {
			if info, _ := b.Srv.LocalReplica(topic, 0); info.HighWatermark != end || info.LogEndOffset != end {
				return false
			}
		}
		return true
	})
	// Each replica's own background cleaner has been at work (its first
	// dirty offset, in the partition directory, moved).
	c.WaitFor("a background clean on every replica", 20*time.Second, func() bool {
		for _, b := range c.Brokers {
			data, err := os.ReadFile(filepath.Join(b.Cfg.DataDir, topic+"-0", "cleaner-offset-checkpoint"))
			if f := strings.Fields(string(data)); err != nil || len(f) != 3 || f[2] == "0" {
				return false
			}
		}
		return true
	})
	for _, b := range c.Brokers {
		if err := b.Srv.CleanLocal(topic, 0, end); err != nil {
			t.Fatalf("broker %d: final clean: %v", b.ID, err)
		}
	}
	var sums []uint32
	var leader *Broker
	for _, b := range c.Brokers {
		sum, _, err := b.Srv.LocalRecordsChecksum(topic, 0, 0, end)
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, sum)
		if info, _ := b.Srv.LocalReplica(topic, 0); info.Leader {
			leader = b
		}
	}
	if sums[0] != sums[1] || sums[0] != sums[2] {
		t.Fatalf("replicas hold different records after cleaning to %d: checksums %v", end, sums)
	}
	if leader == nil {
		t.Fatal("no leader")
	}
	leaderBytes, _, err := leader.Srv.LocalChecksum(topic, 0, 0, end)
	if err != nil {
		t.Fatal(err)
	}
	// A replica that lost its copy fetches the compacted log, gaps and
	// all, from the leader and ends up byte-identical to it.
	lost := c.Brokers[0].ID
	for _, b := range c.Brokers {
		if b != leader {
			lost = b.ID
		}
	}
	c.Stop(lost)
	if err := os.RemoveAll(filepath.Join(c.Broker(lost).Cfg.DataDir, topic+"-0")); err != nil {
		t.Fatal(err)
	}
	c.Restart(lost)
	c.WaitFor("the wiped replica caught up and identical", 30*time.Second, func() bool {
		info, ok := c.Broker(lost).Srv.LocalReplica(topic, 0)
		if !ok || info.LogEndOffset != end {
			return false
		}
		sum, _, err := c.Broker(lost).Srv.LocalChecksum(topic, 0, 0, end)
		return err == nil && sum == leaderBytes
	})
	cl := c.Client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string]string{}
	for last := int64(-1); last < end-1; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d keys, up to offset %d of %d", len(got), last, end)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if _, dup := got[string(r.Key)]; dup {
				t.Errorf("key %s twice after cleaning", r.Key)
			}
			got[string(r.Key)] = string(r.Value)
			if r.Value == nil {
				got[string(r.Key)] = "<tombstone>"
			}
			last = r.Offset
		})
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read %v\nwant %v", got, want)
	}
}

// TestClusterCompactionTransactions: a transactional producer commits and
// aborts transactions on a compacted topic replicated on 3 brokers, whose
// background cleaners run at their own pace. Each replica finds the
// aborted transactions from the markers in its own log, so after a final
// clean to the same offset all hold the same records: the latest
// committed value of every key, nothing aborted, and a read_committed
// consumer reads exactly that.
func TestClusterCompactionTransactions(t *testing.T) {
	c := New(t, 3, func(cfg *server.Config) { cfg.Cleaner.Backoff = 20 * time.Millisecond })
	ctx := ctxFor(t, 60*time.Second)
	const topic = "cmptx3"
	resp, err := c.Admin().CreateTopic(ctx, 1, 3, map[string]*string{
		"cleanup.policy": kmsg.StringPtr("compact"), "segment.bytes": kmsg.StringPtr("2048"),
		"segment.ms": kmsg.StringPtr("50"), "min.cleanable.dirty.ratio": kmsg.StringPtr("0.01"),
	}, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	prod := c.Client(kgo.TransactionalID("cmptx3-t"), kgo.DefaultProduceTopic(topic))
	want := map[string]string{}
	for round := 0; round < 12; round++ {
		commit := round%4 != 3 // the last round is aborted too
		if err := prod.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		var rs []*kgo.Record
		for k := 0; k < 15; k++ {
			key, v := fmt.Sprintf("k%02d", k), fmt.Sprintf("r%d-%d", round, k)
			rs = append(rs, &kgo.Record{Key: []byte(key), Value: []byte(v)})
			if commit {
				want[key] = v
			}
		}
		if err := prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if err := prod.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("round %d: end: %v", round, err)
		}
	}
	// A last plain record, so readers know they read everything.
	if err := c.Client(kgo.DefaultProduceTopic(topic)).ProduceSync(ctx, &kgo.Record{Key: []byte("~end"), Value: []byte("end")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	want["~end"] = "end"
	var end int64
	c.WaitFor("replicas caught up and stable", 20*time.Second, func() bool {
		var ends []int64
		for _, b := range c.Brokers {
			info, ok := b.Srv.LocalReplica(topic, 0)
			if !ok || info.HighWatermark != info.LogEndOffset {
				return false
			}
			ends = append(ends, info.LogEndOffset)
		}
		end = ends[0]
		return ends[1] == end && ends[2] == end
	})
	var sums []uint32
	for _, b := range c.Brokers {
		if err := b.Srv.CleanLocal(topic, 0, end); err != nil {
			t.Fatalf("broker %d: final clean: %v", b.ID, err)
		}
		sum, _, err := b.Srv.LocalRecordsChecksum(topic, 0, 0, end)
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, sum)
	}
	if sums[0] != sums[1] || sums[0] != sums[2] {
		t.Fatalf("replicas hold different records after cleaning to %d: checksums %v", end, sums)
	}
	// Aborted records are gone from the log, so read_uncommitted reads the
	// same as read_committed.
	for _, iso := range []kgo.IsolationLevel{kgo.ReadCommitted(), kgo.ReadUncommitted()} {
		cl := c.Client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(iso))
		got := map[string]string{}
		for got["~end"] == "" {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("%v: read %v, want %v", iso, got, want)
			}
			fs.EachRecord(func(r *kgo.Record) {
				if _, dup := got[string(r.Key)]; dup {
					t.Errorf("%v: key %s twice after cleaning", iso, r.Key)
				}
				got[string(r.Key)] = string(r.Value)
			})
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%v: read %v\nwant %v", iso, got, want)
		}
	}
}
