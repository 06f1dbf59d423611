package replica

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"
)

// TestRecordFollowerFetchAdvancesHW drives the leader side directly: the
// high watermark is the minimum LEO over the ISR, a replica outside the ISR
// never holds it back or pushes it forward, and acks=all waiters wake when
// the last ISR member reaches their offset.
func TestRecordFollowerFetchAdvancesHW(t *testing.T) {
	m := newManager(t, "")
	p := openLeader(t, m, "hw", testSettings(), self, 2, 3)
	produce(t, p, 1, plain("a", "b", "c"))
	now := time.Now()
	steps := []struct {
		id     int32
		offset int64
		wantHW int64
	}{
		{2, 3, 0},    // 3 has not fetched yet: held
		{3, 1, 1},    // min(3, 1)
		{4, 0, 1},    // not in the ISR: ignored for the high watermark
		{3, 9, 1},    // beyond the log end: ignored
		{3, 3, 3},    // both caught up
		{2, 2, 3},    // the high watermark never goes back
		{self, 0, 3}, // the leader itself: ignored
	}
	for i, s := range steps {
		p.RecordFollowerFetch(s.id, s.offset, now)
		if hw := p.HighWatermark(); hw != s.wantHW {
			t.Fatalf("step %d (%d at %d): high watermark %d, want %d", i, s.id, s.offset, hw, s.wantHW)
		}
	}

	ch := produceAsync(t, testCtx(t), p, -1, plain("d"))
	waitFor(t, "append", func() bool { return p.LogEndOffset() == 4 })
	p.RecordFollowerFetch(2, 4, now)
	pending(t, "one of two followers", ch)
	p.RecordFollowerFetch(3, 4, now)
	if o := await(t, "both followers", ch); o.err != nil || o.res.BaseOffset != 3 {
		t.Fatalf("acks=all = %+v, %v", o.res, o.err)
	}

	// Not leading: ignored.
	p.BecomeFollower(2)
	p.RecordFollowerFetch(2, 4, now)
	if got := p.ISRCheck(now.Add(time.Hour), time.Second); got != nil {
		t.Fatalf("ISRCheck while following = %v", got)
	}
	if got := p.ExpandCandidates(now, time.Second); got != nil {
		t.Fatalf("ExpandCandidates while following = %v", got)
	}
}

// TestISRCheckLagRule checks Kafka's caught-up rule with explicit times: a
// fetch at the leader's LEO makes a follower caught up now; a fetch at the
// LEO the leader had at the previous fetch makes it caught up as of that
// previous fetch; anything less leaves its last caught-up time alone.
func TestISRCheckLagRule(t *testing.T) {
	m := newManager(t, "")
	p := openLeader(t, m, "lag", testSettings(), self, 2)
	lag := 10 * time.Second
	t0 := time.Now()
	if got := p.ISRCheck(t0, lag); len(got) != 0 {
		t.Fatalf("fresh ISR member proposed for removal: %v", got)
	}
	if got := p.ISRCheck(t0.Add(lag+time.Second), lag); !slices.Equal(got, []int32{2}) {
		t.Fatalf("follower that never fetched: ISRCheck = %v, want [2]", got)
	}

	produce(t, p, 1, plain("a"))                        // LEO 1
	p.RecordFollowerFetch(2, 1, t0.Add(20*time.Second)) // at LEO: caught up at t0+20
	produce(t, p, 1, plain("b"))                        // LEO 2
	// Fetches at 1 while the leader keeps moving: the first is at the LEO
	// of the previous fetch (1), so caught up as of t0+20 only.
	p.RecordFollowerFetch(2, 1, t0.Add(25*time.Second))
	produce(t, p, 1, plain("c")) // LEO 3
	// At the previous fetch's LEO (2): caught up as of t0+25.
	p.RecordFollowerFetch(2, 2, t0.Add(33*time.Second))
	if got := p.ISRCheck(t0.Add(34*time.Second), lag); len(got) != 0 {
		t.Fatalf("caught up at t0+25, checked at t0+34: %v", got)
	}
	// Stuck at 2 while the leader is at 3 (and was at 3 at the previous
	// fetch): no progress, last caught up stays t0+25.
	p.RecordFollowerFetch(2, 2, t0.Add(40*time.Second))
	p.RecordFollowerFetch(2, 2, t0.Add(45*time.Second))
	if got := p.ISRCheck(t0.Add(46*time.Second), lag); !slices.Equal(got, []int32{2}) {
		t.Fatalf("last caught up t0+25, checked at t0+46: %v, want [2]", got)
	}
	p.RecordFollowerFetch(2, 3, t0.Add(50*time.Second))
	if got := p.ISRCheck(t0.Add(55*time.Second), lag); len(got) != 0 {
		t.Fatalf("caught up at t0+50, checked at t0+55: %v", got)
	}

	// A new leadership resets the window for every ISR member.
	p.BecomeLeader(2, []int32{self, 2})
	now := time.Now()
	if got := p.ISRCheck(now, lag); len(got) != 0 {
		t.Fatalf("after new epoch: %v", got)
	}
}

// TestExpandCandidates: a replica outside the ISR qualifies once its LEO
// reaches the high watermark and the current epoch's start, and only while
// it keeps fetching.
func TestExpandCandidates(t *testing.T) {
	m := newManager(t, "")
	p := openLeader(t, m, "exp", testSettings(), self)
	produce(t, p, 1, plain("a", "b")) // HW 2 (ISR is the leader alone)
	p.BecomeLeader(2, []int32{self})  // epoch 2 starts at 2
	produce(t, p, 1, plain("c"))      // HW 3
	lag := 10 * time.Second
	t0 := time.Now()
	p.RecordFollowerFetch(2, 1, t0)
	p.RecordFollowerFetch(3, 3, t0)
	p.RecordFollowerFetch(4, 3, t0.Add(-20*time.Second))
	if got := p.ExpandCandidates(t0, lag); !slices.Equal(got, []int32{3}) {
		t.Fatalf("ExpandCandidates = %v, want [3]", got)
	}
	p.RecordFollowerFetch(2, 3, t0)
	if got := p.ExpandCandidates(t0, lag); !slices.Equal(got, []int32{2, 3}) {
		t.Fatalf("ExpandCandidates = %v, want [2 3]", got)
	}
	if got := p.ExpandCandidates(t0.Add(lag+time.Second), lag); len(got) != 0 {
		t.Fatalf("stale fetchers proposed: %v", got)
	}
	newISR, epoch, ok := p.isrProposal(t0, lag)
	if !ok || epoch != 2 || !slices.Equal(newISR, []int32{self, 2, 3}) {
		t.Fatalf("isrProposal = %v, %d, %v", newISR, epoch, ok)
	}
	// Added replicas now hold the high watermark.
	p.BecomeLeader(2, newISR)
	produce(t, p, 1, plain("d"))
	if hw := p.HighWatermark(); hw != 3 {
		t.Fatalf("high watermark %d, want 3 until 2 and 3 fetch", hw)
	}
	p.RecordFollowerFetch(2, 4, t0)
	p.RecordFollowerFetch(3, 4, t0)
	if hw := p.HighWatermark(); hw != 4 {
		t.Fatalf("high watermark %d, want 4", hw)
	}
}

// TestISRLoopRejectedProposalRetried: a proposal the controller refuses is
// made again on a later check.
func TestISRLoopRejectedProposalRetried(t *testing.T) {
	a := newReplNode(t, 1, replOptions{lagMax: 100 * time.Millisecond})
	a.changer.reject.Store(true)
	a.lead(t, 1, 1, 2) // 2 never fetches
	waitFor(t, "a rejected proposal", func() bool { return a.changer.rejected.Load() >= 1 })
	a.changer.reject.Store(false)
	a.changer.awaitProposal(t, 1, 1)
}

func TestWholeBatches(t *testing.T) {
	b1, b2 := plain("one"), plain("two", "three")
	both := append(slices.Clone(b1), b2...)
	neg := slices.Clone(b2)
	neg[8] = 0xff // negative length
	for _, c := range []struct {
		name string
		in   []byte
		want int
	}{
		{"empty", nil, 0},
		{"two whole", both, len(both)},
		{"cut in second", both[:len(both)-3], len(b1)},
		{"cut in prefix of second", both[:len(b1)+5], len(b1)},
		{"cut in first", b1[:len(b1)-1], 0},
		{"negative length", append(slices.Clone(b1), neg...), len(b1)},
	} {
		if got := len(wholeBatches(c.in)); got != c.want {
			t.Errorf("%s: %d bytes, want %d", c.name, got, c.want)
		}
	}
}

// TestAppendAsFollowerPartialAndFencing: a response whose last batch is cut
// appends only the whole ones; batches already present are skipped; a
// replica that leads (or follows at another epoch) refuses follower writes.
func TestAppendAsFollowerPartialAndFencing(t *testing.T) {
	m := newManager(t, "")
	src := openLeader(t, m, "src", testSettings(), self)
	produce(t, src, 1, batch(9, 0, 0, "a"))
	produce(t, src, 1, batch(9, 0, 1, "b", "c"))
	produce(t, src, 1, plain("d"))
	all, err := src.Fetch(0, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	recs := all.Records

	dst, err := m.Open("dst", 0, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	dst.BecomeFollower(1)
	n, err := dst.appendAsFollower(1, recs[:len(recs)-4])
	if err != nil {
		t.Fatal(err)
	}
	if dst.LogEndOffset() != 3 || n != len(recs)-len(plain("d")) {
		t.Fatalf("after a cut response: LEO %d, %d bytes", dst.LogEndOffset(), n)
	}
	// The whole response again: the first two batches are skipped.
	if _, err := dst.appendAsFollower(1, recs); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(logBytes(t, dst), logBytes(t, src)) {
		t.Fatal("logs differ")
	}
	// Producer state came along: sequence 2 is next, 1 is a duplicate.
	dst.BecomeLeader(2, []int32{self})
	res, err := dst.Produce(testCtx(t), batch(9, 0, 1, "b", "c"), 1)
	if err != nil || !res.Duplicate || res.BaseOffset != 1 {
		t.Fatalf("retry on promoted follower = %+v, %v", res, err)
	}
	if _, err := dst.appendAsFollower(2, recs); !errors.Is(err, errStopFollowing) {
		t.Fatalf("follower append on a leader: %v", err)
	}
	dst.BecomeFollower(3)
	if _, err := dst.appendAsFollower(2, recs); !errors.Is(err, errStopFollowing) {
		t.Fatalf("follower append at an old epoch: %v", err)
	}
	if err := dst.truncateAsFollower(2, 0); !errors.Is(err, errStopFollowing) {
		t.Fatalf("truncate at an old epoch: %v", err)
	}
	// Corrupt records are refused whole.
	bad := slices.Clone(recs)
	bad[len(bad)-1] ^= 0xff
	if err := dst.truncateAsFollower(3, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := dst.appendAsFollower(3, bad); err == nil || dst.LogEndOffset() != 0 {
		t.Fatalf("corrupt append: %d bytes, %v, LEO %d", n, err, dst.LogEndOffset())
	}
}

// newISRManager opens a Manager whose ISR loop proposes to a fakeChanger.
func newISRManager(t *testing.T, lagMax time.Duration) (*Manager, *fakeChanger) {
	t.Helper()
	ch := &fakeChanger{proposals: make(chan isrProposalMsg, 64)}
	m, err := NewManager(Config{NodeID: self, DataDir: t.TempDir(),
		Replication: ReplicationConfig{ISRChanger: ch, LagTimeMax: lagMax}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close manager: %v", err)
		}
	})
	return m, ch
}

// TestMaximalISRHoldsHighWatermark: from the moment the leader proposes
// adding a follower, the high watermark waits for that follower (Kafka's
// maximal ISR), before metadata has committed the addition.
func TestMaximalISRHoldsHighWatermark(t *testing.T) {
	m, ch := newISRManager(t, 10*time.Second)
	p := openLeader(t, m, replTopic, testSettings(), self)
	produce(t, p, 1, plain("a", "b"))
	if hw := p.HighWatermark(); hw != 2 {
		t.Fatalf("hw %d, want 2", hw)
	}
	p.RecordFollowerFetch(2, 2, time.Now()) // caught up: proposed for the ISR
	ch.awaitProposal(t, 1, self, 2)
	produce(t, p, 1, plain("c"))
	if hw := p.HighWatermark(); hw != 2 {
		t.Fatalf("hw %d passed follower 2 (at 2), proposed for the ISR but not yet committed", hw)
	}
	p.RecordFollowerFetch(2, 3, time.Now())
	if hw := p.HighWatermark(); hw != 3 {
		t.Fatalf("hw %d, want 3", hw)
	}
	// Committed: 2 is an ordinary ISR member.
	p.BecomeLeader(1, []int32{self, 2})
	produce(t, p, 1, plain("d"))
	if hw := p.HighWatermark(); hw != 3 {
		t.Fatalf("hw %d, want 3 until 2 fetches", hw)
	}
	p.RecordFollowerFetch(2, 4, time.Now())
	if hw := p.HighWatermark(); hw != 4 {
		t.Fatalf("hw %d, want 4", hw)
	}
}

// TestMaximalISRPendingAdditionExpires: an addition the controller never
// commits stops holding the high watermark once the follower has stopped
// fetching for replica.lag.time.max.ms, as an ISR member would be removed.
func TestMaximalISRPendingAdditionExpires(t *testing.T) {
	m, ch := newISRManager(t, 100*time.Millisecond)
	ch.reject.Store(true)
	p := openLeader(t, m, replTopic, testSettings(), self)
	produce(t, p, 1, plain("a"))
	p.RecordFollowerFetch(2, 1, time.Now())
	waitFor(t, "a proposal", func() bool { return ch.rejected.Load() >= 1 })
	produce(t, p, 1, plain("b"))
	if hw := p.HighWatermark(); hw != 1 {
		t.Fatalf("hw %d passed the pending addition", hw)
	}
	waitFor(t, "the pending addition to expire", func() bool { return p.HighWatermark() == 2 })
}

// TestStrictMinISR: while the committed ISR is smaller than
// min.insync.replicas the high watermark stays put, so acks=1 writes made
// then are not shown to consumers until the ISR is back.
func TestStrictMinISR(t *testing.T) {
	m := newManager(t, "")
	s := testSettings()
	s.MinInsyncReplicas = 2
	p := openLeader(t, m, "strict", s, self, 2)
	produce(t, p, 1, plain("a"))
	p.RecordFollowerFetch(2, 1, time.Now())
	if hw := p.HighWatermark(); hw != 1 {
		t.Fatalf("hw %d, want 1", hw)
	}
	all := produceAsync(t, testCtx(t), p, -1, plain("b"))
	waitFor(t, "the acks=all batch to be appended", func() bool { return p.LogEndOffset() == 2 })
	// The ISR shrinks to the leader alone: the waiting acks=all write is
	// told at once, and acks=1 writes are not exposed.
	p.BecomeLeader(1, []int32{self})
	if o := await(t, "ISR below min", all); !errors.Is(o.err, ErrNotEnoughReplicasAfterAppend) {
		t.Fatalf("acks=all waiter after the ISR shrank: %+v", o)
	}
	produce(t, p, 1, plain("c"))
	if hw := p.HighWatermark(); hw != 1 {
		t.Fatalf("hw %d advanced with 1 in sync < min.insync.replicas 2", hw)
	}
	if _, recs := fetchAll(t, p, 0, false); !slices.Equal(values(recs), []string{"a"}) {
		t.Fatalf("consumers see %v, want [a]", values(recs))
	}
	// Back to two: the follower's progress moves it again.
	p.BecomeLeader(1, []int32{self, 2})
	p.RecordFollowerFetch(2, 3, time.Now())
	if hw := p.HighWatermark(); hw != 3 {
		t.Fatalf("hw %d, want 3 with the ISR back at 2", hw)
	}
	// min.insync.replicas above the replication factor is capped by it,
	// as Kafka's effectiveMinIsr: a single copy still makes progress.
	s.Replicas = 1
	q := openLeader(t, m, "strict-rf1", s, self)
	produce(t, q, 1, plain("x"))
	if hw := q.HighWatermark(); hw != 1 {
		t.Fatalf("RF 1, min.insync 2: hw %d, want 1", hw)
	}
}

// TestISRMemberBelowHighWatermarkRemoved: an ISR member that fetches below
// the high watermark has lost committed records (an unclean stop took its
// unflushed tail) and is proposed for removal at once, not after
// replica.lag.time.max.ms, so that it is not electable while it lacks them.
func TestISRMemberBelowHighWatermarkRemoved(t *testing.T) {
	m, ch := newISRManager(t, time.Minute)
	p := openLeader(t, m, replTopic, testSettings(), self, 2)
	produce(t, p, 1, plain("a", "b", "c"))
	p.RecordFollowerFetch(2, 3, time.Now())
	if hw := p.HighWatermark(); hw != 3 {
		t.Fatalf("hw %d, want 3", hw)
	}
	p.RecordFollowerFetch(2, 1, time.Now()) // restarted with only offset 0
	ch.awaitProposal(t, 1, self)
	if hw := p.HighWatermark(); hw != 3 {
		t.Fatalf("hw moved back to %d", hw)
	}
}
