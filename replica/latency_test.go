package replica

import (
	"testing"
	"time"
)

// TestReplicationNewPartitionDoesNotWaitOutLongPoll: a follower whose
// fetcher is parked in a long poll on one partition starts replicating a
// partition it is newly given (or given at a new epoch, which truncates by
// OffsetForLeaderEpoch first, or before its leader knows the epoch) without
// waiting for that poll to end. Long polls and the partition backoff are a
// minute here, six times await's deadline: a write that waited one out
// fails the test rather than slowing it. Before, every acks=all write to a
// new partition waited up to replica.fetch.wait.max.ms (the poll naming
// only the old partitions), and a partition refused once waited
// replica.fetch.backoff.ms.
func TestReplicationNewPartitionDoesNotWaitOutLongPoll(t *testing.T) {
	o := replOptions{fetchMaxWait: time.Minute, fetchBackoff: time.Minute}
	a := newReplNode(t, 1, o)
	b := newReplNode(t, 2, o)
	a.lead(t, 1, 1, 2)
	b.follow(t, a, 1)
	// The follower now long-polls on partition 0 alone.
	if o := await(t, "acks=all on partition 0", produceAsync(t, testCtx(t), a.part(), -1, plain("p0"))); o.err != nil {
		t.Fatal(o.err)
	}

	for _, n := range []*replNode{a, b} {
		if _, err := n.m.OpenTopicID(replTopic, 1, replTopicID, testSettings()); err != nil {
			t.Fatal(err)
		}
	}
	la := a.m.Get(replTopic, 1)
	lead := func(epoch int32) {
		t.Helper()
		if err := a.m.BecomeLeader(replTopic, 1, epoch, []int32{1, 2}); err != nil {
			t.Fatal(err)
		}
	}
	follow := func(epoch int32) {
		t.Helper()
		if err := b.m.BecomeFollower(replTopic, 1, a.id, a.addr, epoch); err != nil {
			t.Fatal(err)
		}
	}
	write := func(what, v string) {
		t.Helper()
		ch := produceAsync(t, testCtx(t), la, -1, plain(v))
		if o := await(t, what, ch); o.err != nil {
			t.Fatalf("%s: %v", what, o.err)
		}
	}

	// A new partition, empty on the follower.
	lead(1)
	follow(1)
	write("acks=all on a new partition", "one")

	// A new epoch: the follower truncates by OffsetForLeaderEpoch (its log
	// has epoch 1), then must fetch in the very next poll.
	lead(2)
	follow(2)
	write("acks=all after a leader epoch change", "two")

	// The follower learns the epoch first: the leader refuses it
	// (UNKNOWN_LEADER_EPOCH) until it catches up, and the follower's retry
	// must not wait for replica.fetch.backoff.ms or the poll in flight.
	follow(3)
	time.Sleep(20 * time.Millisecond) // let the refusal happen (the test passes either way)
	lead(3)
	write("acks=all after a refused first fetch", "three")

	waitSameLog(t, la, b.m.Get(replTopic, 1))
	if o := await(t, "acks=all on partition 0 again", produceAsync(t, testCtx(t), a.part(), -1, plain("p0 again"))); o.err != nil {
		t.Fatal(o.err)
	}
}
