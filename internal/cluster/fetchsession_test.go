package cluster

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/internal/server"
)

// sessionStats sums the fetch session stats of the running brokers.
func (c *Cluster) sessionStats() server.FetchSessionStats {
	var sum server.FetchSessionStats
	for _, b := range c.Brokers {
		if b.Srv == nil {
			continue
		}
		st := b.Srv.FetchSessionStats()
		sum.Sessions += st.Sessions
		sum.FollowerSessions += st.FollowerSessions
		sum.Partitions += st.Partitions
		sum.Incremental += st.Incremental
		sum.FollowerIncremental += st.FollowerIncremental
	}
	return sum
}

// waitReplicated waits until every partition of topic has a full ISR of n
// and identical replicas.
func (c *Cluster) waitReplicated(topic string, parts int32, n int) {
	c.t.Helper()
	for p := range parts {
		c.WaitFor(fmt.Sprintf("%s/%d fully replicated", topic, p), 30*time.Second, func() bool {
			ok, _ := c.replicasIdentical(topic, p)
			return ok && len(c.isrOf(topic, p)) == n
		})
	}
}

// TestClusterFollowerFetchSessions: followers replicate through incremental
// fetch sessions, across a leader change and a follower restart. Records go
// to partition 0 only, so the other partitions are left out of the
// followers' incremental requests: the leaders must still count them as
// fetched at their cached offsets, or their followers would fall out of the
// ISR after replica.lag.time.max.ms.
func TestClusterFollowerFetchSessions(t *testing.T) {
	const parts = 6
	c := New(t, 3, func(c *server.Config) { c.ReplicaLagTimeMax = 3 * time.Second })
	ctx := ctxFor(t, 120*time.Second)
	if resp, err := c.Admin().CreateTopic(ctx, parts, 3, nil, "fs"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	c.waitReplicated("fs", parts, 3)
	prod := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produced := 0
	// Keep partition 0 busy for longer than the lag time (a workload's
	// length, not an assertion on timing).
	for start := time.Now(); time.Since(start) < 4*time.Second; {
		produceN(t, prod, "fs", produced, 10)
		produced += 10
	}
	for p := int32(1); p < parts; p++ {
		if isr := c.isrOf("fs", p); len(isr) != 3 {
			t.Fatalf("idle partition %d ISR %v: omitted partitions of an incremental fetch were not counted", p, isr)
		}
	}
	c.waitReplicated("fs", parts, 3)
	st := c.sessionStats()
	t.Logf("after steady state: %+v", st)
	if st.FollowerSessions < 2 || st.FollowerIncremental == 0 {
		t.Fatalf("followers use no incremental fetch sessions: %+v", st)
	}

	// Leader change: the followers' sessions with the old leader are
	// gone; they open sessions with the new one.
	old := c.leaderOf("fs", 0)
	c.Stop(old)
	c.WaitFor("a new leader of fs/0", 20*time.Second, func() bool {
		l := c.leaderOf("fs", 0)
		return l >= 0 && l != old
	})
	produceN(t, prod, "fs", produced, 50)
	produced += 50
	c.Restart(old)
	c.waitReplicated("fs", parts, 3)

	// Follower restart: it comes back with a new session.
	leader := c.leaderOf("fs", 0)
	var follower int32 = -1
	for id := int32(1); id <= 3; id++ {
		if id != leader {
			follower = id
			break
		}
	}
	c.Stop(follower)
	produceN(t, prod, "fs", produced, 50)
	produced += 50
	c.Restart(follower)
	c.waitReplicated("fs", parts, 3)
	// No broker restarts from here on: the counters only grow.
	st = c.sessionStats()
	c.WaitFor("followers fetching incrementally again", 20*time.Second, func() bool {
		return c.sessionStats().FollowerIncremental > st.FollowerIncremental
	})
	t.Logf("after the restarts: %+v", c.sessionStats())

	got := consumeAll(t, c, "fs", produced)
	if len(got) != produced {
		t.Fatalf("consumed %d of %d", len(got), produced)
	}
	want := make([]string, produced)
	for i := range want {
		want[i] = fmt.Sprint(i)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("partition 0 holds %d records out of order or duplicated", len(got))
	}
}
