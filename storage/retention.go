package storage

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// EnforceRetention deletes whole segments past retention time/bytes, never the active one.
//
// Only segments entirely below highWatermark (the caller's high watermark:
// offsets at or above it may not be replicated yet, and a producer-supplied
// timestamp must not expire them) may go, so the log start offset never
// passes it. Pass LogEndOffset() where every record counts as committed.
//
// Time: the oldest segments whose largest timestamp (file mtime when batches
// carry none) is older than now-RetentionMs. Bytes: like Kafka, the oldest
// segments are deleted only while what remains is still >= RetentionBytes.
// As in Kafka, when every segment qualifies and the active one holds data, a
// new empty segment is rolled first so the old active one can go; the log
// start offset then equals the log end offset. It is the caller's job to
// call this periodically (log.retention.check.interval.ms).
func (l *Log) EnforceRetention(now time.Time, highWatermark int64) error {
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	cfg := l.config()
	if cfg.KeepForever {
		return nil // cleanup.policy=compact: only the cleaner removes records
	}
	n := 0 // number of oldest segments to delete
	if cfg.RetentionMs >= 0 {
		limit := now.Add(-cfg.RetentionMs).UnixMilli()
		for n < len(l.segs) && l.segs[n].size > 0 && l.segs[n].timestamp() < limit {
			n++
		}
	}
	if cfg.RetentionBytes >= 0 {
		remaining := l.size
		for _, s := range l.segs[:n] {
			remaining -= s.size
		}
		for n < len(l.segs) && l.segs[n].size > 0 && remaining-l.segs[n].size >= cfg.RetentionBytes {
			remaining -= l.segs[n].size
			n++
		}
	}
	n = l.belowLocked(n, highWatermark)
	if n == 0 {
		return nil
	}
	if n == len(l.segs) {
		if err := l.checkWritable(); err != nil {
			return err
		}
		if err := l.roll(l.active().next, cfg, now); err != nil {
			return err
		}
	}
	return l.deleteOldestLocked(n, "retention")
}

// belowLocked caps n, a count of oldest segments to delete, at the segments
// lying entirely below bound: every offset they hold, up to the next
// segment's base (for the active one, the log end), is < bound. Caller holds
// mu.
func (l *Log) belowLocked(n int, bound int64) int {
	for k := 0; k < n; k++ {
		end := l.segs[k].next
		if k+1 < len(l.segs) {
			end = l.segs[k+1].base // the new log start once segs[k] is gone
		}
		if end > bound {
			return k
		}
	}
	return n
}

// deleteOldestLocked removes the n oldest segments (never the active one) and
// moves the log start offset to the first remaining segment if it was lower.
// Caller holds fileMu and mu for writing.
func (l *Log) deleteOldestLocked(n int, reason string) error {
	n = min(n, len(l.segs)-1)
	for n > 0 {
		s := l.segs[0]
		newStart := max(l.logStart.Load(), l.segs[1].base)
		// Publish the new start before the files go, so no reader is
		// pointed at a removed segment.
		l.logStart.Store(newStart)
		l.segs = l.segs[1:]
		l.size -= s.size
		l.dropUnsynced(s)
		l.hints.clear()
		l.markDirDirty()
		l.logger.Info("deleting segment", "segment", s.prefix, "reason", reason, "logStartOffset", newStart)
		if err := s.remove(); err != nil {
			return err
		}
		n--
	}
	if l.epochs.truncateFromStart(l.logStart.Load()) {
		return l.epochs.persist()
	}
	return nil
}

func (l *Log) dropUnsynced(s *segment) {
	for i, u := range l.unsynced {
		if u == s {
			l.unsynced = append(l.unsynced[:i:i], l.unsynced[i+1:]...)
			return
		}
	}
}

// DeleteRecordsBefore moves the log start offset to offset (DeleteRecords) and
// removes segments entirely below it.
//
// The new start is checkpointed (fsynced) before any file is removed, so it
// survives a restart. offset above highWatermark (the caller's high
// watermark; the log start never passes it) or above LogEndOffset is
// ErrOffsetOutOfRange, as Kafka answers; an offset at or below the current
// start is a no-op. Records below the start
// that share a segment (or a batch) with later ones stay on disk but are
// not readable.
func (l *Log) DeleteRecordsBefore(offset, highWatermark int64) error {
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	end := l.active().next
	if offset > end {
		return fmt.Errorf("%w: delete before %d beyond log end %d", ErrOffsetOutOfRange, offset, end)
	}
	if offset > highWatermark {
		return fmt.Errorf("%w: delete before %d beyond high watermark %d", ErrOffsetOutOfRange, offset, highWatermark)
	}
	if offset <= l.logStart.Load() {
		return nil
	}
	if err := writeStartCheckpoint(filepath.Join(l.dir, startCheckpoint), offset); err != nil {
		return err
	}
	l.logStart.Store(offset)
	l.hints.clear()
	n := 0
	for n+1 < len(l.segs) && l.segs[n+1].base <= offset {
		n++
	}
	return l.deleteOldestLocked(n, "delete records")
}

// TruncateTo removes everything at and above offset (follower divergence).
//
// The cut is at a batch boundary: a batch containing offset is removed
// whole, so LogEndOffset afterwards may be below offset (Kafka truncates to
// epoch boundaries, which are batch boundaries, so this does not arise in
// practice). An offset at or above the log end is a no-op; one below the log
// start empties the log and restarts it at offset, as Kafka's
// truncateFullyAndStartAt. Leader epochs starting at or after the new end
// are dropped.
func (l *Log) TruncateTo(offset int64) error {
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if offset >= l.active().next {
		return nil
	}
	l.hints.clear()
	l.cleaner.lowerFirstDirty(offset)
	if offset < l.logStart.Load() || offset < l.segs[0].base {
		l.logger.Info("truncating fully", "offset", offset)
		return l.truncateFullyLocked(max(offset, 0))
	}
	if err := l.removeSegmentsAfterLocked(l.segmentFor(offset)); err != nil {
		return err
	}
	if err := l.cutActiveLocked(offset); err != nil {
		return err
	}
	if err := l.active().txnTruncate(l.fs, l.active().next); err != nil {
		return err
	}
	l.dirtied()
	return l.publishTruncatedEndLocked(l.active().next)
}

// removeSegmentsAfterLocked removes, newest first, every segment after
// segs[k], which holds the truncation point: later segments lie wholly above
// it. If a removal fails, the log end is republished from the segments that
// remain. Caller holds fileMu and mu for writing.
func (l *Log) removeSegmentsAfterLocked(k int) error {
	for len(l.segs) > k+1 {
		s := l.active()
		l.segs = l.segs[:len(l.segs)-1]
		l.size -= s.size
		l.dropUnsynced(s)
		l.markDirDirty()
		if err := s.remove(); err != nil {
			l.logEnd.Store(l.active().next)
			return err
		}
	}
	return nil
}

// cutActiveLocked cuts the (now last) segment at the start of the batch
// holding offset. It rescans the batches kept after the last index entry
// below the cut, so the indexes and the segment's next offset match the
// shortened file, and rewrites the indexes. A failed truncate or index
// write leaves file and memory apart, so it fails the log (l.failed).
// Caller holds fileMu and mu for writing.
func (l *Log) cutActiveLocked(offset int64) error {
	s := l.active()
	l.dropUnsynced(s)
	cut, err := s.findPos(l.fs, offset)
	if err != nil {
		return err
	}
	if !s.active {
		if ok, err := s.activate(l.fs); err != nil {
			return err
		} else if !ok {
			s.idx, s.tidx = nil, nil
		}
	}
	keep := 0
	for keep < len(s.idx) && int64(s.idx[keep].pos) < cut {
		keep++
	}
	oldSize := s.size
	interval := int64(l.config().IndexIntervalBytes)
	_, err = s.rescan(keep, cut, false, interval)
	if errors.Is(err, errIndexMismatch) {
		_, err = s.rescan(0, cut, false, interval)
	}
	if err != nil {
		return err
	}
	l.size -= oldSize - s.size
	if err := s.log.Truncate(s.size); err != nil {
		l.failed = ioErr("truncate segment "+s.prefix, err)
		return l.failed
	}
	if err := s.rewriteIndexes(); err != nil {
		l.failed = err
		return err
	}
	return nil
}

// publishTruncatedEndLocked makes end the log end after a truncation. A log
// start above it follows it down (checkpointed, so a restart agrees), and
// leader epochs that begin at or after end are dropped. Caller holds mu.
func (l *Log) publishTruncatedEndLocked(end int64) error {
	l.logEnd.Store(end)
	if err := l.lowerRecoveryPointLocked(end); err != nil {
		return err
	}
	if l.logStart.Load() > end {
		l.logStart.Store(end)
		if err := writeStartCheckpoint(filepath.Join(l.dir, startCheckpoint), end); err != nil {
			return err
		}
	}
	if l.epochs.truncateFromEnd(end) {
		return l.epochs.persist()
	}
	return nil
}

// TruncateFullyAndStartAt deletes every segment and restarts the log, empty,
// at offset: log start = log end = offset. A follower uses it when the
// leader no longer has the offsets it needs (its fetch offset is below the
// leader's log start), as Kafka's truncateFullyAndStartAt. The epoch
// history is cleared.
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("%w: negative offset %d", ErrOffsetOutOfRange, offset)
	}
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.checkWritable(); err != nil {
		return err
	}
	l.logger.Info("truncating fully", "newStart", offset)
	l.cleaner.lowerFirstDirty(offset)
	return l.truncateFullyLocked(offset)
}
