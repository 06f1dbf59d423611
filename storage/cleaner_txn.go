package storage

import (
	"encoding/binary"
	"sort"
)

// Transactions in the cleaner (Kafka's CleanedTransactionMetadata). Before
// the offset map is built, one pass over the cleanable range [log start,
// end) reads every producer's control batches (the markers) and learns:
//
//   - which transactional data is aborted: the batches of a producer from
//     its first transactional batch after a marker up to an ABORT marker.
//     They never enter the offset map and are removed by the rewrite;
//   - whether a transaction is still open at end (no marker below it): end
//     is lowered to its first offset, so an undecided transaction is never
//     cleaned (the caller's bound is the last stable offset already; this
//     also holds when a later, decided transaction's marker sits above it);
//   - each producer's last batch below end, which is kept even if emptied
//     (the idempotent producer's sequence state and the last epoch survive).
//
// Committed transactional data is compacted like any other. The markers are
// found by reading the log itself, not an aborted-transaction index, so the
// cleaner does not depend on how (or whether) such an index is stored.
//
// During the rewrite, which walks the same range in offset order, each
// producer's current transaction notes whether any of its data was written
// out; its marker is kept while it was, and otherwise is stamped with a
// delete horizon and removed once that passes (see keepRule.filterMarker).

// Control record types (the control record key's second int16).
const (
	controlAbort  = 0
	controlCommit = 1
)

// Batch attribute bits the cleaner reads or sets (codecMask is the codec).
const (
	attrTransactional = 0x10
	attrControl       = 0x20
	// attrDeleteHorizon (KIP-534): firstTimestamp holds the batch's delete
	// horizon, and the records' timestamp deltas are relative to it.
	attrDeleteHorizon = 0x40
)

// txnRange is one aborted transaction of a producer: its data lies in
// [first, marker).
type txnRange struct {
	first, marker int64
}

// cleanTxns is what scanTxns learned, plus the rewrite's running state.
type cleanTxns struct {
	aborted map[int64][]txnRange // producer id → its aborted transactions, by offset
	last    map[int64]int64      // producer id → base offset of its last batch below end
	// written: producer id → some data of its current transaction was
	// written to the cleaned output (reset at each of its markers).
	written map[int64]bool
}

func newCleanTxns() *cleanTxns {
	return &cleanTxns{aborted: map[int64][]txnRange{}, last: map[int64]int64{}, written: map[int64]bool{}}
}

// isAborted reports whether the transactional data batch of pid at off
// belongs to an aborted transaction.
func (t *cleanTxns) isAborted(pid, off int64) bool {
	rs := t.aborted[pid]
	i := sort.Search(len(rs), func(i int) bool { return rs[i].marker > off })
	return i < len(rs) && rs[i].first <= off
}

// isLast reports whether the batch of pid at base is its last below end.
func (t *cleanTxns) isLast(pid, base int64) bool {
	if pid < 0 {
		return false
	}
	last, ok := t.last[pid]
	return ok && last == base
}

// scanTxns reads the batches of p below p.end (see the top of this file)
// and lowers p.end to the first offset of the earliest transaction whose
// marker is not below it.
func (c *cleanPass) scanTxns(p *cleanPlan) (*cleanTxns, error) {
	t := newCleanTxns()
	open := map[int64]int64{} // producer id → first offset of its open transaction
	for _, s := range p.segs {
		if s.base >= p.end {
			break
		}
		err := c.forEachBatch(s, func(h BatchHeader, raw []byte) (bool, error) {
			if h.LastOffset() >= p.end {
				return false, nil
			}
			if h.ProducerID >= 0 {
				t.last[h.ProducerID] = h.BaseOffset
			}
			if h.ProducerID < 0 || !h.IsTransactional() {
				return true, nil
			}
			first, ok := open[h.ProducerID]
			if !h.IsControl() {
				if !ok {
					open[h.ProducerID] = h.BaseOffset
				}
				return true, nil
			}
			if !ok {
				return true, nil // a marker whose data is gone, or a retried marker
			}
			delete(open, h.ProducerID)
			if typ, ok := markerType(h, raw); ok && typ == controlAbort {
				t.aborted[h.ProducerID] = append(t.aborted[h.ProducerID], txnRange{first: first, marker: h.BaseOffset})
			}
			return true, nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, first := range open {
		p.end = min(p.end, first)
	}
	return t, nil
}

// markerType reads the control type of a control batch's first record
// (key: version int16, type int16); false if it has none or is unreadable.
// Control batches are never compressed.
func markerType(h BatchHeader, raw []byte) (int16, bool) {
	if h.NumRecords < 1 || h.Attributes&codecMask != 0 {
		return 0, false
	}
	rs, err := parseRecords(raw[batchHeaderSize:], h.NumRecords)
	if err != nil || len(rs) == 0 || len(rs[0].key) < 4 {
		return 0, false
	}
	return int16(binary.BigEndian.Uint16(rs[0].key[2:])), true
}

// deleteHorizon returns the batch's KIP-534 delete horizon, if it has one.
func deleteHorizon(h BatchHeader) (int64, bool) {
	if h.Attributes&attrDeleteHorizon == 0 {
		return 0, false
	}
	return h.FirstTimestamp, true
}
