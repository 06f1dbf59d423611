package replica

import (
	"errors"
	"math"
	"testing"

	"github.com/strombroker/strom/storage"
)

// seqStep is one batch offered to a producerState, as Produce offers it:
// check first, then (if accepted and new) record it at the next log offset.
// seed steps skip check and only record, the way rebuildProducers replays
// the log at open.
type seqStep struct {
	pid   int64
	epoch int16
	seq   int32
	n     int32 // records in the batch
	seed  bool

	wantErr  error // sentinel expected from check
	wantDup  bool  // check must report a duplicate...
	wantBase int64 // ...with this original base offset (or, when new, the offset it is recorded at)
}

// runSteps drives ps through steps; offsets are assigned from 0 like a log.
func runSteps(t *testing.T, ps *producerState, steps []seqStep) {
	t.Helper()
	next := int64(0)
	for i, s := range steps {
		h := storage.BatchHeader{
			ProducerID:      s.pid,
			ProducerEpoch:   s.epoch,
			BaseSequence:    s.seq,
			LastOffsetDelta: s.n - 1,
			NumRecords:      s.n,
		}
		if !s.seed {
			dup, err := ps.check(h)
			if s.wantErr != nil {
				if !errors.Is(err, s.wantErr) {
					t.Fatalf("step %d (pid %d epoch %d seq %d): err %v, want %v", i, s.pid, s.epoch, s.seq, err, s.wantErr)
				}
				continue
			}
			if err != nil {
				t.Fatalf("step %d (pid %d epoch %d seq %d): unexpected err %v", i, s.pid, s.epoch, s.seq, err)
			}
			if s.wantDup {
				if dup == nil {
					t.Fatalf("step %d (seq %d): not reported as duplicate", i, s.seq)
				}
				if dup.baseOffset != s.wantBase || dup.lastOffset != s.wantBase+int64(s.n-1) {
					t.Fatalf("step %d (seq %d): duplicate offsets %d..%d, want %d..%d", i, s.seq, dup.baseOffset, dup.lastOffset, s.wantBase, s.wantBase+int64(s.n-1))
				}
				continue
			}
			if dup != nil {
				t.Fatalf("step %d (seq %d): unexpectedly a duplicate of offsets %d..%d", i, s.seq, dup.baseOffset, dup.lastOffset)
			}
		}
		if next != s.wantBase {
			t.Fatalf("step %d: test table says base %d but the next log offset is %d", i, s.wantBase, next)
		}
		h.BaseOffset = next
		ps.record(h)
		next += int64(s.n)
	}
}

func TestProducerStateSequences(t *testing.T) {
	const pid = 42
	tests := []struct {
		name  string
		steps []seqStep
	}{
		{"new producer starts at 0", []seqStep{
			{pid: pid, seq: 0, n: 3, wantBase: 0},
			{pid: pid, seq: 3, n: 2, wantBase: 3},
		}},
		{"unknown producer may start anywhere, then is checked", []seqStep{
			{pid: pid, seq: 7, n: 1, wantBase: 0},
			{pid: pid, seq: 8, n: 1, wantBase: 1},
			{pid: pid, seq: 10, n: 1, wantErr: ErrOutOfOrderSequence},
		}},
		{"non-idempotent batches always pass", []seqStep{
			{pid: -1, epoch: -1, seq: -1, n: 2, wantBase: 0},
			{pid: -1, epoch: -1, seq: -1, n: 2, wantBase: 2},
			{pid: -1, epoch: -1, seq: 99, n: 1, wantBase: 4},
		}},
		{"duplicate of each of the last 5 batches", []seqStep{
			{pid: pid, seq: 0, n: 2, wantBase: 0},
			{pid: pid, seq: 2, n: 1, wantBase: 2},
			{pid: pid, seq: 3, n: 3, wantBase: 3},
			{pid: pid, seq: 6, n: 1, wantBase: 6},
			{pid: pid, seq: 7, n: 2, wantBase: 7},
			{pid: pid, seq: 9, n: 1, wantBase: 9},
			// Six batches recorded: the first fell out of the cache.
			{pid: pid, seq: 2, n: 1, wantDup: true, wantBase: 2},
			{pid: pid, seq: 3, n: 3, wantDup: true, wantBase: 3},
			{pid: pid, seq: 6, n: 1, wantDup: true, wantBase: 6},
			{pid: pid, seq: 7, n: 2, wantDup: true, wantBase: 7},
			{pid: pid, seq: 9, n: 1, wantDup: true, wantBase: 9},
			{pid: pid, seq: 0, n: 2, wantErr: ErrOutOfOrderSequence},
			{pid: pid, seq: 10, n: 1, wantBase: 10},
		}},
		{"retry with a different record count is not a duplicate", []seqStep{
			{pid: pid, seq: 0, n: 3, wantBase: 0},
			{pid: pid, seq: 0, n: 2, wantErr: ErrOutOfOrderSequence},
		}},
		{"gap", []seqStep{
			{pid: pid, seq: 0, n: 2, wantBase: 0},
			{pid: pid, seq: 3, n: 1, wantErr: ErrOutOfOrderSequence},
			{pid: pid, seq: 1, n: 1, wantErr: ErrOutOfOrderSequence}, // overlaps, not a retry
			{pid: pid, seq: 2, n: 1, wantBase: 2},
		}},
		{"older epoch is fenced", []seqStep{
			{pid: pid, epoch: 3, seq: 0, n: 1, wantBase: 0},
			{pid: pid, epoch: 2, seq: 1, n: 1, wantErr: ErrInvalidProducerEpoch},
			{pid: pid, epoch: 2, seq: 0, n: 1, wantErr: ErrInvalidProducerEpoch},
			{pid: pid, epoch: 3, seq: 1, n: 1, wantBase: 1},
		}},
		{"new epoch restarts at 0", []seqStep{
			{pid: pid, epoch: 0, seq: 0, n: 5, wantBase: 0},
			{pid: pid, epoch: 1, seq: 5, n: 1, wantErr: ErrOutOfOrderSequence},
			{pid: pid, epoch: 1, seq: 0, n: 2, wantBase: 5},
			// The old epoch's batches are forgotten and the old epoch fenced.
			{pid: pid, epoch: 0, seq: 0, n: 5, wantErr: ErrInvalidProducerEpoch},
			{pid: pid, epoch: 1, seq: 0, n: 2, wantDup: true, wantBase: 5},
			{pid: pid, epoch: 1, seq: 2, n: 1, wantBase: 7},
		}},
		{"producers are independent", []seqStep{
			{pid: 1, seq: 0, n: 2, wantBase: 0},
			{pid: 2, seq: 0, n: 2, wantBase: 2},
			{pid: 1, seq: 2, n: 1, wantBase: 4},
			{pid: 2, seq: 0, n: 2, wantDup: true, wantBase: 2},
			{pid: 2, seq: 3, n: 1, wantErr: ErrOutOfOrderSequence},
		}},
		{"sequence wraps after MaxInt32", []seqStep{
			{pid: pid, seq: math.MaxInt32 - 1, n: 2, seed: true, wantBase: 0}, // last seq MaxInt32
			{pid: pid, seq: math.MaxInt32, n: 1, wantErr: ErrOutOfOrderSequence},
			{pid: pid, seq: 0, n: 3, wantBase: 2},
			{pid: pid, seq: 0, n: 3, wantDup: true, wantBase: 2},
			{pid: pid, seq: math.MaxInt32 - 1, n: 2, wantDup: true, wantBase: 0},
			{pid: pid, seq: 3, n: 1, wantBase: 5},
		}},
		{"batch spanning the wrap", []seqStep{
			{pid: pid, seq: math.MaxInt32 - 3, n: 1, seed: true, wantBase: 0},
			// seqs MaxInt32-2, MaxInt32-1, MaxInt32, 0: last sequence 0.
			{pid: pid, seq: math.MaxInt32 - 2, n: 4, wantBase: 1},
			{pid: pid, seq: math.MaxInt32 - 2, n: 4, wantDup: true, wantBase: 1},
			{pid: pid, seq: 0, n: 1, wantErr: ErrOutOfOrderSequence},
			{pid: pid, seq: 1, n: 1, wantBase: 5},
		}},
		{"replay keeps the newest epoch", []seqStep{
			{pid: pid, epoch: 2, seq: 0, n: 1, seed: true, wantBase: 0},
			{pid: pid, epoch: 1, seq: 0, n: 1, seed: true, wantBase: 1}, // stale, ignored by record
			{pid: pid, epoch: 2, seq: 1, n: 1, wantBase: 2},
			{pid: pid, epoch: 1, seq: 1, n: 1, wantErr: ErrInvalidProducerEpoch},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runSteps(t, newProducerState(), tc.steps)
		})
	}
}

func TestProducerStateKeepsFiveBatches(t *testing.T) {
	ps := newProducerState()
	var steps []seqStep
	for i := range int32(20) {
		steps = append(steps, seqStep{pid: 9, seq: i, n: 1, wantBase: int64(i)})
	}
	runSteps(t, ps, steps)
	e := ps.entries[9]
	if len(e.batches) != maxCachedBatches {
		t.Fatalf("cached %d batches, want %d", len(e.batches), maxCachedBatches)
	}
	for i, b := range e.batches {
		if want := int32(15 + i); b.firstSeq != want || b.baseOffset != int64(want) {
			t.Fatalf("cached batch %d = %+v, want seq/offset %d", i, b, want)
		}
	}
}

func TestNextSeq(t *testing.T) {
	tests := []struct {
		s, n, want int32
	}{
		{0, 1, 1},
		{5, 0, 5},
		{-1, 1, 0}, // lastSeq of an empty entry
		{math.MaxInt32 - 1, 1, math.MaxInt32},
		{math.MaxInt32, 1, 0},
		{math.MaxInt32, 3, 2},
		{math.MaxInt32 - 2, 5, 2},
	}
	for _, tc := range tests {
		if got := nextSeq(tc.s, tc.n); got != tc.want {
			t.Errorf("nextSeq(%d, %d) = %d, want %d", tc.s, tc.n, got, tc.want)
		}
	}
}
