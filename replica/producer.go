package replica

import (
	"fmt"
	"math"

	"github.com/strombroker/strom/storage"
)

// maxCachedBatches is how many recent batches per producer are remembered to
// answer retries as duplicates; Kafka keeps five (the client's max in-flight).
const maxCachedBatches = 5

// batchMeta records where one idempotent batch landed.
type batchMeta struct {
	firstSeq, lastSeq int32
	baseOffset        int64
	lastOffset        int64
}

// producerEntry is the per-(producer id) state of one partition.
type producerEntry struct {
	epoch   int16
	lastTs  int64       // max timestamp of its latest batch (DescribeProducers)
	batches []batchMeta // oldest first, at most maxCachedBatches
}

func (e *producerEntry) lastSeq() int32 {
	if len(e.batches) == 0 {
		return -1
	}
	return e.batches[len(e.batches)-1].lastSeq
}

// producerState tracks idempotent producers of one partition. It is guarded by
// the owning Partition's mutex.
type producerState struct {
	entries map[int64]*producerEntry
}

func newProducerState() *producerState {
	return &producerState{entries: make(map[int64]*producerEntry)}
}

// nextSeq returns the sequence following s, wrapping like Kafka does.
func nextSeq(s int32, n int32) int32 {
	if s > math.MaxInt32-n {
		return n - (math.MaxInt32 - s) - 1
	}
	return s + n
}

// check decides what to do with an incoming idempotent batch: dup is non-nil
// when the batch was already appended (a retry), err is set when it must be
// rejected. Batches with no producer id are always accepted.
func (ps *producerState) check(h storage.BatchHeader) (dup *batchMeta, err error) {
	if h.ProducerID < 0 {
		return nil, nil
	}
	e, ok := ps.entries[h.ProducerID]
	if !ok {
		// Unknown producer: accept whatever sequence it starts with, as Kafka
		// does, because its state may have been removed with the segments
		// that held it (retention, DeleteRecords); from here on its
		// sequence is checked.
		return nil, nil
	}
	switch {
	case h.ProducerEpoch < e.epoch:
		return nil, fmt.Errorf("%w: producer %d epoch %d < %d", ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, e.epoch)
	case h.ProducerEpoch > e.epoch:
		if h.BaseSequence != 0 {
			return nil, fmt.Errorf("%w: producer %d new epoch %d must start at sequence 0, got %d", ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, h.BaseSequence)
		}
		return nil, nil
	}
	last := nextSeq(h.BaseSequence, h.LastOffsetDelta)
	for i := range e.batches {
		b := &e.batches[i]
		if b.firstSeq == h.BaseSequence && b.lastSeq == last {
			d := *b
			return &d, nil
		}
	}
	if want := nextSeq(e.lastSeq(), 1); h.BaseSequence != want {
		return nil, fmt.Errorf("%w: producer %d expected sequence %d, got %d", ErrOutOfOrderSequence, h.ProducerID, want, h.BaseSequence)
	}
	return nil, nil
}

// record notes an appended batch (its BaseOffset already assigned).
func (ps *producerState) record(h storage.BatchHeader) {
	if h.ProducerID < 0 {
		return
	}
	e, ok := ps.entries[h.ProducerID]
	if !ok || h.ProducerEpoch != e.epoch {
		if ok && h.ProducerEpoch < e.epoch {
			return
		}
		e = &producerEntry{epoch: h.ProducerEpoch}
		ps.entries[h.ProducerID] = e
	}
	e.lastTs = h.MaxTimestamp
	if h.BaseSequence < 0 {
		// A transaction marker or a coordinator's transactional batch:
		// it moves the epoch (above) but carries no sequence.
		return
	}
	m := batchMeta{
		firstSeq:   h.BaseSequence,
		lastSeq:    nextSeq(h.BaseSequence, h.LastOffsetDelta),
		baseOffset: h.BaseOffset,
		lastOffset: h.LastOffset(),
	}
	if len(e.batches) == maxCachedBatches {
		copy(e.batches, e.batches[1:])
		e.batches = e.batches[:maxCachedBatches-1]
	}
	e.batches = append(e.batches, m)
}
