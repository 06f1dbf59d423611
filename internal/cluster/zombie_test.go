package cluster

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestClusterDeposedLeaderIgnoresNewerFollower models a paused leader that
// wakes up (docker pause) before it has applied its own deposition: a real
// follower, at the leader's epoch in its request but with records of a newer
// leader epoch in its log (LastFetchedEpoch), fetches at an offset that
// counts the newer leader's records. The deposed leader must not count it:
// otherwise it acknowledges its own divergent tail, which the follower does
// not have, and the write is lost when it truncates (seen once in compose
// chaos: 4 acknowledged records lost after a pause). Here the follower that
// could confirm the tail is cut off, so only the zombie fetch could move the
// high watermark.
func TestClusterDeposedLeaderIgnoresNewerFollower(t *testing.T) {
	c, ctx, prod, leader := followerSafetyCluster(t, "zombie")
	f1, f2 := leader%3+1, (leader+1)%3+1
	c.WaitFor("followers caught up", 15*time.Second, func() bool {
		ok, _ := c.replicasIdentical("zombie", 0)
		return ok && len(c.isrOf("zombie", 0)) == 3
	})
	meta := c.Broker(leader).Srv.Metadata()
	topicID, p := meta.Topics["zombie"].ID, meta.Topics["zombie"].Partitions[0]

	// Both followers are cut off: a new write can only be confirmed by
	// fetches the test sends in f1's name.
	c.Partition([]int32{leader}, []int32{f1, f2})
	done := make(chan error, 1)
	go func() {
		done <- prod.ProduceSync(ctx, &kgo.Record{Topic: "zombie", Value: []byte("divergent tail")}).FirstErr()
	}()
	addr := c.Broker(leader).Addr()
	c.WaitFor("the write appended on the leader", 15*time.Second, func() bool {
		lr, _ := c.Broker(leader).Srv.LocalReplica("zombie", 0)
		return lr.LogEndOffset > lr.HighWatermark
	})
	lr, _ := c.Broker(leader).Srv.LocalReplica("zombie", 0)
	for _, who := range []int32{f1, f2} {
		e := c.Broker(leader).Srv.Metadata().Brokers[who].Epoch
		fp, err := followerFetch{version: 15, topic: "zombie", topicID: topicID, id: who, brokerEpoch: e,
			fetchOffset: lr.LogEndOffset, currentLeaderEpoch: p.LeaderEpoch, lastFetchedEpoch: p.LeaderEpoch + 1}.send(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		if fp.ErrorCode != kerr.UnknownLeaderEpoch.Code {
			t.Errorf("follower %d with records of epoch %d fetching from a leader at epoch %d: error %v, want UNKNOWN_LEADER_EPOCH",
				who, p.LeaderEpoch+1, p.LeaderEpoch, kerr.ErrorForCode(fp.ErrorCode))
		}
	}
	if after, _ := c.Broker(leader).Srv.LocalReplica("zombie", 0); after.HighWatermark != lr.HighWatermark {
		t.Fatalf("high watermark moved from %d to %d on fetches from followers with a newer epoch", lr.HighWatermark, after.HighWatermark)
	}
	select {
	case err := <-done:
		t.Fatalf("acks=all write answered (%v) with both followers cut off", err)
	case <-time.After(500 * time.Millisecond):
	}
	c.Heal()
	if err := <-done; err != nil {
		t.Fatalf("acks=all write after the heal: %v", err)
	}
}
