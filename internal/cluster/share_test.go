package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/internal/server"
	"github.com/strombroker/strom/internal/sharetest"
)

// shareOpts: share-partitions start at the log start; few state partitions.
func shareOpts(c *server.Config) {
	c.ShareAutoOffsetReset = "earliest"
	c.ShareStateTopicPartitions = 3
	c.ShareHeartbeatInterval = 200 * time.Millisecond
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
	before := sharetest.Consume(t, ctx, first, func(seen map[string]int) bool { return len(seen) >= 50 })
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
	after := sharetest.Consume(t, ctx, second, func(seen map[string]int) bool {
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

// TestClusterShareGroupOffsetsAdmin: on 3 brokers, with the group's
// coordinator and the share coordinator of its partition on different
// brokers, kadm alters, describes and deletes share-group offsets (the
// group coordinator reaching the share coordinator with
// Initialize/Read/DeleteShareGroupState), and a consumer starts where the
// offsets were set.
func TestClusterShareGroupOffsetsAdmin(t *testing.T) {
	c := New(t, 3, shareOpts)
	ctx := ctxFor(t, 60*time.Second)
	adm := c.Admin()
	if _, err := adm.CreateTopic(ctx, 1, 3, nil, "sqa"); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatal(err)
	}
	produceN(t, c.Client(kgo.RequiredAcks(kgo.AllISRAcks())), "sqa", 0, 10)
	md, err := adm.Metadata(ctx, "sqa")
	if err != nil {
		t.Fatal(err)
	}
	id := md.Topics["sqa"].ID
	group := ""
	for i := 0; group == "" && i < 50; i++ {
		g := fmt.Sprintf("sqa-group-%d", i)
		key := g + ":" + base64.RawURLEncoding.EncodeToString(id[:]) + ":0"
		sc, gc := adm.FindShareCoordinators(ctx, key)[key], adm.FindGroupCoordinators(ctx, g)[g]
		if sc.Err == nil && gc.Err == nil && sc.NodeID != gc.NodeID {
			t.Logf("group %s: coordinator %d, share coordinator %d", g, gc.NodeID, sc.NodeID)
			group = g
		}
	}
	if group == "" {
		t.Fatal("no group with its coordinators on different brokers")
	}
	if rs, err := adm.AlterShareGroupOffsets(ctx, group, kadm.Offsets{"sqa": {0: {Topic: "sqa", Partition: 0, At: 6}}}); err != nil || rs.Error() != nil {
		t.Fatalf("alter: %v %v", err, rs.Error())
	}
	startOffset := func() (int64, bool) {
		d, err := adm.DescribeShareGroupOffsets(ctx, group)
		if err != nil || d.Error() != nil {
			t.Fatalf("describe offsets: %v %v", err, d.Error())
		}
		o, ok := d[group].Offsets.Lookup("sqa", 0)
		return o.StartOffset, ok
	}
	if so, ok := startOffset(); !ok || so != 6 {
		t.Fatalf("start offset %d %v, want 6", so, ok)
	}
	cl := c.Client(kgo.ShareGroup(group), kgo.ConsumeTopics("sqa"), kgo.FetchMaxWait(200*time.Millisecond))
	got := sharetest.Consume(t, ctx, cl, func(seen map[string]int) bool { return len(seen) >= 4 })
	for v := range got {
		if n, _ := strconv.Atoi(v); n < 6 {
			t.Fatalf("record %s below the altered start offset delivered", v)
		}
	}
	cl.Close()
	c.WaitFor("the group to be empty", 10*time.Second, func() bool {
		dg, err := adm.DescribeShareGroups(ctx, group)
		return err == nil && dg[group].GroupState == "Empty"
	})
	if rs, err := adm.DeleteShareGroupOffsets(ctx, group, "sqa"); err != nil || rs.Error() != nil {
		t.Fatalf("delete offsets: %v %v", err, rs.Error())
	}
	if so, ok := startOffset(); ok {
		t.Fatalf("start offset %d still described after the delete", so)
	}
	// The state is gone at the share coordinator: the group starts over at
	// share.auto.offset.reset (earliest here).
	again := c.Client(kgo.ShareGroup(group), kgo.ConsumeTopics("sqa"), kgo.FetchMaxWait(200*time.Millisecond))
	if got := sharetest.Consume(t, ctx, again, func(seen map[string]int) bool { return seen["0"] > 0 }); len(got) == 0 {
		t.Fatal("nothing consumed after the offsets were deleted")
	}
}
