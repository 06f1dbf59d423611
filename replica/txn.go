package replica

// Transactions on one partition: which producers have a transaction open
// here (from their first transactional batch to their COMMIT or ABORT
// control batch), the last stable offset that read_committed consumers stop
// at, and the aborted-transaction index they need to drop aborted records
// (Kafka's ProducerStateManager and .txnindex). The state is derived from
// the log alone, on the leader as it appends and on followers as they copy,
// so every replica holds the same state and the same index. The aborted
// transactions go to the log's per-segment .txnindex files (storage's
// AppendAbortedTxn), which follow their segments through retention,
// truncation and compaction; the rest is kept in memory and in the
// producer-state snapshots (snapshot.go) that opening and truncating a
// replica start their replay of the log from.

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/storage"
)

var markerCRC = crc32.MakeTable(crc32.Castagnoli)

// Control record types (the key's second int16), as in Kafka.
const (
	controlAbort  = 0
	controlCommit = 1
)

// AbortedTxn is one entry of the aborted-transaction index: the producer,
// the offset of its first record in the transaction and of the ABORT
// marker, and the last stable offset once it was aborted. Fetch answers
// carry ProducerID and FirstOffset to read_committed consumers.
type AbortedTxn = storage.AbortedTxn

// completedTxn is a transaction whose marker is in the log but maybe not
// yet below the high watermark: until it is, the transaction still holds
// the last stable offset back (a consumer must not read its records before
// it can know the outcome).
type completedTxn struct {
	first, marker int64
}

// txnState is a partition's transaction bookkeeping, guarded by the owning
// Partition's mutex.
type txnState struct {
	ongoing    map[int64]int64 // producer id -> first offset of its open transaction
	completing []completedTxn
	// verified holds the producer epochs the coordinator confirmed have
	// this partition in their transaction, until its marker.
	verified map[int64]int16
	// coordEpoch is the coordinator epoch of each producer's latest
	// marker: a marker from an older coordinator is refused (it may be a
	// deposed coordinator's late retry, which would decide the producer's
	// next transaction).
	coordEpoch map[int64]int32
}

func newTxnState() *txnState {
	return &txnState{ongoing: make(map[int64]int64), verified: make(map[int64]int16), coordEpoch: make(map[int64]int32)}
}

// checkMarker refuses a marker (raw, one control batch of h) whose
// coordinator epoch is older than the producer's latest marker's.
func (ts *txnState) checkMarker(h storage.BatchHeader, raw []byte) error {
	if !h.IsControl() {
		return nil
	}
	_, ce, ok := controlRecord(raw)
	if !ok {
		return fmt.Errorf("%w: unreadable control record", ErrInvalidRecord)
	}
	if last, seen := ts.coordEpoch[h.ProducerID]; seen && ce < last {
		return fmt.Errorf("%w: marker for producer %d from coordinator epoch %d, latest %d", ErrCoordinatorFenced, h.ProducerID, ce, last)
	}
	return nil
}

// admits reports whether a transactional batch of pid at epoch may be
// appended: its transaction is already open here at that epoch (ongoing
// epoch, the epoch of the producer's latest batch here), or was verified.
// The epoch matters under transaction version 2, where every transaction
// has a new one: a batch of the producer's next transaction that arrives
// before this partition's marker of the previous one must be verified (the
// coordinator answers CONCURRENT_TRANSACTIONS until the markers are
// written), not slipped into the open transaction it does not belong to,
// as Kafka's hasOngoingTransaction(producerId, epoch) checks.
func (ts *txnState) admits(pid int64, epoch, ongoingEpoch int16) bool {
	if _, ok := ts.ongoing[pid]; ok && ongoingEpoch == epoch {
		return true
	}
	v, ok := ts.verified[pid]
	return ok && v == epoch
}

// txnAdmitsLocked is txnState.admits with the producer's epoch here.
// Caller holds p.mu.
func (p *Partition) txnAdmitsLocked(pid int64, epoch int16) bool {
	ongoingEpoch := int16(-1)
	if e, ok := p.producers.entries[pid]; ok {
		ongoingEpoch = e.epoch
	}
	return p.txns.admits(pid, epoch, ongoingEpoch)
}

// note updates the state with one appended batch (offsets assigned); an
// ABORT marker of a transaction open here returns its index entry
// (aborted), which the caller records in the log's index.
func (ts *txnState) note(h storage.BatchHeader, raw []byte) (a AbortedTxn, aborted bool) {
	if h.ProducerID < 0 || !h.IsTransactional() {
		return a, false
	}
	if !h.IsControl() {
		if _, ok := ts.ongoing[h.ProducerID]; !ok {
			ts.ongoing[h.ProducerID] = h.BaseOffset
		}
		return a, false
	}
	delete(ts.verified, h.ProducerID)
	typ, ce, readable := controlRecord(raw)
	if readable {
		ts.coordEpoch[h.ProducerID] = max(ce, ts.coordEpoch[h.ProducerID])
	}
	first, ok := ts.ongoing[h.ProducerID]
	if !ok {
		return a, false // a marker for a transaction with no data here (retried marker)
	}
	delete(ts.ongoing, h.ProducerID)
	ts.completing = append(ts.completing, completedTxn{first: first, marker: h.BaseOffset})
	if !readable || typ != controlAbort {
		return a, false
	}
	lso := h.BaseOffset + 1
	for _, f := range ts.ongoing {
		lso = min(lso, f)
	}
	return AbortedTxn{ProducerID: h.ProducerID, FirstOffset: first, LastOffset: h.BaseOffset, LastStableOffset: lso}, true
}

// lastStable is the first offset a read_committed consumer may not read:
// the first offset of the earliest transaction not yet decided below hw,
// else hw. Completed transactions whose marker is below hw are forgotten.
func (ts *txnState) lastStable(hw int64) int64 {
	lso := hw
	for _, f := range ts.ongoing {
		lso = min(lso, f)
	}
	keep := ts.completing[:0]
	for _, c := range ts.completing {
		if c.marker >= hw {
			keep = append(keep, c)
			lso = min(lso, c.first)
		}
	}
	ts.completing = keep
	return lso
}

// controlRecord reads the type and coordinator epoch of a control batch's
// (first) record.
func controlRecord(raw []byte) (typ int16, coordinatorEpoch int32, ok bool) {
	var b kmsg.RecordBatch
	if err := b.ReadFrom(raw); err != nil || b.NumRecords < 1 || b.Attributes&0x07 != 0 {
		return 0, 0, false
	}
	l, n := binary.Varint(b.Records)
	if n <= 0 || l < 0 || l > int64(len(b.Records)-n) {
		return 0, 0, false
	}
	var r kmsg.Record
	if err := r.ReadFrom(b.Records[:n+int(l)]); err != nil || len(r.Key) < 4 {
		return 0, 0, false
	}
	typ = int16(binary.BigEndian.Uint16(r.Key[2:]))
	if len(r.Value) >= 6 {
		coordinatorEpoch = int32(binary.BigEndian.Uint32(r.Value[2:]))
	}
	return typ, coordinatorEpoch, true
}

// controlBatch encodes a transaction marker: one control record, key
// (version 0, type), value (version 0, coordinator epoch).
func controlBatch(pid int64, epoch int16, commit bool, coordinatorEpoch int32, nowMs int64) []byte {
	key := make([]byte, 4)
	if commit {
		binary.BigEndian.PutUint16(key[2:], controlCommit)
	}
	value := make([]byte, 6)
	binary.BigEndian.PutUint32(value[2:], uint32(coordinatorEpoch))
	rec := kmsg.Record{Key: key, Value: value}
	rec.Length = int32(len(rec.AppendTo(nil)) - 1)
	body := rec.AppendTo(nil)
	b := kmsg.RecordBatch{
		Length:               int32(49 + len(body)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           0x30, // transactional | control
		FirstTimestamp:       nowMs,
		MaxTimestamp:         nowMs,
		ProducerID:           pid,
		ProducerEpoch:        epoch,
		FirstSequence:        -1,
		NumRecords:           1,
		Records:              body,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[17:21], crc32.Checksum(out[21:], markerCRC))
	return out
}

// WriteTxnMarker appends a COMMIT (commit true) or ABORT marker for
// producer pid at epoch as leader, and returns once it is committed
// (acks=all). A marker from an epoch older than the producer's latest here
// is refused with ErrInvalidProducerEpoch: it comes from a coordinator that
// was superseded. Called by the transaction coordinator (in-process, or via
// WriteTxnMarkers from another broker).
func (p *Partition) WriteTxnMarker(ctx context.Context, pid int64, epoch int16, commit bool, coordinatorEpoch int32) (int64, error) {
	b := controlBatch(pid, epoch, commit, coordinatorEpoch, time.Now().UnixMilli())
	res, wait, err := p.produceAsync(ParseProduce(b), -1, true)
	if err != nil {
		return -1, err
	}
	if wait != nil {
		if err := wait(ctx); err != nil {
			return -1, err
		}
	}
	return res.BaseOffset, nil
}

// ProduceFromCoordinator appends a batch a coordinator built (group offsets
// committed in a transaction: transactional, without sequence numbers) and
// waits for acks=all.
func (p *Partition) ProduceFromCoordinator(ctx context.Context, b []byte) (ProduceResult, error) {
	res, wait, err := p.produceAsync(ParseProduce(b), -1, true)
	if err != nil || wait == nil {
		return res, err
	}
	return res, wait(ctx)
}

// LastStableOffset is the offset read_committed consumers read up to.
func (p *Partition) LastStableOffset() int64 {
	// The high watermark first: txnSeen is set before the high watermark
	// can cover the first transactional batch, so if it is still false
	// now, hw covers none.
	if hw := p.hw.Load(); !p.txnSeen.Load() {
		return hw
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.txns.lastStable(p.hw.Load())
}

// AbortedTxns returns the aborted transactions overlapping [from, upTo),
// which a read_committed fetch of that range must be told about, from the
// log's aborted-transaction index (plus any entry this replica failed to
// write there). An error is an I/O failure reading the index: the fetch
// must fail rather than hand out aborted records as committed.
func (p *Partition) AbortedTxns(from, upTo int64) ([]AbortedTxn, error) {
	if !p.txnSeen.Load() {
		return nil, nil
	}
	out, err := p.log.AbortedTxns(from, upTo)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.unindexed) == 0 {
		return out, nil
	}
	for _, a := range p.unindexed {
		if a.LastOffset >= from && a.FirstOffset < upTo && a.LastOffset >= p.log.LogStartOffset() {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastOffset < out[j].LastOffset })
	return out, nil
}

// OngoingTxns returns the producers with a transaction open here and its
// first offset (DescribeProducers).
func (p *Partition) OngoingTxns() map[int64]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[int64]int64, len(p.txns.ongoing))
	for k, v := range p.txns.ongoing {
		out[k] = v
	}
	return out
}

// noteLocked updates producer and transaction state with appended batches
// (offsets assigned). raw holds the batches hdrs describe, in order.
// Caller holds p.mu.
func (p *Partition) noteLocked(hdrs []storage.BatchHeader, raw []byte) {
	pos := 0
	for _, h := range hdrs {
		p.noteBatchLocked(h, raw[min(pos, len(raw)):min(pos+h.Size(), len(raw))])
		pos += h.Size()
	}
	if p.txnSeen.Load() {
		p.txns.lastStable(p.hw.Load()) // forgets completions below the high watermark
	}
}

// noteBatchLocked updates producer and transaction state with one batch
// (raw may be empty when the caller has no bytes for it), and records an
// aborted transaction in the log's index. Caller holds p.mu.
func (p *Partition) noteBatchLocked(h storage.BatchHeader, raw []byte) {
	p.producers.record(h)
	if h.IsTransactional() {
		p.txnSeen.Store(true)
	}
	if len(raw) != h.Size() {
		return
	}
	if a, ok := p.txns.note(h, raw); ok {
		p.indexAbortLocked(a)
	}
}

// indexAbortLocked appends a to the log's aborted-transaction index. If
// that fails (an I/O error: the marker is in the log already), the entry is
// kept in memory for AbortedTxns, and no more snapshots are taken while
// this replica is open and existing ones are deleted, so that the next
// open replays the whole log and writes the index again. Caller holds p.mu.
func (p *Partition) indexAbortLocked(a AbortedTxn) {
	err := p.log.AppendAbortedTxn(a)
	if err == nil {
		return
	}
	p.logger.Error("cannot write the aborted-transaction index; keeping the entry in memory", "producer", a.ProducerID, "marker", a.LastOffset, "err", err)
	p.unindexed = append(p.unindexed, a)
	if !p.noSnapshots {
		p.noSnapshots = true
		p.pruneSnapshots(math.MaxInt64, math.MaxInt64)
	}
}

// checkCoordinatorBatch validates a batch from a coordinator: markers and
// sequence-less transactional batches, whose producer epoch must not be
// older than the partition's.
func (ps *producerState) checkCoordinatorBatch(h storage.BatchHeader) error {
	if h.ProducerID < 0 || !h.IsTransactional() {
		return fmt.Errorf("%w: coordinator batch without a transactional producer", ErrInvalidRecord)
	}
	if e, ok := ps.entries[h.ProducerID]; ok && h.ProducerEpoch < e.epoch {
		return fmt.Errorf("%w: producer %d epoch %d < %d", ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, e.epoch)
	}
	return nil
}

// ProducerInfo is one producer's state on a partition (DescribeProducers).
type ProducerInfo struct {
	ProducerID   int64
	Epoch        int16
	LastSequence int32
	// LastTimestamp is the max timestamp of its latest batch.
	LastTimestamp int64
	// CoordinatorEpoch is that of its latest marker here, -1 if none.
	CoordinatorEpoch int32
	// TxnStartOffset is the first offset of its open transaction, -1 if none.
	TxnStartOffset int64
}

// Producers lists the producers this partition tracks, by id.
func (p *Partition) Producers() []ProducerInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]ProducerInfo, 0, len(p.producers.entries))
	for id, e := range p.producers.entries {
		start, ok := p.txns.ongoing[id]
		if !ok {
			start = -1
		}
		ce, ok := p.txns.coordEpoch[id]
		if !ok {
			ce = -1
		}
		out = append(out, ProducerInfo{ProducerID: id, Epoch: e.epoch, LastSequence: e.lastSeq(), LastTimestamp: e.lastTs, CoordinatorEpoch: ce, TxnStartOffset: start})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProducerID < out[j].ProducerID })
	return out
}

// TxnToVerify reports whether the batch b (one produce's records) is a
// transactional batch whose producer has no transaction open here and no
// verification for its epoch: the caller must ask the coordinator, then
// call MarkTxnVerified, before Produce accepts it.
func (p *Partition) TxnToVerify(b []byte) (pid int64, epoch int16, need bool) {
	if len(b) < 61 {
		return -1, -1, false
	}
	attrs := binary.BigEndian.Uint16(b[21:23])
	if attrs&0x10 == 0 || attrs&0x20 != 0 {
		return -1, -1, false
	}
	pid, epoch = int64(binary.BigEndian.Uint64(b[43:51])), int16(binary.BigEndian.Uint16(b[51:53]))
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.settings.VerifyTransactions {
		return pid, epoch, false
	}
	return pid, epoch, !p.txnAdmitsLocked(pid, epoch)
}

// MarkTxnVerified records that the coordinator confirmed this partition is
// in producer pid's transaction at epoch; the next marker clears it.
func (p *Partition) MarkTxnVerified(pid int64, epoch int16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.txns.verified[pid] = epoch
}
