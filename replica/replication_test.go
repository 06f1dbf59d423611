package replica

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestReplicationFollowerCatchesUp: a follower that starts empty copies the
// leader's log byte for byte, across several fetch rounds (the response
// limits are small), its high watermark follows the leader's, and after a
// failover it still recognises an idempotent retry as a duplicate.
func TestReplicationFollowerCatchesUp(t *testing.T) {
	a := newReplNode(t, 1, replOptions{})
	b := newReplNode(t, 2, replOptions{})
	a.lead(t, 1, 1)
	la := a.part()
	var big strings.Builder
	for range 3000 {
		big.WriteString("x")
	}
	for i := range 40 {
		produce(t, la, 1, batch(7, 0, int32(2*i), "p", big.String()))
	}
	produce(t, la, 1, plain("tail"))

	b.follow(t, a, 1)
	if id, ok := b.m.Following(replTopic, 0); !ok || id != 1 {
		t.Fatalf("Following = %d, %v; want 1, true", id, ok)
	}
	waitSameLog(t, la, b.part())

	// New records, acks=all with the follower now in the ISR.
	a.lead(t, 1, 1, 2)
	ctx := testCtx(t)
	for i := range 5 {
		if _, err := la.Produce(ctx, plain("all", string(rune('a'+i))), -1); err != nil {
			t.Fatalf("acks=all produce %d: %v", i, err)
		}
	}
	waitSameLog(t, la, b.part())

	// Failover: b leads at epoch 2; a retry of producer 7's last batch
	// (sequences 78-79) is answered as a duplicate at its original offsets.
	b.lead(t, 2, 2)
	lb := b.part()
	res, err := lb.Produce(ctx, batch(7, 0, 78, "p", big.String()), 1)
	if err != nil {
		t.Fatalf("retry on new leader: %v", err)
	}
	if !res.Duplicate || res.BaseOffset != 78 {
		t.Fatalf("retry on new leader = %+v, want duplicate at 78", res)
	}
	if _, ok := b.m.Following(replTopic, 0); ok {
		t.Fatal("still fetching after BecomeLeader")
	}
	if got := produce(t, lb, 1, batch(7, 0, 80, "next")); got.BaseOffset != la.LogEndOffset() {
		t.Fatalf("next sequence on new leader at %d, want %d", got.BaseOffset, la.LogEndOffset())
	}
}

// TestReplicationAcksAllWaitsForFollower: with the follower in the ISR the
// high watermark stays put until the follower has fetched past the records,
// and an acks=all produce returns only then.
func TestReplicationAcksAllWaitsForFollower(t *testing.T) {
	a := newReplNode(t, 1, replOptions{})
	b := newReplNode(t, 2, replOptions{})
	a.lead(t, 1, 1, 2)
	la := a.part()
	produce(t, la, 1, plain("one", "two"))
	if hw := la.HighWatermark(); hw != 0 {
		t.Fatalf("high watermark %d before the follower fetched, want 0", hw)
	}
	ch := produceAsync(t, testCtx(t), la, -1, plain("three"))
	pending(t, "acks=all without follower", ch)
	if hw := la.HighWatermark(); hw != 0 {
		t.Fatalf("high watermark %d before the follower fetched, want 0", hw)
	}

	b.follow(t, a, 1)
	o := await(t, "acks=all with follower", ch)
	if o.err != nil || o.res.BaseOffset != 2 {
		t.Fatalf("acks=all produce = %+v, %v; want base 2", o.res, o.err)
	}
	// The acknowledgement implies the follower has the record.
	if leo := b.part().LogEndOffset(); leo < 3 {
		t.Fatalf("acks=all returned while the follower's log ends at %d", leo)
	}
	waitSameLog(t, la, b.part())

	// Demoted while an acks=all produce waits: it fails with ErrNotLeader
	// at once rather than at its timeout.
	b.m.StopFollowing(replTopic, 0)
	ch = produceAsync(t, testCtx(t), la, -1, plain("four"))
	waitFor(t, "append", func() bool { return la.LogEndOffset() == 4 })
	a.follow(t, b, 2)
	if o := await(t, "acks=all on a demoted leader", ch); !errors.Is(o.err, ErrNotLeader) {
		t.Fatalf("acks=all on a demoted leader: %+v, %v", o.res, o.err)
	}
}

// TestReplicationISRShrinkAndExpand: a follower that stops fetching is
// proposed for removal after replica.lag.time.max; acks=all stalls until
// metadata shrinks the ISR, then works with the leader alone; when the
// follower comes back and catches up it is proposed again, and once added
// it counts for acks=all again.
func TestReplicationISRShrinkAndExpand(t *testing.T) {
	a := newReplNode(t, 1, replOptions{lagMax: 500 * time.Millisecond})
	b := newReplNode(t, 2, replOptions{})
	a.lead(t, 1, 1, 2)
	la := a.part()
	b.follow(t, a, 1)
	ctx := testCtx(t)
	if _, err := la.Produce(ctx, plain("a"), -1); err != nil {
		t.Fatal(err)
	}

	b.m.StopFollowing(replTopic, 0)
	ch := produceAsync(t, ctx, la, -1, plain("b"))
	a.changer.awaitProposal(t, 1, 1)
	pending(t, "acks=all with a stopped follower still in the ISR", ch)
	if shrink := la.ISRCheck(time.Now(), 500*time.Millisecond); len(shrink) != 1 || shrink[0] != 2 {
		t.Fatalf("ISRCheck = %v, want [2]", shrink)
	}

	// The controller commits it; metadata reaches the leader.
	a.lead(t, 1, 1)
	if o := await(t, "acks=all after shrink", ch); o.err != nil {
		t.Fatalf("acks=all after shrink: %v", o.err)
	}
	if _, err := la.Produce(ctx, plain("c"), -1); err != nil {
		t.Fatalf("acks=all with ISR [1]: %v", err)
	}

	// The follower returns, catches up, and is proposed back.
	b.follow(t, a, 1)
	a.changer.awaitProposal(t, 1, 1, 2)
	waitFor(t, "follower caught up", func() bool { return b.part().LogEndOffset() == la.LogEndOffset() })
	a.lead(t, 1, 1, 2)
	if isr := la.ISR(); len(isr) != 2 {
		t.Fatalf("ISR = %v after expansion", isr)
	}
	if _, err := la.Produce(ctx, plain("d"), -1); err != nil {
		t.Fatalf("acks=all after expansion: %v", err)
	}
	if leo := b.part().LogEndOffset(); leo < la.LogEndOffset() {
		t.Fatalf("acks=all returned with follower at %d, leader at %d", leo, la.LogEndOffset())
	}
	waitSameLog(t, la, b.part())
}

// TestReplicationDivergentTailTruncated: the old leader wrote records at
// epoch 1 that never reached the follower; the follower became leader at
// epoch 2 and wrote others. Following the new leader, the old one cuts its
// tail at the end of epoch 1 in the new leader's log and ends identical.
func TestReplicationDivergentTailTruncated(t *testing.T) {
	a := newReplNode(t, 1, replOptions{})
	b := newReplNode(t, 2, replOptions{})
	a.lead(t, 1, 1, 2)
	b.follow(t, a, 1)
	ctx := testCtx(t)
	for _, v := range []string{"k0", "k1"} {
		if _, err := a.part().Produce(ctx, plain(v), -1); err != nil {
			t.Fatal(err)
		}
	}
	waitSameLog(t, a.part(), b.part())

	// a is cut off and keeps writing at epoch 1.
	b.m.StopFollowing(replTopic, 0)
	a.lead(t, 1, 1)
	produce(t, a.part(), 1, plain("lost1"))
	produce(t, a.part(), 1, plain("lost2", "lost3"))

	// b leads at epoch 2 and writes its own records.
	b.lead(t, 2, 2)
	produce(t, b.part(), 1, plain("new2"))
	produce(t, b.part(), 1, plain("new3"))

	a.follow(t, b, 2)
	b.lead(t, 2, 2, 1)
	waitSameLog(t, b.part(), a.part())
	_, recs := fetchAll(t, a.part(), 0, true)
	if got := strings.Join(values(recs), ","); got != "k0,k1,new2,new3" {
		t.Fatalf("old leader's log after truncation = %s", got)
	}
}

// TestReplicationTruncationOverUnknownEpoch is KIP-279's case: the follower's
// latest epoch (3) never existed on the leader, whose history has an epoch
// (2) the follower never saw. It takes two OffsetForLeaderEpoch rounds.
func TestReplicationTruncationOverUnknownEpoch(t *testing.T) {
	a := newReplNode(t, 1, replOptions{})
	b := newReplNode(t, 2, replOptions{})
	a.lead(t, 1, 1, 2)
	b.follow(t, a, 1)
	ctx := testCtx(t)
	if _, err := a.part().Produce(ctx, plain("e1a", "e1b"), -1); err != nil {
		t.Fatal(err)
	}
	waitSameLog(t, a.part(), b.part())

	b.lead(t, 2, 2)
	produce(t, b.part(), 1, plain("e2"))
	a.lead(t, 3, 1)
	produce(t, a.part(), 1, plain("e3a"))
	produce(t, a.part(), 1, plain("e3b"))
	b.lead(t, 4, 2, 1)
	produce(t, b.part(), 1, plain("e4"))

	a.follow(t, b, 4)
	waitSameLog(t, b.part(), a.part())
	_, recs := fetchAll(t, a.part(), 0, true)
	if got := strings.Join(values(recs), ","); got != "e1a,e1b,e2,e4" {
		t.Fatalf("follower log = %s", got)
	}
}

// TestReplicationBelowLeaderLogStart: a follower whose log end is below the
// leader's log start (records deleted there) restarts its log at the
// leader's start.
func TestReplicationBelowLeaderLogStart(t *testing.T) {
	a := newReplNode(t, 1, replOptions{})
	b := newReplNode(t, 2, replOptions{})
	a.lead(t, 1, 1)
	la := a.part()
	for _, v := range []string{"0", "1", "2", "3", "4"} {
		produce(t, la, 1, plain(v))
	}
	if _, err := la.DeleteRecords(3); err != nil {
		t.Fatal(err)
	}
	b.follow(t, a, 1)
	waitSameLog(t, la, b.part())
	if s := b.part().LogStartOffset(); s != 3 {
		t.Fatalf("follower log start %d, want 3", s)
	}
}

// TestReplicationDialFailuresRetried: connection failures are retried with
// backoff until the leader is reachable; Close stops a fetcher stuck in
// retries (goleak checks).
func TestReplicationDialFailuresRetried(t *testing.T) {
	var fail = make(chan struct{})
	a := newReplNode(t, 1, replOptions{})
	b := newReplNode(t, 2, replOptions{dialHook: func(string) error {
		select {
		case <-fail:
			return nil
		default:
			return errors.New("injected dial failure")
		}
	}})
	a.lead(t, 1, 1)
	produce(t, a.part(), 1, plain("x", "y"))
	b.follow(t, a, 1)
	waitFor(t, "several dial attempts", func() bool { return b.dials.Load() >= 3 })
	if leo := b.part().LogEndOffset(); leo != 0 {
		t.Fatalf("follower at %d without a connection", leo)
	}
	close(fail)
	waitSameLog(t, a.part(), b.part())

	c := newReplNode(t, 3, replOptions{dialHook: func(string) error { return errors.New("down") }})
	c.follow(t, a, 1)
	waitFor(t, "a dial attempt", func() bool { return c.dials.Load() >= 1 })
	if err := c.m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.m.BecomeFollower(replTopic, 0, 1, a.addr, 1); err == nil {
		t.Fatal("BecomeFollower after Close succeeded")
	}
}

// TestReplicationFollowerLeaderChange: a follower moves between leaders and
// through epochs, and the wrong leader (one that no longer leads) makes it
// wait rather than fail.
func TestReplicationFollowerLeaderChange(t *testing.T) {
	a := newReplNode(t, 1, replOptions{})
	b := newReplNode(t, 2, replOptions{})
	c := newReplNode(t, 3, replOptions{})
	a.lead(t, 1, 1, 2, 3)
	b.follow(t, a, 1)
	c.follow(t, a, 1)
	ctx := testCtx(t)
	if _, err := a.part().Produce(ctx, plain("a1"), -1); err != nil {
		t.Fatal(err)
	}
	waitSameLog(t, a.part(), c.part())

	// Epoch 2: b leads. c is told before a is; until a hears, c fetches
	// from b fine, while a (still following nobody) is stale.
	b.lead(t, 2, 2, 3)
	c.follow(t, b, 2)
	if id, _ := c.m.Following(replTopic, 0); id != 2 {
		t.Fatalf("c follows %d, want 2", id)
	}
	if _, err := b.part().Produce(ctx, plain("b2"), -1); err != nil {
		t.Fatal(err)
	}
	waitSameLog(t, b.part(), c.part())

	// c is told to follow a at epoch 2, but a does not lead: fetches are
	// refused and retried, nothing is written.
	if err := c.m.BecomeFollower(replTopic, 0, 1, a.addr, 2); err != nil {
		t.Fatal(err)
	}
	leo := c.part().LogEndOffset()
	waitFor(t, "c to dial a", func() bool { return c.dials.Load() >= 2 })
	if got := c.part().LogEndOffset(); got != leo {
		t.Fatalf("c's log moved from %d to %d following a non-leader", leo, got)
	}
	// Stale metadata is refused.
	if err := c.m.BecomeFollower(replTopic, 0, 2, b.addr, 1); !errors.Is(err, ErrStaleLeaderEpoch) {
		t.Fatalf("BecomeFollower at an old epoch: %v", err)
	}
	c.follow(t, b, 2)
	produce(t, b.part(), 1, plain("b3"))
	waitSameLog(t, b.part(), c.part())
}

func TestReplicationBecomeFollowerErrors(t *testing.T) {
	a := newReplNode(t, 1, replOptions{})
	if err := a.m.BecomeFollower("nope", 0, 2, "127.0.0.1:1", 1); !errors.Is(err, ErrNotHosted) {
		t.Fatalf("unknown partition: %v", err)
	}
	if err := a.m.BecomeFollower(replTopic, 0, 1, a.addr, 1); !errors.Is(err, ErrInvalidLeader) {
		t.Fatalf("following itself: %v", err)
	}
	if err := a.m.BecomeFollower(replTopic, 0, 2, "", 1); !errors.Is(err, ErrInvalidLeader) {
		t.Fatalf("no address: %v", err)
	}
	a.lead(t, 3, 1)
	if err := a.m.BecomeFollower(replTopic, 0, 2, "127.0.0.1:1", 3); !errors.Is(err, ErrStaleLeaderEpoch) {
		t.Fatalf("follow at the epoch it leads: %v", err)
	}
	if err := a.m.BecomeLeader("nope", 0, 1, nil); !errors.Is(err, ErrNotHosted) {
		t.Fatalf("lead unknown partition: %v", err)
	}
	// Removing a followed partition stops its fetcher.
	if err := a.m.BecomeFollower(replTopic, 0, 2, "127.0.0.1:1", 4); err != nil {
		t.Fatal(err)
	}
	if err := a.m.Remove(replTopic, 0); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.m.Following(replTopic, 0); ok {
		t.Fatal("removed partition still followed")
	}
}

// BenchmarkReplicationAcksAll measures one acks=all produce at a time with
// one follower over loopback TCP: the follower's long-poll is woken by the
// append (ReplicaChanged), so each op costs a fetch round trip or two, not
// the fetch wait.
func BenchmarkReplicationAcksAll(b *testing.B) {
	for _, size := range []int{100, 16 << 10} {
		b.Run(fmt.Sprintf("value=%d", size), func(b *testing.B) {
			s := testSettings()
			s.Log.SegmentBytes = 64 << 20
			a := newReplNode(b, 1, replOptions{settings: &s})
			f := newReplNode(b, 2, replOptions{settings: &s})
			a.lead(b, 1, 1, 2)
			f.follow(b, a, 1)
			la := a.part()
			val := strings.Repeat("v", size)
			ctx := context.Background()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for b.Loop() {
				if _, err := la.Produce(ctx, plain(val), -1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestReplicationFollowerSendsBrokerEpoch: the fetcher names its broker
// epoch as the server reports it at each fetch (the test leader refuses
// any other, as internal/server does), and a replica opened without a topic
// id cannot follow, since fetches name topics by id.
func TestReplicationFollowerSendsBrokerEpoch(t *testing.T) {
	a := newReplNode(t, 1, replOptions{})
	b := newReplNode(t, 2, replOptions{})
	a.lead(t, 1, 1, 2)
	la := a.part()
	produce(t, la, 1, plain("one"))
	b.follow(t, a, 1)
	waitSameLog(t, la, b.part())

	var epoch atomic.Int64
	epoch.Store(testBrokerEpoch(3)) // not node 2's: refused
	c := newReplNode(t, 2, replOptions{brokerEpoch: func() int64 { return epoch.Load() }})
	c.follow(t, a, 1)
	time.Sleep(200 * time.Millisecond)
	if got := c.part().LogEndOffset(); got != 0 {
		t.Fatalf("follower at a wrong broker epoch fetched up to %d", got)
	}
	epoch.Store(testBrokerEpoch(2))
	waitSameLog(t, la, c.part())

	if _, err := b.m.Open("noid", 0, testSettings()); err != nil {
		t.Fatal(err)
	}
	if err := b.m.BecomeFollower("noid", 0, a.id, a.addr, 1); !errors.Is(err, ErrNoTopicID) {
		t.Fatalf("BecomeFollower of a replica without a topic id = %v, want ErrNoTopicID", err)
	}
}
