package storage

import (
	"fmt"
	"math"
	"time"
)

// AppendResult describes a successful append.
type AppendResult struct {
	BaseOffset     int64 // offset assigned to the first record
	LastOffset     int64 // offset of the last record
	LogStartOffset int64
	// Rolled: the append began a new segment at BaseOffset (the caller
	// snapshots state that must match segment boundaries, as package
	// replica does its producer state).
	Rolled bool
}

// Append validates batches, assigns offsets from the log end (rewriting each
// batch's base offset and partition leader epoch in place in b), and appends.
// Nothing is appended if any batch is invalid (ErrCorruptBatch,
// ErrMessageTooLarge) or the write fails (ErrStorage; the files are cut
// back to where they were). b is not retained after Append returns.
//
// Append does not fsync: with FsyncAlways the caller calls Sync before
// acknowledging. A leaderEpoch newer than any recorded starts a new entry
// in the leader-epoch checkpoint; a negative one is not recorded.
func (l *Log) Append(b []byte, leaderEpoch int32) (AppendResult, error) {
	hs, err := ParseBatches(b, l.config().MaxMessageBytes)
	if err != nil {
		return AppendResult{}, err
	}
	return l.AppendParsed(b, hs, leaderEpoch)
}

// AppendParsed is Append for a caller that has already validated b with
// ParseBatches (the replica reads the headers for sequence checks before
// appending), so the batches are not parsed and CRC-checked a second time.
// hs must be exactly ParseBatches' result for b; on success their
// BaseOffset and PartitionLeaderEpoch hold the assigned values.
func (l *Log) AppendParsed(b []byte, hs []BatchHeader, leaderEpoch int32) (AppendResult, error) {
	if len(hs) == 0 {
		return AppendResult{}, fmt.Errorf("%w: no record batches", ErrCorruptBatch)
	}
	cfg := l.config()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.checkWritable(); err != nil {
		return AppendResult{}, err
	}
	base := l.active().next
	next, pos := base, 0
	for i := range hs {
		h := &hs[i]
		setBaseOffset(b[pos:], next)
		setLeaderEpoch(b[pos:], leaderEpoch)
		h.BaseOffset, h.PartitionLeaderEpoch = next, leaderEpoch
		next = h.LastOffset() + 1
		pos += h.Size()
	}
	if l.epochs.assign(leaderEpoch, base) {
		if err := l.epochs.persist(); err != nil {
			l.epochs.truncateFromEnd(base)
			return AppendResult{}, err
		}
	}
	rolled, err := l.appendLocked(b, hs, cfg)
	if err != nil {
		return AppendResult{}, err
	}
	return AppendResult{BaseOffset: base, LastOffset: next - 1, LogStartOffset: l.logStart.Load(), Rolled: rolled}, nil
}

// AppendAsFollower appends batches whose offsets were assigned by the leader;
// the first batch must start at LogEndOffset (or after it, in a compacted
// log) and offsets must increase (ErrNonSequentialOffset otherwise). Batches are CRC-checked but, unlike
// Append, neither the produce-time record-count rule nor MaxMessageBytes is
// enforced: the leader already accepted them, and refusing them here would
// stall replication after a topic config change. Each batch's partition
// leader epoch feeds the leader-epoch cache.
func (l *Log) AppendAsFollower(b []byte) (AppendResult, error) {
	hs, err := parseBatches(b, 0, false)
	if err != nil {
		return AppendResult{}, err
	}
	return l.AppendAsFollowerParsed(b, hs)
}

// AppendAsFollowerParsed is AppendAsFollower for batches the caller already
// validated with ParseBatches; hs must be exactly its result for b.
func (l *Log) AppendAsFollowerParsed(b []byte, hs []BatchHeader) (AppendResult, error) {
	if len(hs) == 0 {
		return AppendResult{}, fmt.Errorf("%w: no record batches", ErrCorruptBatch)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.checkWritable(); err != nil {
		return AppendResult{}, err
	}
	end := l.active().next
	// A compacted leader's log has gaps (cleaner.go): the batch after a
	// follower's log end may start further on, as in Kafka.
	if hs[0].BaseOffset != end && !(hs[0].BaseOffset > end && l.config().Compact) {
		return AppendResult{}, fmt.Errorf("%w: first batch at %d, log end is %d", ErrNonSequentialOffset, hs[0].BaseOffset, end)
	}
	for i := 1; i < len(hs); i++ {
		if hs[i].BaseOffset <= hs[i-1].LastOffset() {
			return AppendResult{}, fmt.Errorf("%w: batch at %d follows batch ending at %d", ErrNonSequentialOffset, hs[i].BaseOffset, hs[i-1].LastOffset())
		}
	}
	if hs[len(hs)-1].LastOffset() == math.MaxInt64 {
		return AppendResult{}, fmt.Errorf("%w: offset overflow", ErrCorruptBatch)
	}
	changed := false
	for _, h := range hs {
		changed = l.epochs.assign(h.PartitionLeaderEpoch, h.BaseOffset) || changed
	}
	if changed {
		if err := l.epochs.persist(); err != nil {
			l.epochs.truncateFromEnd(end)
			return AppendResult{}, err
		}
	}
	rolled, err := l.appendLocked(b, hs, l.config())
	if err != nil {
		return AppendResult{}, err
	}
	return AppendResult{BaseOffset: hs[0].BaseOffset, LastOffset: hs[len(hs)-1].LastOffset(), LogStartOffset: l.logStart.Load(), Rolled: rolled}, nil
}

// appendLocked writes already-validated batches with final offsets to the
// active segment (rolling first if needed). On a write failure the files and
// in-memory state are restored; if even that fails the log is marked failed.
// rolled reports that a new segment was begun for b (at its first offset).
// Caller holds mu.
func (l *Log) appendLocked(b []byte, hs []BatchHeader, cfg Config) (rolled bool, err error) {
	first, last := hs[0].BaseOffset, hs[len(hs)-1].LastOffset()
	now := l.now()
	if s := l.active(); s.size > 0 && (s.size+int64(len(b)) > cfg.SegmentBytes ||
		now.Sub(s.rollAt) >= cfg.SegmentMs ||
		last-s.base > math.MaxUint32) {
		if err := l.roll(first, cfg, now); err != nil {
			return false, err
		}
		rolled = true
	}
	s := l.active()
	if s.size == 0 {
		s.rollAt = now
	}
	st := s.state()
	interval := int64(cfg.IndexIntervalBytes)
	pos := st.size
	for _, h := range hs {
		s.track(h, pos, interval)
		pos += int64(h.Size())
	}
	// The new index entries stay in memory until the segment rolls or the
	// log closes (segment.idxDisk).
	if _, err = s.log.WriteAt(b, st.size); err != nil {
		err = ioErr("write segment "+s.prefix, err)
		s.restore(st)
		if terr := s.truncateLog(st); terr != nil {
			l.failed = terr
			l.logger.Error("cannot undo failed append; log refuses further appends", "err", terr)
		}
		return rolled, err
	}
	l.size += int64(len(b))
	l.dirtied()
	l.logEnd.Store(s.next)
	return rolled, nil
}

// roll makes a new active segment starting at base. The old segment's
// indexes are finalised (and fsynced unless FsyncNever); its .log is queued
// for the next Sync. Caller holds mu.
func (l *Log) roll(base int64, cfg Config, now time.Time) error {
	old := l.active()
	if base < old.next {
		base = old.next
	}
	// The aborted-transaction indexes are fsynced at the roll whatever
	// the policy: producer-state snapshots taken from here on rely on them.
	if err := l.syncTxnIndexesLocked(); err != nil {
		return err
	}
	ns, err := createSegment(l.fs, l.dir, base, now)
	if err != nil {
		return err
	}
	if err := old.deactivate(cfg.Fsync != FsyncNever); err != nil {
		_ = ns.remove()
		return err
	}
	l.segs = append(l.segs, ns)
	l.unsynced = append(l.unsynced, old)
	l.markDirDirty()
	return nil
}
