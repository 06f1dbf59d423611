package replica

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strombroker/strom/storage"
)

// Settings are the per-partition knobs that come from topic configs.
type Settings struct {
	Log storage.Config
	// MinInsyncReplicas is min.insync.replicas: acks=all writes are refused
	// below it, and the high watermark does not advance while the ISR is
	// smaller than the effective minimum, min(MinInsyncReplicas, Replicas)
	// (strict min-ISR, KIP-966; see doc.go).
	MinInsyncReplicas int
	// Replicas is the partition's replication factor, which caps
	// MinInsyncReplicas for the high watermark as Kafka's effectiveMinIsr
	// does, so that a topic configured with more in-sync replicas than it
	// has copies still makes progress for acks=1. Zero means unknown: no cap.
	Replicas int
	// FlushMessages is the topic's flush.messages when set (0: not set,
	// the broker's log.fsync policy decides): Kafka's rule, an fsync
	// before the answer once that many records are unflushed, 1 being
	// every write, whatever the acks. Set, it replaces the fsync that
	// log.fsync=interval gives acks=all writes, so a topic can take
	// Kafka's trade-off (durability by replication alone) on a broker
	// that does not, or the strictest one on a broker that does not.
	FlushMessages int64
	// VerifyTransactions: a producer's first transactional batch on this
	// partition in a transaction is appended only after the caller
	// confirmed with the transaction coordinator that the partition is in
	// it (MarkTxnVerified; KIP-890's server-side verification), so that a
	// late or zombie write cannot start a transaction of its own.
	VerifyTransactions bool
}

// effectiveMinISR is the ISR size below which the high watermark is frozen.
func (s Settings) effectiveMinISR() int {
	if s.Replicas > 0 {
		return min(s.MinInsyncReplicas, s.Replicas)
	}
	return s.MinInsyncReplicas
}

// ProduceResult is what an acknowledged Produce reports back.
type ProduceResult struct {
	BaseOffset     int64
	LastOffset     int64
	LogStartOffset int64
	// Duplicate is true when the batch was a retry of one already appended;
	// the offsets are those of the original append.
	Duplicate bool
}

// FetchResult is a read from the partition.
type FetchResult struct {
	Records        []byte // whole v2 batches, possibly empty
	HighWatermark  int64
	LastStable     int64
	LogStartOffset int64
	LogEndOffset   int64
}

// Partition is one hosted replica of a topic partition. Safe for concurrent use.
type Partition struct {
	Topic string
	Index int32

	log      *storage.Log
	logger   *slog.Logger
	self     int32
	changed  func() // wakes fetchers waiting anywhere on the broker
	appended func() // wakes replica fetches after a leader append (Manager.ReplicaChanged)
	// kickISR (may be nil) asks for an early ISR check when a follower
	// outside the ISR catches up; set once when the Manager opens us.
	kickISR func()

	mu        sync.Mutex // serialises appends, producer state and leadership changes
	settings  Settings
	producers *producerState
	txns      *txnState // transactions open here (txn.go)
	// unindexed holds aborted transactions the log's index could not
	// take (an I/O error), and noSnapshots stops snapshots after one
	// (indexAbortLocked).
	unindexed   []AbortedTxn
	noSnapshots bool
	// replayedFrom is the offset the last state rebuild (open,
	// truncation) replayed the log from: a snapshot's, or the log start.
	replayedFrom int64
	// snapshotAt is the offset of a snapshot on disk holding the current
	// state, -1 if none: set by a restore from one, and by taking one.
	snapshotAt  int64
	leader      bool
	leaderEpoch int32
	isr         []int32
	unflushed   int64 // records appended since a write fsynced (flush.messages)
	// pendingAdd holds the followers this leader proposed adding to the
	// ISR that metadata has not delivered yet, with when each stops
	// counting (zero while its proposal is in flight). With the committed
	// isr they form the maximal ISR the high watermark is computed over.
	pendingAdd  map[int32]time.Time
	followerLEO map[int32]int64
	lead        leaderState // follower fetch tracking while leading; see isr.go
	closed      bool

	// durable is the log end offset known to be as durable as the fsync
	// policy requires; hw is the high watermark. Both only grow while leading.
	durable atomic.Int64
	hw      atomic.Int64
	// txnSeen: the log has held a transactional batch since the replica
	// opened; until then the last stable offset is the high watermark and
	// reads take no lock for it.
	txnSeen atomic.Bool
	// hwCheckpointed is the value last written by checkpointHW.
	hwCheckpointed atomic.Int64
	// recovering: opened after an unclean stop and not yet caught up with
	// a leader's high watermark (see RecoveringFromUncleanStop).
	recovering atomic.Bool
	// leaderHW is the high watermark the leader last sent this follower
	// (0 until one arrives); FollowerLag reads it (metrics.go).
	leaderHW atomic.Int64
	// fsync syncs a checkpoint file or its directory; (*os.File).Sync but
	// for tests. Set once by openPartition.
	fsync func(*os.File) error

	hwMu    sync.Mutex
	hwWaits chan struct{} // closed when hw moves
}

func openPartition(dir, topic string, index int32, self int32, s Settings, files *storage.FileCache, changed func(), logger *slog.Logger) (*Partition, error) {
	l, err := storage.OpenShared(dir, s.Log, logger, files)
	if err != nil {
		return nil, err
	}
	p := &Partition{
		Topic:       topic,
		Index:       index,
		log:         l,
		logger:      logger,
		self:        self,
		changed:     changed,
		settings:    s,
		producers:   newProducerState(),
		txns:        newTxnState(),
		followerLEO: make(map[int32]int64),
		pendingAdd:  make(map[int32]time.Time),
		hwWaits:     make(chan struct{}),
		fsync:       (*os.File).Sync,
	}
	// Start from the checkpointed high watermark: records past it may never
	// have been committed. A leader recomputes it from the ISR as soon as it
	// leads (a lone broker at once); a follower learns it from its leader.
	// With no checkpoint, after a clean shutdown (a partition from before
	// checkpoints existed) the whole log is taken as committed, as earlier
	// versions did; after an unclean stop nothing is (doc.go).
	leo := l.LogEndOffset()
	p.durable.Store(leo)
	hw := leo
	c, ok := readHWCheckpoint(dir)
	switch {
	case ok:
		hw = min(c, leo)
	case !l.CleanShutdown():
		hw = l.LogStartOffset()
	}
	p.hw.Store(hw)
	p.hwCheckpointed.Store(hw)
	if !l.CleanShutdown() {
		p.recovering.Store(true)
		logger.Info("opened after an unclean stop: not caught up until it reaches a leader's high watermark",
			"highWatermark", hw, "logEnd", leo)
	}
	p.mu.Lock()
	err = p.restoreStateLocked(true)
	p.mu.Unlock()
	if err != nil {
		l.Close()
		return nil, err
	}
	return p, nil
}

// restoreStateLocked rebuilds the idempotent producer state (so that
// retries after a restart are still recognised as duplicates) and the
// transaction state from the newest valid producer-state snapshot at or
// below the log end, replaying the log after it (from the log start when
// there is none). At open the aborted-transaction index is first cut at
// the replay's start, since after an unclean stop its tail may be torn or
// short; after a truncation it is sound (the log cut its tail) and the
// replay only re-adds what is missing. Caller holds p.mu.
func (p *Partition) restoreStateLocked(atOpen bool) error {
	start, end := p.log.LogStartOffset(), p.log.LogEndOffset()
	st, ok := p.loadSnapshotLocked(start, end)
	if !ok {
		st = partState{offset: start, producers: newProducerState(), txns: newTxnState()}
		if end > start {
			p.logger.Info("no producer state snapshot: replaying the whole log", "logStart", start, "logEnd", end)
		}
	}
	p.producers, p.txns = st.producers, st.txns
	if st.txnSeen {
		p.txnSeen.Store(true)
	}
	p.replayedFrom = st.offset
	// The replay indexes its aborts again (and a truncation removed those
	// past the cut).
	p.unindexed = slices.DeleteFunc(p.unindexed, func(a AbortedTxn) bool { return a.LastOffset >= st.offset })
	p.snapshotAt = -1
	if ok {
		p.snapshotAt = st.offset
	}
	if atOpen {
		if err := p.log.TruncateAbortedTxns(st.offset); err != nil {
			return err
		}
	}
	return p.log.ScanBatches(st.offset, func(h storage.BatchHeader, raw []byte) error {
		p.noteBatchLocked(h, raw)
		return nil
	})
}

// BecomeLeader makes this replica the leader at epoch with the given
// (committed) ISR. acks=all producers waiting are woken to re-check it. A
// replica recovering from an unclean stop stops recovering: as leader its
// log is the reference.
func (p *Partition) BecomeLeader(epoch int32, isr []int32) {
	p.recovering.Store(false)
	p.mu.Lock()
	p.resetLeaderStateLocked(epoch, isr)
	p.leader = true
	p.leaderEpoch = epoch
	p.isr = slices.Clone(isr)
	p.mu.Unlock()
	p.advanceHW()
	p.wakeAcksWaiters()
}

// BecomeFollower stops accepting produce requests.
func (p *Partition) BecomeFollower(epoch int32) {
	p.mu.Lock()
	p.leader = false
	p.leaderEpoch = epoch
	p.mu.Unlock()
}

// RecoveringFromUncleanStop reports whether the replica was opened after an
// unclean stop (storage found no clean shutdown, so its unflushed tail may
// be gone, including records it had acknowledged to a leader as a follower)
// and has not yet caught up: fetched from its current leader up to that
// leader's high watermark, or become leader. Such a replica must not be
// elected while an ISR member that stopped cleanly is available (KIP-966);
// the controller side of that rule is the server's. Safe for concurrent use.
func (p *Partition) RecoveringFromUncleanStop() bool { return p.recovering.Load() }

// LeaderEpoch returns the current leader epoch.
func (p *Partition) LeaderEpoch() int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.leaderEpoch
}

// IsLeader reports whether this replica leads the partition.
func (p *Partition) IsLeader() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.leader
}

// SetSettings applies changed topic configs.
func (p *Partition) SetSettings(s Settings) {
	p.mu.Lock()
	p.settings = s
	p.mu.Unlock()
	p.log.SetConfig(s.Log)
}

// Produce validates, deduplicates and appends batches (one or more
// concatenated v2 batches; b is rewritten in place with the assigned offsets)
// and returns once the acks level is met: acks 0 or 1 once the leader has it
// (and, with FsyncAlways, fsynced); acks -1 once the high watermark covers it.
func (p *Partition) Produce(ctx context.Context, b []byte, acks int16) (ProduceResult, error) {
	res, wait, err := p.ProduceAsync(b, acks)
	if err != nil || wait == nil {
		return res, err
	}
	return res, wait(ctx)
}

// ProduceAsync is Produce split in two: it appends (in call order, which is
// what orders records) and returns wait, which fsyncs when the write must be
// durable before its answer and blocks until the acks level is met; nil when
// there is nothing to wait for (acks=0 or 1 without fsync). The server
// appends one request after another but lets their waits overlap, so one
// connection can keep several writes in flight as Kafka clients expect, and
// runs the waits of a request's partitions side by side, so their fsyncs
// overlap (and coalesce in the file system's journal) instead of queueing.
func (p *Partition) ProduceAsync(b []byte, acks int16) (ProduceResult, func(context.Context) error, error) {
	return p.produceAsync(ParseProduce(b), acks, false)
}

// ProduceParsedAsync is ProduceAsync for batches the caller has parsed
// already (to look inside them first), so they are checksummed once.
func (p *Partition) ProduceParsedAsync(pb ProduceBatches, acks int16) (ProduceResult, func(context.Context) error, error) {
	return p.produceAsync(pb, acks, false)
}

// ProduceBatches is produced data with the outcome of parsing it
// (storage.ParseBatches without a size limit: framing and CRC-32C), which a
// Partition then checks against its own limit. Parsing is the one pass over
// every byte before the append, so it happens before the partition's lock is
// taken, and once however many steps look at the batches.
type ProduceBatches struct {
	b    []byte
	hdrs []storage.BatchHeader
	err  error
}

// ParseProduce parses b for ProduceParsedAsync.
func ParseProduce(b []byte) ProduceBatches {
	hdrs, err := storage.ParseBatches(b, 0)
	return ProduceBatches{b: b, hdrs: hdrs, err: err}
}

// Headers returns the batches' headers, or why b is not valid batches.
func (pb ProduceBatches) Headers() ([]storage.BatchHeader, error) { return pb.hdrs, pb.err }

// produceAsync is ProduceAsync; coordinator is set for batches a
// transaction or group coordinator wrote (markers, transactional offset
// commits), which clients may not send.
func (p *Partition) produceAsync(pb ProduceBatches, acks int16, coordinator bool) (ProduceResult, func(context.Context) error, error) {
	b := pb.b
	p.mu.Lock()
	hdrs, dup, err := p.checkProduceLocked(pb, acks, coordinator)
	switch {
	case err != nil:
		p.mu.Unlock()
		return ProduceResult{}, nil, err
	case dup != nil:
		p.mu.Unlock()
		res := ProduceResult{BaseOffset: dup.baseOffset, LastOffset: dup.lastOffset, LogStartOffset: p.log.LogStartOffset(), Duplicate: true}
		if acks != -1 {
			return res, nil, nil
		}
		return res, func(ctx context.Context) error { return p.waitAcks(ctx, dup.lastOffset, acks) }, nil
	}
	res, err := p.log.AppendParsed(b, hdrs, p.leaderEpoch)
	if err != nil {
		p.mu.Unlock()
		return ProduceResult{}, nil, err
	}
	if res.Rolled {
		p.takeSnapshotLocked(res.BaseOffset) // the state before this batch
	}
	p.noteLocked(hdrs, b) // hdrs now carry the assigned offsets
	fsync := p.fsyncBeforeAckLocked(hdrs, acks)
	p.mu.Unlock()

	// Followers read to the log end, not to what is durable here: wake
	// them now, so that they copy while this replica fsyncs rather than
	// after it.
	p.wakeReplicaFetches()
	out := ProduceResult{BaseOffset: res.BaseOffset, LastOffset: res.LastOffset, LogStartOffset: res.LogStartOffset}
	last := res.LastOffset
	switch {
	case fsync && acks != 0:
		return out, func(ctx context.Context) error {
			if err := p.log.Sync(); err != nil { // covers every append before it
				return p.closedOr(err)
			}
			p.markDurable(last + 1)
			return p.waitAcks(ctx, last, acks)
		}, nil
	case fsync: // acks=0: no answer to hold back, so no one would run a wait
		if err := p.log.Sync(); err != nil {
			return ProduceResult{}, nil, p.closedOr(err)
		}
	}
	p.markDurable(last + 1)
	if acks != -1 {
		return out, nil, nil
	}
	return out, func(ctx context.Context) error { return p.waitAcks(ctx, last, acks) }, nil
}

// closedOr is ErrClosed when the partition was closed (a Remove or Close
// racing a write's fsync fails the fsync on a closed file: the writer must
// learn that the partition went away, as its waiters do), else err.
func (p *Partition) closedOr(err error) error {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return err
}

// checkProduceLocked validates a write before it is appended: leadership,
// the batch itself, min.insync.replicas for acks=all, and the idempotent
// producer's sequence. dup is the earlier write a retried batch repeats.
// Caller holds p.mu.
func (p *Partition) checkProduceLocked(pb ProduceBatches, acks int16, coordinator bool) (hdrs []storage.BatchHeader, dup *batchMeta, err error) {
	if p.closed {
		return nil, nil, ErrClosed
	}
	if !p.leader {
		return nil, nil, ErrNotLeader
	}
	b := pb.b
	if pb.err != nil {
		// Parse again with the limit, for Kafka's precedence: a batch
		// over max.message.bytes is MESSAGE_TOO_LARGE even when it is
		// also corrupt. Only refused writes pay for this.
		_, err = storage.ParseBatches(b, p.settings.Log.MaxMessageBytes)
		if err == nil {
			err = pb.err
		}
		return nil, nil, err
	}
	hdrs = pb.hdrs
	if err := storage.CheckBatchSizes(hdrs, p.settings.Log.MaxMessageBytes); err != nil {
		return nil, nil, err
	}
	if len(hdrs) != 1 {
		// Kafka's rule for record batch v2: exactly one batch per partition
		// in a produce request, which also keeps sequence checks simple.
		return nil, nil, fmt.Errorf("%w: %d record batches for one partition, want exactly 1", ErrInvalidRecord, len(hdrs))
	}
	if acks == -1 && len(p.isr) < p.settings.MinInsyncReplicas {
		return nil, nil, fmt.Errorf("%w: %d in sync, min.insync.replicas=%d", ErrNotEnoughReplicas, len(p.isr), p.settings.MinInsyncReplicas)
	}
	for _, h := range hdrs {
		switch {
		case coordinator:
			if err := p.txns.checkMarker(h, b); err != nil {
				return nil, nil, err
			}
			return hdrs, nil, p.producers.checkCoordinatorBatch(h)
		case h.IsControl():
			return nil, nil, fmt.Errorf("%w: control batch from a client", ErrInvalidRecord)
		case h.IsTransactional() && p.settings.VerifyTransactions && !p.txnAdmitsLocked(h.ProducerID, h.ProducerEpoch):
			return nil, nil, fmt.Errorf("%w: producer %d epoch %d", ErrTxnNotVerified, h.ProducerID, h.ProducerEpoch)
		}
		if dup, err = p.producers.check(h); err != nil || dup != nil {
			return nil, dup, err
		}
	}
	return hdrs, nil, nil
}

// fsyncBeforeAckLocked decides whether a write of hdrs at acks must be
// fsynced before it is acknowledged. acks=all asks for the strongest
// promise we make, so with the default interval policy it is fsynced before
// the ack too (group commit keeps that cheap); "always" does it for every
// acks level, "never" for none. A topic's flush.messages replaces the
// policy's per-write rule with Kafka's count. Caller holds p.mu.
func (p *Partition) fsyncBeforeAckLocked(hdrs []storage.BatchHeader, acks int16) bool {
	if n := p.settings.FlushMessages; n > 0 {
		for _, h := range hdrs {
			p.unflushed += int64(h.NumRecords)
		}
		if p.unflushed < n {
			return false
		}
		p.unflushed = 0
		return true
	}
	switch p.settings.Log.Fsync {
	case storage.FsyncAlways:
		return true
	case storage.FsyncInterval:
		return acks == -1
	}
	return false
}

// UpdateFollowerLEO records the log end offset that follower id has reached
// (the offset of its latest fetch) and recomputes the high watermark, which
// is the minimum over the ISR. Followers report progress through fetches;
// this is the hook the fetch path (and tests) use to tell the leader.
func (p *Partition) UpdateFollowerLEO(id int32, leo int64) {
	p.mu.Lock()
	p.followerLEO[id] = leo
	p.mu.Unlock()
	p.advanceHW()
}

// markDurable records that the log up to (excluding) leo is durable on this
// replica and moves the high watermark (which wakes parked follower fetches
// if it moved; the append already woke them for the records).
func (p *Partition) markDurable(leo int64) {
	for {
		cur := p.durable.Load()
		if leo <= cur || p.durable.CompareAndSwap(cur, leo) {
			break
		}
	}
	p.advanceHW()
}

// advanceHW recomputes the high watermark as the minimum durable log end
// offset over the maximal ISR (committed ISR and pending additions) and
// wakes waiters when it moves. It does not move while the committed ISR is
// smaller than the effective min.insync.replicas (strict min-ISR).
func (p *Partition) advanceHW() {
	p.mu.Lock()
	if !p.leader || len(p.isr) < p.settings.effectiveMinISR() {
		p.mu.Unlock()
		return
	}
	hw := p.durable.Load()
	for _, id := range p.isr {
		hw = min(hw, p.followerLEOLocked(id))
	}
	for id := range p.pendingAdd { // expired by the ISR loop, which owns proposals
		hw = min(hw, p.followerLEOLocked(id))
	}
	moved := false
	if cur := p.hw.Load(); hw > cur {
		p.hw.Store(hw)
		moved = true
	}
	p.mu.Unlock()
	if moved {
		p.hwMu.Lock()
		close(p.hwWaits)
		p.hwWaits = make(chan struct{})
		p.hwMu.Unlock()
		if p.changed != nil {
			p.changed()
		}
		// Followers learn the high watermark from fetch answers; a
		// parked follower fetch answers when it moved (server's Fetch).
		p.wakeReplicaFetches()
	}
}

// followerLEOLocked is what replica id contributes to the high watermark:
// the leader's own durable LEO for itself, the follower's last fetch offset,
// or the current high watermark (hold it) when the follower has not fetched
// in this leadership. Caller holds p.mu.
func (p *Partition) followerLEOLocked(id int32) int64 {
	if id == p.self {
		return p.durable.Load()
	}
	if leo, ok := p.followerLEO[id]; ok {
		return leo
	}
	return p.hw.Load()
}

// waitAcks blocks until the acks level is met for lastOffset.
func (p *Partition) waitAcks(ctx context.Context, lastOffset int64, acks int16) error {
	if acks != -1 {
		return nil
	}
	for {
		p.hwMu.Lock()
		ch := p.hwWaits
		p.hwMu.Unlock()
		if p.hw.Load() > lastOffset {
			// The ISR may have shrunk below min.insync.replicas while we
			// waited, which is what let the high watermark pass us: the
			// record is committed, but not with the promised number of
			// copies, and Kafka tells the producer so.
			p.mu.Lock()
			n, want := len(p.isr), p.settings.MinInsyncReplicas
			p.mu.Unlock()
			if n < want {
				return fmt.Errorf("%w: %d in sync, min.insync.replicas=%d", ErrNotEnoughReplicasAfterAppend, n, want)
			}
			return nil
		}
		p.mu.Lock()
		closed, leader := p.closed, p.leader
		n, want := len(p.isr), p.settings.MinInsyncReplicas
		frozen := len(p.isr) < p.settings.effectiveMinISR()
		p.mu.Unlock()
		if closed {
			return ErrClosed
		}
		if !leader {
			return ErrNotLeader
		}
		if frozen {
			// The ISR shrank below min.insync.replicas after the append:
			// the high watermark will not cover it until the ISR is back.
			return fmt.Errorf("%w: %d in sync, min.insync.replicas=%d", ErrNotEnoughReplicasAfterAppend, n, want)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Fetch reads from offset up to maxBytes, never past the high watermark
// (consumers) or the log end (followers, when toLEO is set).
func (p *Partition) Fetch(offset int64, maxBytes int, toLEO bool) (FetchResult, error) {
	hw := p.hw.Load()
	leo := p.log.LogEndOffset()
	upTo := hw
	if toLEO {
		upTo = leo
	}
	r := FetchResult{HighWatermark: hw, LastStable: p.LastStableOffset(), LogStartOffset: p.log.LogStartOffset(), LogEndOffset: leo}
	if offset > leo || offset < r.LogStartOffset {
		return r, fmt.Errorf("%w: offset %d not in [%d, %d]", storage.ErrOffsetOutOfRange, offset, r.LogStartOffset, leo)
	}
	if offset >= upTo {
		return r, nil
	}
	recs, err := p.log.Read(offset, maxBytes, upTo)
	if err != nil {
		return r, err
	}
	r.Records = recs
	return r, nil
}

// HighWatermark is the offset below which records are committed.
func (p *Partition) HighWatermark() int64 { return p.hw.Load() }

// LogStartOffset is the first readable offset.
func (p *Partition) LogStartOffset() int64 { return p.log.LogStartOffset() }

// LogEndOffset is the next offset to be written.
func (p *Partition) LogEndOffset() int64 { return p.log.LogEndOffset() }

// OffsetForTimestamp finds the first offset with timestamp >= ts, capped at the
// high watermark; found is false if there is none.
func (p *Partition) OffsetForTimestamp(ts int64) (offset, timestamp int64, found bool, err error) {
	off, t, ok, err := p.log.OffsetForTimestamp(ts)
	if err != nil || !ok || off >= p.hw.Load() {
		return -1, -1, false, err
	}
	return off, t, true, nil
}

// MaxTimestamp returns the offset and timestamp of the record with the largest timestamp.
func (p *Partition) MaxTimestamp() (offset, timestamp int64, err error) {
	return p.log.MaxTimestamp()
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch.
func (p *Partition) EndOffsetForEpoch(epoch int32) (int32, int64) {
	p.mu.Lock()
	cur := p.leaderEpoch
	p.mu.Unlock()
	if epoch >= cur {
		return cur, p.log.LogEndOffset()
	}
	return p.log.EndOffsetForEpoch(epoch)
}

// DeleteRecords moves the log start offset to offset (-1 means the high watermark).
func (p *Partition) DeleteRecords(offset int64) (int64, error) {
	hw := p.hw.Load()
	if offset == -1 {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return -1, fmt.Errorf("%w: delete offset %d beyond high watermark %d", storage.ErrOffsetOutOfRange, offset, hw)
	}
	before := p.log.LogStartOffset()
	if err := p.log.DeleteRecordsBefore(offset, hw); err != nil {
		return -1, err
	}
	p.pruneSnapshotsBelowStart(before)
	return p.log.LogStartOffset(), nil
}

// enforceRetention applies retention.ms and retention.bytes, deleting only
// segments entirely below the high watermark: records at or above it may
// not be replicated yet (and their timestamps are the producer's), so the
// log start offset never passes it.
func (p *Partition) enforceRetention(now time.Time) error {
	before := p.log.LogStartOffset()
	err := p.log.EnforceRetention(now, p.hw.Load())
	p.pruneSnapshotsBelowStart(before)
	return err
}

// Size is the partition's size on disk.
func (p *Partition) Size() int64 { return p.log.Size() }

func (p *Partition) close(deleteData bool) error {
	if !deleteData {
		if err := p.checkpointHW(); err != nil {
			p.logger.Warn("high watermark checkpoint failed", "err", err)
		}
	}
	p.mu.Lock()
	p.closed = true
	p.leader = false
	p.mu.Unlock()
	p.hwMu.Lock()
	close(p.hwWaits)
	p.hwWaits = make(chan struct{})
	p.hwMu.Unlock()
	if deleteData {
		return p.log.Delete()
	}
	if err := p.log.Close(); err != nil {
		return err
	}
	// After the log is fsynced and marked clean, so that the snapshot
	// never describes a tail a crash could still take away. A replica
	// opened from a snapshot at its log end and not written to since has
	// it already.
	p.mu.Lock()
	if end := p.log.LogEndOffset(); p.snapshotAt != end {
		p.takeSnapshotLocked(end)
	}
	p.mu.Unlock()
	return nil
}
