package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/internal/server"
)

// shareOpts: share-partitions start at the log start; few state partitions.
func shareOpts(c *server.Config) {
	c.ShareAutoOffsetReset = "earliest"
	c.ShareStateTopicPartitions = 3
	c.ShareHeartbeatInterval = 200 * time.Millisecond
}

// consumeShareUntil polls a share consumer, accepting every record, until
// done says stop; it returns how often each value came.
func consumeShareUntil(t *testing.T, ctx context.Context, cl *kgo.Client, done func(seen map[string]int) bool) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for !done(seen) {
		if ctx.Err() != nil {
			t.Fatalf("share consumer: %d distinct records before the deadline", len(seen))
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)]++
			r.Ack(kgo.AckAccept)
		})
	}
	if err := cl.FlushAcks(ctx); err != nil {
		t.Fatal(err)
	}
	return seen
}

// TestClusterShareGroupLeaderFailover: a share group consumes half a
// partition on 3 brokers, the partition's leader stops, and a new member
// gets the rest from the new leader: the share-partition state was
// persisted in __share_group_state (replicated) and is read back, so no
// acknowledged record is delivered again.
func TestClusterShareGroupLeaderFailover(t *testing.T) {
	shareFailover(t, func(c *Cluster, leader, coordinator int32) int32 { return leader })
}

// TestClusterShareGroupCoordinatorFailover is the same with the share
// coordinator's broker (the leader of the key's __share_group_state
// partition) stopped instead: a new one loads the replicated state and the
// partition leader persists through it.
func TestClusterShareGroupCoordinatorFailover(t *testing.T) {
	shareFailover(t, func(c *Cluster, leader, coordinator int32) int32 { return coordinator })
}

// shareFailover consumes half of 100 records in a share group, stops the
// broker victim picks, and consumes the rest with a new member.
func shareFailover(t *testing.T, victim func(c *Cluster, leader, coordinator int32) int32) {
	c := New(t, 3, shareOpts, func(c *server.Config) { c.ShareRecordLockDuration = 2 * time.Second })
	ctx := ctxFor(t, 90*time.Second)
	// A retried create (slow controller under -race) finds it made.
	if _, err := c.Admin().CreateTopic(ctx, 1, 3, nil, "sq"); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatal(err)
	}
	prod := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()))
	produceN(t, prod, "sq", 0, 100)
	group, coordinator := remoteStateGroup(t, ctx, c, "sq")

	first := c.Client(kgo.ShareGroup(group), kgo.ConsumeTopics("sq"), kgo.ShareMaxRecords(10), kgo.FetchMaxWait(200*time.Millisecond))
	before := consumeShareUntil(t, ctx, first, func(seen map[string]int) bool { return len(seen) >= 50 })
	first.Close()

	leader := c.leaderOf("sq", 0)
	stop := victim(c, leader, coordinator)
	t.Logf("stopping broker %d (partition leader %d, share coordinator %d) after %d records", stop, leader, coordinator, len(before))
	c.Stop(stop)
	if stop == leader {
		c.WaitFor("a new leader", 15*time.Second, func() bool {
			l := c.leaderOf("sq", 0)
			return l >= 0 && l != stop
		})
	}
	second := c.Client(kgo.ShareGroup(group), kgo.ConsumeTopics("sq"), kgo.FetchMaxWait(200*time.Millisecond))
	after := consumeShareUntil(t, ctx, second, func(seen map[string]int) bool {
		n := 0
		for v := range seen {
			if before[v] == 0 {
				n++
			}
		}
		return n+len(before) >= 100
	})
	for v := range after {
		if before[v] > 0 {
			t.Errorf("record %s, acknowledged before the failover, was delivered again", v)
		}
	}
	for v, n := range before {
		if n != 1 {
			t.Errorf("record %s delivered %d times before the failover", v, n)
		}
	}
}

// remoteStateGroup picks a group name whose share-partition of topic/0
// has its share coordinator (FindCoordinator key type 2) on another broker
// than the partition's leader, so that the leader persists its state over
// Read/WriteShareGroupState.
func remoteStateGroup(t *testing.T, ctx context.Context, c *Cluster, topic string) (group string, coordinator int32) {
	t.Helper()
	md, err := c.Admin().Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	id := md.Topics[topic].ID
	leader := c.leaderOf(topic, 0)
	for i := range 50 {
		g := fmt.Sprintf("sq-group-%d", i)
		key := g + ":" + base64.RawURLEncoding.EncodeToString(id[:]) + ":0"
		r := c.Admin().FindShareCoordinators(ctx, key)[key]
		if r.Err != nil {
			t.Fatalf("find share coordinator of %s: %v", key, r.Err)
		}
		if r.NodeID != leader {
			t.Logf("group %s: share coordinator %d, partition leader %d", g, r.NodeID, leader)
			return g, r.NodeID
		}
	}
	t.Fatal("every group's share coordinator is the partition leader")
	return "", -1
}
