package replica

// Transactions on one partition: which producers have a transaction open
// here (from their first transactional batch to their COMMIT or ABORT
// control batch), the last stable offset that read_committed consumers stop
// at, and the aborted-transaction index they need to drop aborted records
// (Kafka's ProducerStateManager and .txnindex). The state is derived from
// the log alone, on the leader as it appends and on followers as they copy,
// and rebuilt by the same scan that rebuilds the idempotent producer state
// when the partition is opened or truncated, so every replica holds the same
// index without a file of its own.

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
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
type AbortedTxn struct {
	ProducerID       int64
	FirstOffset      int64
	LastOffset       int64
	LastStableOffset int64
}

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
	aborted    []AbortedTxn // by LastOffset
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
// appended: its transaction is already open here, or was verified.
func (ts *txnState) admits(pid int64, epoch int16) bool {
	if _, ok := ts.ongoing[pid]; ok {
		return true
	}
	v, ok := ts.verified[pid]
	return ok && v == epoch
}

// note updates the state with one appended batch (offsets assigned).
func (ts *txnState) note(h storage.BatchHeader, raw []byte) {
	if h.ProducerID < 0 || !h.IsTransactional() {
		return
	}
	if !h.IsControl() {
		if _, ok := ts.ongoing[h.ProducerID]; !ok {
			ts.ongoing[h.ProducerID] = h.BaseOffset
		}
		return
	}
	delete(ts.verified, h.ProducerID)
	typ, ce, readable := controlRecord(raw)
	if readable {
		ts.coordEpoch[h.ProducerID] = max(ce, ts.coordEpoch[h.ProducerID])
	}
	first, ok := ts.ongoing[h.ProducerID]
	if !ok {
		return // a marker for a transaction with no data here (retried marker)
	}
	delete(ts.ongoing, h.ProducerID)
	ts.completing = append(ts.completing, completedTxn{first: first, marker: h.BaseOffset})
	if readable && typ == controlAbort {
		lso := h.BaseOffset + 1
		for _, f := range ts.ongoing {
			lso = min(lso, f)
		}
		ts.aborted = append(ts.aborted, AbortedTxn{ProducerID: h.ProducerID, FirstOffset: first, LastOffset: h.BaseOffset, LastStableOffset: lso})
	}
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

// abortedIn returns the aborted transactions overlapping [from, upTo).
func (ts *txnState) abortedIn(from, upTo int64) []AbortedTxn {
	i := sort.Search(len(ts.aborted), func(i int) bool { return ts.aborted[i].LastOffset >= from })
	var out []AbortedTxn
	for _, a := range ts.aborted[i:] {
		if a.FirstOffset < upTo {
			out = append(out, a)
		}
	}
	return out
}

// forget drops the aborted transaction of pid whose ABORT marker is at
// marker, if listed.
func (ts *txnState) forget(pid, marker int64) {
	i := sort.Search(len(ts.aborted), func(i int) bool { return ts.aborted[i].LastOffset >= marker })
	for ; i < len(ts.aborted) && ts.aborted[i].LastOffset == marker; i++ {
		if ts.aborted[i].ProducerID == pid {
			ts.aborted = append(ts.aborted[:i], ts.aborted[i+1:]...)
			return
		}
	}
}

// forgetAborts drops from the aborted-transaction index the transactions
// the log cleaner removed the data of (storage.Log.SetAbortsCleaned): a
// read_committed consumer told of one would drop its producer's later
// transactional data until an ABORT marker the cleaner removes next.
func (p *Partition) forgetAborts(as []storage.CleanedAbort) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range as {
		p.txns.forget(a.ProducerID, a.MarkerOffset)
	}
}

// trim forgets aborted transactions entirely below the log start offset.
func (ts *txnState) trim(logStart int64) {
	i := sort.Search(len(ts.aborted), func(i int) bool { return ts.aborted[i].LastOffset >= logStart })
	if i > 0 {
		ts.aborted = append([]AbortedTxn(nil), ts.aborted[i:]...)
	}
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
	res, wait, err := p.produceAsync(b, -1, true)
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
	res, wait, err := p.produceAsync(b, -1, true)
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
// which a read_committed fetch of that range must be told about.
func (p *Partition) AbortedTxns(from, upTo int64) []AbortedTxn {
	if !p.txnSeen.Load() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.txns.trim(p.log.LogStartOffset())
	return p.txns.abortedIn(from, upTo)
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
		p.producers.record(h)
		end := pos + h.Size()
		if end <= len(raw) {
			p.txns.note(h, raw[pos:end])
		}
		if h.IsTransactional() {
			p.txnSeen.Store(true)
		}
		pos = end
	}
	if p.txnSeen.Load() {
		p.txns.lastStable(p.hw.Load()) // forgets completions below the high watermark
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
		out = append(out, ProducerInfo{ProducerID: id, Epoch: e.epoch, LastSequence: e.lastSeq(), TxnStartOffset: start})
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
	return pid, epoch, !p.txns.admits(pid, epoch)
}

// MarkTxnVerified records that the coordinator confirmed this partition is
// in producer pid's transaction at epoch; the next marker clears it.
func (p *Partition) MarkTxnVerified(pid int64, epoch int16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.txns.verified[pid] = epoch
}
