package replica

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/strombroker/strom/storage"
)

func TestPartitionProduceFetch(t *testing.T) {
	m := newManager(t, "")
	p := openLeader(t, m, "pf", testSettings())

	var want []string
	next := int64(0)
	// Enough data to roll several 4 KiB segments.
	for i := range 60 {
		vals := []string{fmt.Sprintf("a%03d-%080d", i, 0), fmt.Sprintf("b%03d-%080d", i, 0)}
		acks := []int16{0, 1, -1}[i%3]
		res := produce(t, p, acks, plain(vals...))
		if res.BaseOffset != next || res.LastOffset != next+1 || res.Duplicate {
			t.Fatalf("batch %d (acks %d): result %+v, want offsets %d..%d", i, acks, res, next, next+1)
		}
		next += 2
		want = append(want, vals...)
	}
	if hw, leo := p.HighWatermark(), p.LogEndOffset(); hw != next || leo != next {
		t.Fatalf("hw %d leo %d, want both %d (lone ISR)", hw, leo, next)
	}
	r, recs := fetchAll(t, p, 0, false)
	if got := values(recs); !slices.Equal(got, want) {
		t.Fatalf("fetched %d records, want %d; first %v", len(got), len(want), got[:min(len(got), 3)])
	}
	for i, rec := range recs {
		if rec.offset != int64(i) {
			t.Fatalf("record %d has offset %d", i, rec.offset)
		}
	}
	if r.HighWatermark != next || r.LogEndOffset != next || r.LogStartOffset != 0 || r.LastStable != next {
		t.Fatalf("fetch result %+v", r)
	}

	// Fetching in the middle of a batch returns the whole batch (offsets
	// inside a batch are not addressable); the caller skips the head.
	r, err := p.Fetch(31, 1<<20, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := decode(t, r.Records); len(got) == 0 || got[0].offset != 30 {
		t.Fatalf("fetch at 31 starts at %v, want the batch at 30", got[:min(len(got), 1)])
	}
	// At the end: empty, no error. Past the end: out of range.
	if r, err := p.Fetch(next, 1<<20, false); err != nil || len(r.Records) != 0 {
		t.Fatalf("fetch at end: %d bytes, err %v", len(r.Records), err)
	}
	if _, err := p.Fetch(next+1, 1<<20, false); !errors.Is(err, storage.ErrOffsetOutOfRange) {
		t.Fatalf("fetch past end: %v, want ErrOffsetOutOfRange", err)
	}
	if p.Size() <= 0 {
		t.Fatalf("size %d", p.Size())
	}
}

func TestPartitionRejectsBadBatches(t *testing.T) {
	m := newManager(t, "")
	p := openLeader(t, m, "bad", testSettings())

	corrupt := plain("x")
	corrupt[len(corrupt)-1] ^= 0xff
	if _, err := p.Produce(testCtx(t), corrupt, 1); !errors.Is(err, storage.ErrCorruptBatch) {
		t.Fatalf("corrupt batch: %v", err)
	}
	// Over max.message.bytes is MESSAGE_TOO_LARGE even when also corrupt
	// (Kafka checks the size first); within it, the same bytes are corrupt.
	big := plain(strings.Repeat("v", 200))
	big[len(big)-1] ^= 0xff
	s := testSettings()
	s.Log.MaxMessageBytes = int32(len(big) - 1)
	p.SetSettings(s)
	if _, err := p.Produce(testCtx(t), big, 1); !errors.Is(err, storage.ErrMessageTooLarge) {
		t.Fatalf("corrupt batch over the limit: %v, want ErrMessageTooLarge", err)
	}
	if _, _, err := p.ProduceParsedAsync(ParseProduce(plain(strings.Repeat("v", 200))), 1); !errors.Is(err, storage.ErrMessageTooLarge) {
		t.Fatalf("parsed batch over the limit: %v, want ErrMessageTooLarge", err)
	}
	p.SetSettings(testSettings())
	if _, err := p.Produce(testCtx(t), big, 1); !errors.Is(err, storage.ErrCorruptBatch) {
		t.Fatalf("corrupt batch within the limit: %v, want ErrCorruptBatch", err)
	}

	ctl := batch(5, 0, 0, "t")
	ctl[22] |= 0x30 // transactional and control attribute bits (low byte of attributes)
	fixCRC(ctl)
	if _, err := p.Produce(testCtx(t), ctl, 1); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("control batch from a client: %v", err)
	}
	// Kafka accepts exactly one v2 batch per partition in a produce; two
	// are refused whole, idempotent or not, and nothing is appended.
	produce(t, p, 1, batch(5, 0, 0, "a"))
	for _, two := range [][]byte{
		append(batch(5, 0, 1, "b"), batch(5, 0, 2, "c")...),
		append(plain("b"), plain("c", "d")...),
	} {
		if _, err := p.Produce(testCtx(t), two, 1); !errors.Is(err, ErrInvalidRecord) {
			t.Fatalf("two batches: %v, want ErrInvalidRecord", err)
		}
	}
	if leo := p.LogEndOffset(); leo != 1 {
		t.Fatalf("log end %d after rejected batches, want 1", leo)
	}
}

// fixCRC recomputes the CRC of a single batch after a test edited it.
func fixCRC(b []byte) {
	c := crcOf(b[21:])
	b[17], b[18], b[19], b[20] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
}

func TestPartitionFetchStopsAtHighWatermark(t *testing.T) {
	m := newManager(t, "")
	p := openLeader(t, m, "hw", testSettings(), self, 2)

	for i := range 4 {
		produce(t, p, 1, plain(fmt.Sprintf("v%d", 2*i), fmt.Sprintf("v%d", 2*i+1)))
	}
	if hw, leo := p.HighWatermark(), p.LogEndOffset(); hw != 0 || leo != 8 {
		t.Fatalf("hw %d leo %d before the follower reported, want 0 and 8", hw, leo)
	}
	if r, recs := fetchAll(t, p, 0, false); len(recs) != 0 || r.HighWatermark != 0 || r.LogEndOffset != 8 {
		t.Fatalf("consumer saw %d records above the high watermark (result %+v)", len(recs), r)
	}
	if _, recs := fetchAll(t, p, 0, true); len(recs) != 8 {
		t.Fatalf("follower fetch got %d records, want 8", len(recs))
	}

	p.UpdateFollowerLEO(2, 4)
	if hw := p.HighWatermark(); hw != 4 {
		t.Fatalf("hw %d after follower at 4", hw)
	}
	if _, recs := fetchAll(t, p, 0, false); !slices.Equal(values(recs), []string{"v0", "v1", "v2", "v3"}) {
		t.Fatalf("consumer got %v, want v0..v3", values(recs))
	}
	// The high watermark never moves back, even if a follower reports less.
	p.UpdateFollowerLEO(2, 2)
	if hw := p.HighWatermark(); hw != 4 {
		t.Fatalf("hw moved back to %d", hw)
	}
	// Nor beyond what the leader itself has.
	p.UpdateFollowerLEO(2, 100)
	if hw := p.HighWatermark(); hw != 8 {
		t.Fatalf("hw %d with follower ahead, want the leader's 8", hw)
	}

	// ListOffsets by timestamp only sees committed records.
	q := openLeader(t, m, "hw-ts", testSettings(), self, 2)
	produce(t, q, 1, plain("x"))
	if _, _, found, err := q.OffsetForTimestamp(0); err != nil || found {
		t.Fatalf("offset for timestamp above hw: found %v err %v", found, err)
	}
	q.UpdateFollowerLEO(2, 1)
	if off, _, found, err := q.OffsetForTimestamp(0); err != nil || !found || off != 0 {
		t.Fatalf("offset for timestamp: %d found %v err %v", off, found, err)
	}
}

func TestPartitionAcksAllWaitsForISR(t *testing.T) {
	m := newManager(t, "")
	p := openLeader(t, m, "acks", testSettings(), self, 2)

	all := produceAsync(t, testCtx(t), p, -1, plain("a", "b", "c"))
	waitFor(t, "the batch to be appended", func() bool { return p.LogEndOffset() == 3 })
	pending(t, "follower has nothing", all)

	// acks=1 does not wait for the follower.
	if res := produce(t, p, 1, plain("d")); res.BaseOffset != 3 {
		t.Fatalf("acks=1 result %+v", res)
	}
	pending(t, "after acks=1 produce", all)

	p.UpdateFollowerLEO(2, 2)
	if hw := p.HighWatermark(); hw != 2 {
		t.Fatalf("hw %d, want 2", hw)
	}
	pending(t, "hw below the batch's last offset", all)

	p.UpdateFollowerLEO(2, 3)
	o := await(t, "hw covers the batch", all)
	if o.err != nil || o.res.BaseOffset != 0 || o.res.LastOffset != 2 {
		t.Fatalf("acks=-1 outcome %+v", o)
	}

	// A waiting acks=-1 produce gives up with its context.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	late := produceAsync(t, ctx, p, -1, plain("e"))
	waitFor(t, "the batch to be appended", func() bool { return p.LogEndOffset() == 5 })
	pending(t, "before cancel", late)
	cancel()
	if o := await(t, "cancelled", late); !errors.Is(o.err, context.Canceled) {
		t.Fatalf("cancelled acks=-1 produce: %+v", o)
	}
}

func TestPartitionAcksAllWaiterWokenByClose(t *testing.T) {
	m := newManager(t, "")
	p := openLeader(t, m, "close-wait", testSettings(), self, 2)
	all := produceAsync(t, testCtx(t), p, -1, plain("a"))
	waitFor(t, "the batch to be appended", func() bool { return p.LogEndOffset() == 1 })
	pending(t, "before remove", all)
	if err := m.Remove("close-wait", 0); err != nil {
		t.Fatal(err)
	}
	if o := await(t, "removed", all); !errors.Is(o.err, ErrClosed) {
		t.Fatalf("waiter after Remove: %+v, want ErrClosed", o)
	}
	if _, err := p.Produce(testCtx(t), plain("b"), 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("produce after Remove: %v, want ErrClosed", err)
	}
}

func TestPartitionMinInsyncReplicas(t *testing.T) {
	m := newManager(t, "")
	s := testSettings()
	s.MinInsyncReplicas = 2
	p := openLeader(t, m, "minisr", s)

	if _, err := p.Produce(testCtx(t), plain("a"), -1); !errors.Is(err, ErrNotEnoughReplicas) {
		t.Fatalf("acks=-1 with ISR 1 < 2: %v, want ErrNotEnoughReplicas", err)
	}
	if leo := p.LogEndOffset(); leo != 0 {
		t.Fatalf("refused batch was appended (leo %d)", leo)
	}
	// min.insync.replicas only applies to acks=all.
	if res := produce(t, p, 1, plain("b")); res.BaseOffset != 0 {
		t.Fatalf("acks=1: %+v", res)
	}
	// The ISR grows back: acks=all is accepted and completes once the follower has it.
	p.BecomeLeader(2, []int32{self, 2})
	all := produceAsync(t, testCtx(t), p, -1, plain("c"))
	waitFor(t, "the batch to be appended", func() bool { return p.LogEndOffset() == 2 })
	p.UpdateFollowerLEO(2, 2)
	if o := await(t, "ISR of 2", all); o.err != nil || o.res.BaseOffset != 1 {
		t.Fatalf("acks=-1 with ISR 2: %+v", o)
	}
	// Lowering the setting through Open applies it to the open replica.
	s.MinInsyncReplicas = 1
	if _, err := m.Open("minisr", 0, s); err != nil {
		t.Fatal(err)
	}
	p.BecomeLeader(3, []int32{self})
	if res := produce(t, p, -1, plain("d")); res.BaseOffset != 2 {
		t.Fatalf("acks=-1 after lowering min.insync.replicas: %+v", res)
	}
}

func TestPartitionNotLeader(t *testing.T) {
	m := newManager(t, "")
	p, err := m.Open("nl", 0, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	if p.IsLeader() {
		t.Fatal("a newly opened replica must not lead")
	}
	for _, acks := range []int16{0, 1, -1} {
		if _, err := p.Produce(testCtx(t), plain("a"), acks); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("acks=%d before BecomeLeader: %v, want ErrNotLeader", acks, err)
		}
	}
	p.BecomeLeader(4, []int32{self})
	if !p.IsLeader() || p.LeaderEpoch() != 4 {
		t.Fatalf("leader %v epoch %d", p.IsLeader(), p.LeaderEpoch())
	}
	produce(t, p, 1, plain("a"))
	p.BecomeFollower(5)
	if p.IsLeader() || p.LeaderEpoch() != 5 {
		t.Fatalf("after BecomeFollower: leader %v epoch %d", p.IsLeader(), p.LeaderEpoch())
	}
	if _, err := p.Produce(testCtx(t), plain("b"), 1); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("produce as follower: %v, want ErrNotLeader", err)
	}
	// Followers still serve reads.
	if _, recs := fetchAll(t, p, 0, true); !slices.Equal(values(recs), []string{"a"}) {
		t.Fatalf("follower read %v", values(recs))
	}
	// OffsetForLeaderEpoch: the current (or a future) epoch ends at the log end.
	if e, off := p.EndOffsetForEpoch(5); e != 5 || off != 1 {
		t.Fatalf("EndOffsetForEpoch(5) = %d, %d; want 5, 1", e, off)
	}
}

func TestPartitionProducerStateSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, dir)
	p := openLeader(t, m, "idem", testSettings())
	const pid, epoch = 7, 3
	produce(t, p, -1, batch(pid, epoch, 0, "a", "b"))
	produce(t, p, -1, batch(pid, epoch, 2, "c"))
	produce(t, p, -1, plain("not idempotent"))
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	m = newManager(t, dir)
	p = openLeader(t, m, "idem", testSettings())
	if hw, leo := p.HighWatermark(), p.LogEndOffset(); hw != 4 || leo != 4 {
		t.Fatalf("after reopen hw %d leo %d, want 4 and 4", hw, leo)
	}
	// Retries of batches written before the restart are still duplicates.
	res := produce(t, p, -1, batch(pid, epoch, 2, "c"))
	if !res.Duplicate || res.BaseOffset != 2 || res.LastOffset != 2 {
		t.Fatalf("retry of seq 2 after reopen: %+v, want duplicate at 2", res)
	}
	res = produce(t, p, -1, batch(pid, epoch, 0, "a", "b"))
	if !res.Duplicate || res.BaseOffset != 0 || res.LastOffset != 1 {
		t.Fatalf("retry of seq 0 after reopen: %+v, want duplicate at 0..1", res)
	}
	if leo := p.LogEndOffset(); leo != 4 {
		t.Fatalf("duplicates were appended: leo %d", leo)
	}
	if _, err := p.Produce(testCtx(t), batch(pid, epoch, 9, "gap"), 1); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("gap after reopen: %v", err)
	}
	if _, err := p.Produce(testCtx(t), batch(pid, epoch-1, 3, "old"), 1); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("older epoch after reopen: %v", err)
	}
	if res := produce(t, p, -1, batch(pid, epoch, 3, "d")); res.Duplicate || res.BaseOffset != 4 {
		t.Fatalf("next sequence after reopen: %+v", res)
	}
	_, recs := fetchAll(t, p, 0, false)
	if got := values(recs); !slices.Equal(got, []string{"a", "b", "c", "not idempotent", "d"}) {
		t.Fatalf("log after retries: %v", got)
	}
}

func TestPartitionDeleteRecords(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, dir)
	p := openLeader(t, m, "del", testSettings(), self, 2)
	for i := range 10 {
		produce(t, p, 1, plain(fmt.Sprintf("v%d", i)))
	}
	p.UpdateFollowerLEO(2, 8)

	if _, err := p.DeleteRecords(9); !errors.Is(err, storage.ErrOffsetOutOfRange) {
		t.Fatalf("delete beyond hw 8: %v, want ErrOffsetOutOfRange", err)
	}
	if _, err := p.DeleteRecords(-2); !errors.Is(err, storage.ErrOffsetOutOfRange) {
		t.Fatalf("delete at -2: %v, want ErrOffsetOutOfRange", err)
	}
	if lso, err := p.DeleteRecords(4); err != nil || lso != 4 {
		t.Fatalf("DeleteRecords(4) = %d, %v", lso, err)
	}
	if got := p.LogStartOffset(); got != 4 {
		t.Fatalf("log start %d", got)
	}
	if _, err := p.Fetch(3, 1<<20, false); !errors.Is(err, storage.ErrOffsetOutOfRange) {
		t.Fatalf("fetch below log start: %v", err)
	}
	r, recs := fetchAll(t, p, 4, false)
	if got := values(recs); !slices.Equal(got, []string{"v4", "v5", "v6", "v7"}) || r.LogStartOffset != 4 {
		t.Fatalf("after delete: %v (log start %d)", got, r.LogStartOffset)
	}
	// Below the current start: nothing changes.
	if lso, err := p.DeleteRecords(2); err != nil || lso != 4 {
		t.Fatalf("DeleteRecords(2) = %d, %v; want 4", lso, err)
	}
	// -1 means the high watermark.
	if lso, err := p.DeleteRecords(-1); err != nil || lso != 8 {
		t.Fatalf("DeleteRecords(-1) = %d, %v; want 8", lso, err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = newManager(t, dir)
	p = openLeader(t, m, "del", testSettings())
	if got := p.LogStartOffset(); got != 8 {
		t.Fatalf("log start after reopen %d, want 8", got)
	}
}

func TestPartitionConcurrentProduce(t *testing.T) {
	m := newManager(t, "")
	s := testSettings()
	s.Log.Fsync = storage.FsyncAlways
	p := openLeader(t, m, "conc", s)

	const writers, perWriter = 4, 25
	var mu sync.Mutex
	var bases []int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				// Each writer is its own idempotent producer.
				res, err := p.Produce(context.Background(), batch(int64(100+w), 0, int32(i), fmt.Sprintf("w%d-%d", w, i)), -1)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				bases = append(bases, res.BaseOffset)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	slices.Sort(bases)
	for i, b := range bases {
		if b != int64(i) {
			t.Fatalf("offsets not unique and dense: %d at position %d", b, i)
		}
	}
	_, recs := fetchAll(t, p, 0, false)
	if len(recs) != writers*perWriter {
		t.Fatalf("read %d records, want %d", len(recs), writers*perWriter)
	}
	// Each writer's records are in its own order.
	last := map[byte]int{}
	for _, r := range recs {
		var w, i int
		if _, err := fmt.Sscanf(r.value, "w%d-%d", &w, &i); err != nil {
			t.Fatal(err)
		}
		if prev, ok := last[byte(w)]; ok && i != prev+1 {
			t.Fatalf("writer %d: record %d after %d", w, i, prev)
		}
		last[byte(w)] = i
	}
}

// A follower's log start follows the leader's, never past its own high
// watermark, and storage refuses a start beyond the bound it is given.
func TestPartitionDeleteRecordsBoundedByHighWatermark(t *testing.T) {
	m := newManager(t, "")
	p := openLeader(t, m, "dr-hw", testSettings(), self, 2)
	for i := range 8 {
		produce(t, p, 1, plain(fmt.Sprint(i)))
	}
	p.UpdateFollowerLEO(2, 3)
	if _, err := p.DeleteRecords(5); !errors.Is(err, storage.ErrOffsetOutOfRange) {
		t.Fatalf("DeleteRecords(5) with hw 3: %v, want ErrOffsetOutOfRange", err)
	}
	if err := p.log.DeleteRecordsBefore(5, p.HighWatermark()); !errors.Is(err, storage.ErrOffsetOutOfRange) {
		t.Fatalf("storage DeleteRecordsBefore(5) bounded at 3: %v, want ErrOffsetOutOfRange", err)
	}
	if lso, err := p.DeleteRecords(-1); err != nil || lso != 3 {
		t.Fatalf("DeleteRecords(-1) = %d, %v; want 3", lso, err)
	}
}
