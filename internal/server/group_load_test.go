package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/replica"
	"github.com/strombroker/strom/storage"
)

// commitUntilDone commits one offset, retrying while the coordinator loads.
func commitUntilDone(ctx context.Context, t *testing.T, s *Server, group, topic string, offset int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp := serve(ctx, t, s, commitReqV(8, group, topic, 0, offset)).(*kmsg.OffsetCommitResponse)
		code := resp.Topics[0].Partitions[0].ErrorCode
		if code == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("commit %s: %v", group, kerr.ErrorForCode(code))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// committedOffset fetches group's committed offset of topic/0, retrying
// while the coordinator loads or moves.
func committedOffset(ctx context.Context, t *testing.T, s *Server, group, topic string) int64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version, req.Group = 5, group
		req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: topic, Partitions: []int32{0}}}
		resp := serve(ctx, t, s, req).(*kmsg.OffsetFetchResponse)
		code := resp.ErrorCode
		if code == 0 && len(resp.Topics) == 1 && len(resp.Topics[0].Partitions) == 1 {
			if code = resp.Topics[0].Partitions[0].ErrorCode; code == 0 {
				return resp.Topics[0].Partitions[0].Offset
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("offset fetch %s: %v", group, kerr.ErrorForCode(code))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestGroupsMapByRealOffsetsPartitionCount: __consumer_offsets keeps the
// partition count it was created with; a broker restarted with another
// offsets.topic.num.partitions still finds every group's offsets, because
// groups map by the topic's real partition count.
func TestGroupsMapByRealOffsetsPartitionCount(t *testing.T) {
	c := testConfig(t) // 4 offsets partitions
	s, addr := startWithConfig(t, c)
	ctx := testCtx(t, 2*time.Minute)
	if _, err := kadmCreate(ctx, t, addr, "counted", 1); err != nil {
		t.Fatal(err)
	}
	const groups = 16
	for i := range groups {
		commitUntilDone(ctx, t, s, fmt.Sprintf("g%d", i), "counted", int64(100+i))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	c.OffsetsTopicPartitions = 7
	s2, _ := startWithConfig(t, c)
	if got := s2.groups.PartitionFor("anything"); got < 0 || got >= 4 {
		t.Fatalf("PartitionFor maps into partition %d of a 4-partition __consumer_offsets", got)
	}
	for i := range groups {
		g := fmt.Sprintf("g%d", i)
		if got := committedOffset(ctx, t, s2, g, "counted"); got != int64(100+i) {
			t.Errorf("group %s after restart with offsets.topic.num.partitions=7: committed offset %d, want %d", g, got, 100+i)
		}
	}
}

// TestOffsetLogReadsToLogEnd: a coordinator replays its offsets partition to
// the log end, not to the high watermark, which on a new leader may still lag
// commits the previous leader had acknowledged.
func TestOffsetLogReadsToLogEnd(t *testing.T) {
	m, err := replica.NewManager(replica.Config{NodeID: 1, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	part, err := m.Open(offsetsTopic, 0, replica.Settings{Log: storage.DefaultConfig(), MinInsyncReplicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Broker 2 is in the ISR but never fetches: the high watermark stays
	// at 0 while the leader's log grows.
	if err := m.BecomeLeader(offsetsTopic, 0, 1, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := part.Produce(context.Background(), makeBatch(-1, 0, 0, "commit"), 1); err != nil {
		t.Fatal(err)
	}
	if part.HighWatermark() != 0 || part.LogEndOffset() != 1 {
		t.Fatalf("setup: high watermark %d, log end %d", part.HighWatermark(), part.LogEndOffset())
	}
	log := offsetLog{part}
	if got := log.LogEndOffset(); got != 1 {
		t.Fatalf("offsetLog.LogEndOffset = %d, want the log end 1", got)
	}
	data, err := log.Read(0, 1<<20)
	if err != nil || len(data) == 0 {
		t.Fatalf("offsetLog.Read(0) = %d bytes, %v; want the record above the high watermark", len(data), err)
	}
}
