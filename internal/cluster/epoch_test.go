package cluster

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/server"
)

// posing is one way a client may claim to be a follower: a Fetch version
// and, from v15, the broker epoch it puts in ReplicaState.
type posing struct {
	name    string
	version int16
	epoch   int64
}

// tryPoseFetch sends, from a plain client connection to addr, a Fetch in
// replica id's name at fetchOffset, the way p poses, naming the topic by
// id from v13, and returns the partition answer.
func tryPoseFetch(ctx context.Context, addr, topic string, topicID [16]byte, id int32, fetchOffset int64, p posing) (kmsg.FetchResponseTopicPartition, error) {
	return followerFetch{version: p.version, topic: topic, topicID: topicID, id: id, brokerEpoch: p.epoch,
		fetchOffset: fetchOffset, currentLeaderEpoch: -1, lastFetchedEpoch: -1}.send(ctx, addr)
}

// TestClusterSpoofedLiveFollowerFetch: with RF 3 and min.insync.replicas 2,
// one follower (F2) is cut off from the leader but still in the ISR (the
// lag limit is long). A client fetches at the leader's log end in F2's
// name, with every broker epoch it can come by (none (-1), 0, F2's epoch
// from before its last restart, a guess) and at v12 without one. Every
// such fetch is refused with NOT_LEADER_OR_FOLLOWER, and while F2 stays
// in the ISR the high watermark never passes what F2 really has, so an
// acks=all write waits instead of being acknowledged on two copies while
// three were promised. Once the cut heals, the write completes.
// followerSafetyCluster starts three brokers whose followers stay in the
// ISR for a minute without fetching and whose leaders never move back by
// themselves, creates topic with one partition, RF 3 and
// min.insync.replicas 2, writes 10 records with acks=all and returns the
// cluster, a test context, the producer and the partition's leader.
func followerSafetyCluster(t *testing.T, topic string) (*Cluster, context.Context, *kgo.Client, int32) {
	t.Helper()
	c := New(t, 3, func(cfg *server.Config) {
		cfg.ReplicaLagTimeMax = time.Minute
		cfg.AutoLeaderRebalance = false
	})
	ctx := ctxFor(t, 120*time.Second)
	if _, err := c.Admin().CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": kmsg.StringPtr("2")}, topic); err != nil {
		t.Fatal(err)
	}
	prod := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProduceRequestTimeout(30*time.Second))
	produceN(t, prod, topic, 0, 10)
	return c, ctx, prod, c.leaderOf(topic, 0)
}

func TestClusterSpoofedLiveFollowerFetch(t *testing.T) {
	c, ctx, prod, leader := followerSafetyCluster(t, "pose")
	victim := leader%3 + 1

	// Restart the victim so that it has had an older epoch a client might
	// have seen, and wait until it is back in the ISR with its new one.
	stale := c.Broker(leader).Srv.Metadata().Brokers[victim].Epoch
	c.Stop(victim)
	c.Restart(victim)
	c.WaitFor("the restarted follower back in the ISR at a new epoch", 30*time.Second, func() bool {
		b := c.Broker(leader).Srv.Metadata().Brokers[victim]
		return b.Epoch != stale && !b.Fenced && len(c.isrOf("pose", 0)) == 3
	})
	produceN(t, prod, "pose", 10, 5)
	c.WaitFor("the follower caught up", 15*time.Second, func() bool {
		ok, _ := c.replicasIdentical("pose", 0)
		return ok
	})
	if c.leaderOf("pose", 0) != leader {
		t.Fatalf("leadership moved from %d", leader)
	}
	current := c.Broker(leader).Srv.Metadata().Brokers[victim].Epoch
	topicID := c.Broker(leader).Srv.Metadata().Topics["pose"].ID
	posings := []posing{
		{"v15 epoch -1", 15, -1}, {"v15 epoch 0", 15, 0}, {"v15 stale epoch", 15, stale},
		{"v16 guessed epoch", 16, current ^ 1}, {"v12 without epoch", 12, -1},
	}

	c.Partition([]int32{leader}, []int32{victim})
	done := make(chan error, 1)
	go func() {
		done <- prod.ProduceSync(ctx, &kgo.Record{Topic: "pose", Value: []byte("promised to 3")}).FirstErr()
	}()
	addr := c.Broker(leader).Addr()
	refused := 0
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		for _, p := range posings {
			lr, _ := c.Broker(leader).Srv.LocalReplica("pose", 0)
			fp, err := tryPoseFetch(ctx, addr, "pose", topicID, victim, lr.LogEndOffset, p)
			if err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			if fp.ErrorCode != kerr.NotLeaderForPartition.Code || len(fp.RecordBatches) != 0 {
				t.Fatalf("%s in live follower %d's name: error %d with %d record bytes, want NOT_LEADER_OR_FOLLOWER and none",
					p.name, victim, fp.ErrorCode, len(fp.RecordBatches))
			}
			refused++
		}
		lr, _ := c.Broker(leader).Srv.LocalReplica("pose", 0)
		vr, _ := c.Broker(victim).Srv.LocalReplica("pose", 0)
		isr := c.Broker(leader).Srv.Metadata().Topics["pose"].Partitions[0].ISR
		if !slices.Contains(isr, victim) {
			t.Fatalf("follower %d left the ISR %v within the window; the test proves nothing", victim, isr)
		}
		if lr.HighWatermark > vr.LogEndOffset {
			t.Fatalf("high watermark %d passed the log end %d of cut-off follower %d, still in the ISR %v", lr.HighWatermark, vr.LogEndOffset, victim, isr)
		}
		select {
		case err := <-done:
			t.Fatalf("acks=all write answered (%v) while in-sync follower %d was cut off", err, victim)
		default:
		}
	}
	t.Logf("%d fetches in follower %d's name refused", refused, victim)

	c.Heal()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("acks=all write after the cut healed: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("acks=all write never completed after the cut healed")
	}
	c.WaitFor("replicas identical after the heal", 30*time.Second, func() bool {
		ok, _ := c.replicasIdentical("pose", 0)
		return ok && len(c.isrOf("pose", 0)) == 3
	})
}
