package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Log is one partition's segmented log. All methods are safe for concurrent use.
//
// Locking (see also doc.go): fileMu is taken before mu. Appends and reads
// take only mu (write / read). Sync holds fileMu for reading while it
// fsyncs, without mu, so appends continue during an fsync; operations that
// close or delete segment files (TruncateTo, retention, DeleteRecordsBefore,
// Close) take fileMu for writing first so they never close a file under an
// in-flight fsync. gc.mu (group commit) is never held while taking another lock.
type Log struct {
	dir    string
	logger *slog.Logger
	fs     fileSystem
	now    func() time.Time

	cfg atomic.Pointer[Config]

	fileMu sync.RWMutex
	mu     sync.RWMutex
	// txnMu guards the segments' aborted-transaction index state (txnindex.go)
	// for holders of mu for reading; taken after mu.
	txnMu sync.Mutex

	// Guarded by mu.
	segs     []*segment // sorted by base offset; the last is active
	size     int64
	epochs   epochCache
	closed   bool
	failed   error      // sticky: a failed fsync or failed rollback; appends refuse
	writeGen uint64     // incremented by every successful append and directory change
	unsynced []*segment // rolled segments whose .log has not been fsynced
	dirDirty bool       // directory entries created/removed since the last Sync
	// loadingClean: Open is loading a log whose previous Close was clean
	// (see trackingFS).
	loadingClean atomic.Bool
	// recoveryPoint: every batch below it is fsynced (advanced by Sync,
	// lowered by truncation). rpSaved is the value in the recovery point
	// checkpoint file (-1: none), never above the log end.
	recoveryPoint int64
	rpSaved       int64
	// cleanOpen: Open found the clean shutdown marker. Set once by load.
	cleanOpen bool

	// Mirrors of state guarded by mu, for lock-free hot-path reads.
	logStart atomic.Int64
	logEnd   atomic.Int64

	hints readHints // where recent reads stopped (read.go)
	// sliceCopyMax is SliceCopyMax; tests set 0 to take the sendfile path
	// with small logs.
	sliceCopyMax int64

	// rpEvery is how long after a move the recovery point is checkpointed
	// (Kafka's log.flush.offset.checkpoint.interval.ms).
	rpEvery time.Duration

	gc     groupCommit
	timers flushTimers

	cleaner cleanerState // log compaction (cleaner.go)
}

// Open opens (creating if needed) the log in dir, recovering the active
// segment's tail and rebuilding missing/corrupt indexes (rules in doc.go).
// A nil logger discards log output.
func Open(dir string, cfg Config, logger *slog.Logger) (*Log, error) {
	return openLog(dir, cfg, logger, osFS{})
}

// OpenShared is Open with the log's segment and index files opened through
// files, which bounds the descriptors held by all the logs sharing it (see
// FileCache). A nil files is Open.
func OpenShared(dir string, cfg Config, logger *slog.Logger, files *FileCache) (*Log, error) {
	if files == nil {
		return Open(dir, cfg, logger)
	}
	return openLog(dir, cfg, logger, files)
}

func openLog(dir string, cfg Config, logger *slog.Logger, fsys fileSystem) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.normalized()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, ioErr("create log dir", err)
	}
	l := &Log{
		dir:     dir,
		logger:  logger.With("log", dir),
		now:     time.Now,
		epochs:  epochCache{path: filepath.Join(dir, epochCheckpoint)},
		rpEvery: recoveryCheckpointInterval,

		sliceCopyMax: SliceCopyMax,
	}
	l.fs = trackingFS{fileSystem: fsys, clean: &l.loadingClean}
	l.cfg.Store(&cfg)
	l.gc.cond.L = &l.gc.mu
	// No timer may fire while load works on the log without locks: they
	// are armed once it is done.
	l.timers.stopped = true
	if err := l.load(); err != nil {
		for _, s := range l.segs {
			s.close()
		}
		return nil, err
	}
	l.timers.mu.Lock()
	l.timers.stopped = false
	l.timers.mu.Unlock()
	if l.writeGen > 0 {
		l.armFlush() // recovery created files or queued rechecked segments
	}
	// Recovery may have moved the recovery point (a clean shutdown).
	if l.recoveryPoint > max(l.rpSaved, 0) {
		l.armCheckpoint()
	}
	return l, nil
}

// load reads the directory and recovers the log. Called once by Open.
func (l *Log) load() error {
	if err := l.recoverCleanerFiles(); err != nil {
		return err
	}
	if err := l.loadCleanerCheckpoint(); err != nil {
		return err
	}
	bases, err := l.listSegments()
	if err != nil {
		return err
	}
	clean, err := l.takeCleanMarker()
	if err != nil {
		return err
	}
	// The files opened while loading a cleanly closed log need no fsync
	// until they are written (trackingFS).
	l.loadingClean.Store(clean)
	defer l.loadingClean.Store(false)
	// After an unclean stop, entries the crashed process created may not be
	// durable yet: the next Sync or Close fsyncs the directory whatever
	// this process changes.
	l.dirDirty = !clean
	// A log without segments (a new partition) has nothing an unclean stop
	// could have cost it.
	l.cleanOpen = clean || len(bases) == 0
	startCk, err := readStartCheckpoint(filepath.Join(l.dir, startCheckpoint))
	if err != nil {
		return err
	}
	if err := l.epochs.load(); err != nil {
		return err
	}
	rp := l.readRecoveryPoint()
	if err := l.openSegments(bases, startCk); err != nil {
		return err
	}
	if err := l.recoverSegments(clean, rp); err != nil {
		return err
	}
	if err := l.settleOffsets(startCk); err != nil {
		return err
	}
	end := l.active().next
	l.recoveryPoint = min(rp, end)
	if clean {
		l.recoveryPoint = end // Close fsynced everything
	}
	return l.lowerRecoveryPointLocked(end) // a checkpoint ahead of the data
}

// readRecoveryPoint reads the recovery point checkpoint into rpSaved and
// returns it; with none (a log written before recovery points existed) or
// an unreadable one it returns 0, so that an unclean stop rechecks the whole
// log.
func (l *Log) readRecoveryPoint() int64 {
	l.rpSaved = -1
	path := filepath.Join(l.dir, recoveryCheckpoint)
	rp, err := readStartCheckpoint(path) // the same one-offset format
	if err != nil {
		l.logger.Warn("ignoring unreadable recovery point checkpoint", "err", err)
		return 0
	}
	l.rpSaved = rp
	return max(rp, 0)
}

// listSegments returns the base offsets of the directory's segments in
// ascending order. On the way it removes what an interrupted write left
// behind: temporary files, and index files whose .log is gone (a segment
// deleted between its log and its indexes), so they cannot be mistaken for
// a segment's indexes later.
func (l *Log) listSegments() ([]int64, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, ioErr("read log dir", err)
	}
	var bases []int64
	logs := map[string]bool{}
	for _, e := range entries {
		if base, ok := parseSegmentName(e.Name()); ok {
			bases = append(bases, base)
			logs[strings.TrimSuffix(e.Name(), logSuffix)] = true
		}
	}
	for _, e := range entries {
		name := e.Name()
		stem := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, indexSuffix), timeIndexSuffix), txnIndexSuffix)
		orphan := stem != name && len(stem) == 20 && !logs[stem]
		if strings.HasSuffix(name, tmpSuffix) || orphan {
			if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
				return nil, ioErr("remove leftover file", err)
			}
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	return bases, nil
}

// takeCleanMarker reports whether the previous Close fsynced everything
// (it left the clean shutdown marker). The marker is renamed away (durably)
// before anything else is written, so a crash from now on leads to a full
// recovery scan next time.
func (l *Log) takeCleanMarker() (bool, error) {
	err := os.Rename(filepath.Join(l.dir, cleanShutdownFile), filepath.Join(l.dir, openMarkerFile))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return true, ioErr("take clean shutdown marker", err)
	}
	if err := syncDir(l.dir); err != nil {
		return true, ioErr("sync log dir", err)
	}
	return true, nil
}

// openSegments opens the .log file of every segment in bases. Segments
// wholly below the checkpointed log start startCk are leftovers of an
// interrupted DeleteRecordsBefore and are removed instead of kept.
func (l *Log) openSegments(bases []int64, startCk int64) error {
	for _, base := range bases {
		s, err := openSegmentLog(l.fs, l.dir, base)
		if err != nil {
			return err
		}
		l.segs = append(l.segs, s)
	}
	for len(l.segs) > 1 && startCk >= l.segs[1].base {
		if err := l.segs[0].remove(); err != nil {
			return err
		}
		l.segs = l.segs[1:]
	}
	return nil
}

// recoverSegments checks every opened segment: the active (last) one is
// rescanned by recoverActive, as deep as clean allows. An inactive one is
// trusted, and only has its indexes rebuilt when they are missing or
// inconsistent, if it was fsynced: after a clean shutdown, or when it lies
// wholly below the recovery point rp. After an unclean stop a rolled
// segment holding offsets at or above rp may not have reached the disk
// whole, so it is CRC-checked batch by batch like the active one; if it is
// cut short, every later segment goes and it becomes the active segment.
func (l *Log) recoverSegments(clean bool, rp int64) error {
	cfg := l.config()
	for i := 0; i < len(l.segs); i++ {
		s := l.segs[i]
		if i == len(l.segs)-1 {
			return l.recoverActive(s, cfg, clean)
		}
		s.next = l.segs[i+1].base
		if !clean && s.next > rp {
			cut, err := l.recheckUnflushed(s, cfg)
			if err != nil {
				return err
			}
			if cut {
				// Later segments lie beyond a hole: drop them, as Kafka's
				// recovery does, and go on appending to this one.
				for len(l.segs) > i+1 {
					if err := l.active().remove(); err != nil {
						return err
					}
					l.segs = l.segs[:len(l.segs)-1]
				}
				l.markDirDirty()
				l.unsynced = slices.DeleteFunc(l.unsynced, func(u *segment) bool { return u == s })
				return l.recoverActive(s, cfg, false)
			}
			continue
		}
		if !s.checkInactiveIndexes(l.fs) {
			l.logger.Warn("rebuilding segment indexes", "segment", s.prefix)
			if _, err := l.rebuildInactive(s, cfg); err != nil {
				return err
			}
		}
	}
	return nil
}

// recheckUnflushed CRC-checks a rolled segment that may hold unflushed
// data (see recoverSegments) and reports whether it was cut at a bad batch.
// A sound one is queued for the next Sync: after a process crash its data
// may still be only in the page cache.
func (l *Log) recheckUnflushed(s *segment, cfg Config) (cut bool, err error) {
	began := time.Now()
	if cut, err = l.rebuildInactive(s, cfg); err != nil || cut {
		return cut, err
	}
	l.unsynced = append(l.unsynced, s)
	l.logger.Info("rechecked segment above the recovery point after unclean shutdown", "segment", s.prefix,
		"bytes", s.size, "took", time.Since(began))
	return false, nil
}

// settleOffsets finishes recovery once the segments are sound: it creates
// the first segment of an empty log (at the checkpointed start), publishes
// size, log start and log end, and trims the leader epoch cache to the
// offsets the log really holds, persisting it only if that changed it.
func (l *Log) settleOffsets(startCk int64) error {
	if len(l.segs) == 0 {
		s, err := createSegment(l.fs, l.dir, max(startCk, 0), l.now())
		if err != nil {
			return err
		}
		l.segs = []*segment{s}
		l.markDirDirty()
	}
	for _, s := range l.segs {
		l.size += s.size
	}
	start := max(startCk, l.segs[0].base)
	end := l.active().next
	l.logEnd.Store(end)
	l.logStart.Store(start)
	if start > end {
		// The checkpoint is ahead of the data (e.g. DeleteRecords up to the
		// end, then the tail was lost): start an empty log at start, as Kafka.
		l.logger.Warn("log start offset beyond log end; starting empty", "logStart", start, "logEnd", end)
		return l.truncateFullyLocked(start)
	}
	changed := l.epochs.truncateFromEnd(end)
	changed = l.epochs.truncateFromStart(start) || changed
	if changed {
		return l.epochs.persist()
	}
	return nil
}

// recoverActive is recovery for the last segment: load its indexes, rescan
// batches (with CRC) from the last index entry after a clean shutdown, or
// from the start after a crash, truncate at the first torn or corrupt batch
// and bring the index files up to date.
//
// Why the whole segment after a crash: data written since the last fsync
// may reach the disk out of order after a power loss (a hole of zeros
// followed by intact pages, and index entries pointing past the hole).
// Only a scan from a known-good point finds the first hole.
func (l *Log) recoverActive(s *segment, cfg Config, clean bool) error {
	fileSize := s.size
	ok, err := s.activate(l.fs)
	if err != nil {
		return err
	}
	keep := 0
	if ok && clean {
		keep = len(s.idx)
	}
	began := time.Now()
	interval := int64(cfg.IndexIntervalBytes)
	corrupt, err := s.rescan(keep, fileSize, true, interval)
	if errors.Is(err, errIndexMismatch) {
		l.logger.Warn("offset index does not match segment; rescanning it fully", "segment", s.prefix)
		corrupt, err = s.rescan(0, fileSize, true, interval)
	}
	if err != nil {
		return err
	}
	if s.size < fileSize {
		l.logger.Warn("truncating torn or corrupt segment tail", "segment", s.prefix,
			"from", fileSize, "to", s.size, "reason", fmt.Sprint(corrupt))
		if err := s.log.Truncate(s.size); err != nil {
			return ioErr("truncate segment "+s.prefix, err)
		}
	}
	// Only what the files lack is written: after a clean stop they already
	// hold every entry the rescan found again, and a rewrite would cost
	// two writes and, at Close, two fsyncs per partition.
	if err := s.flushIndexes(); err != nil {
		return err
	}
	if !clean {
		l.logger.Info("recovered active segment after unclean shutdown", "segment", s.prefix,
			"bytes", s.size, "took", time.Since(began))
	}
	s.rollAt = l.now()
	if s.size > 0 {
		var buf [batchHeaderSize]byte
		if h, err := s.headerAt(0, buf[:]); err == nil && h.MaxTimestamp >= 0 && h.MaxTimestamp < s.rollAt.UnixMilli() {
			s.rollAt = time.UnixMilli(h.MaxTimestamp)
		}
	}
	return nil
}

// rebuildInactive regenerates the indexes of an inactive segment (whose
// index files are missing or inconsistent, or whose data may be unflushed).
// The data is also CRC-checked while at it; anything after a bad batch is
// cut (and logged), as Kafka's recovery does, and cut reports it. A segment
// that was not cut keeps the offsets up to the next segment's base.
func (l *Log) rebuildInactive(s *segment, cfg Config) (cut bool, err error) {
	fileSize := s.size
	if _, err := s.activate(l.fs); err != nil {
		return false, err
	}
	s.idx, s.tidx = nil, nil
	next := s.next
	corrupt, err := s.rescan(0, fileSize, true, int64(cfg.IndexIntervalBytes))
	if err != nil {
		return false, err
	}
	if cut = s.size < fileSize; cut {
		l.logger.Warn("truncating corrupt inactive segment", "segment", s.prefix,
			"from", fileSize, "to", s.size, "reason", fmt.Sprint(corrupt))
		if err := s.log.Truncate(s.size); err != nil {
			return cut, ioErr("truncate segment "+s.prefix, err)
		}
	}
	if s.next < next {
		s.next = next // offsets up to the next segment's base stay assigned
	}
	if err := s.rewriteIndexes(); err != nil {
		return cut, err
	}
	return cut, s.deactivate(false)
}

// truncateFullyLocked deletes every segment and starts an empty log at off.
// Caller holds mu (and fileMu once the log is open).
func (l *Log) truncateFullyLocked(off int64) error {
	for i := len(l.segs) - 1; i >= 0; i-- {
		if err := l.segs[i].remove(); err != nil {
			l.segs = l.segs[:i+1]
			return err
		}
	}
	l.segs, l.unsynced, l.size = nil, nil, 0
	s, err := createSegment(l.fs, l.dir, off, l.now())
	if err != nil {
		return err
	}
	l.segs = []*segment{s}
	l.markDirDirty()
	l.hints.clear()
	l.logEnd.Store(off)
	l.logStart.Store(off)
	l.epochs.entries = nil
	if err := l.epochs.persist(); err != nil {
		return err
	}
	if err := l.lowerRecoveryPointLocked(off); err != nil {
		return err
	}
	return writeStartCheckpoint(filepath.Join(l.dir, startCheckpoint), off)
}

// lowerRecoveryPointLocked keeps the recovery point, in memory and in its
// checkpoint, at or below end, the log end after a truncation: offsets from
// end on will be written again, and must be rechecked after a crash until a
// Sync covers them. Caller holds mu (and fileMu once the log is open).
func (l *Log) lowerRecoveryPointLocked(end int64) error {
	l.recoveryPoint = min(l.recoveryPoint, end)
	if l.rpSaved > end {
		return l.saveRecoveryPointLocked(end)
	}
	return nil
}

// saveRecoveryPointLocked writes rp to the recovery point checkpoint
// (atomically, fsynced). Caller holds mu, or fileMu for reading (which keeps
// truncations, the only writers below a saved value, out).
func (l *Log) saveRecoveryPointLocked(rp int64) error {
	if err := writeRecoveryCheckpoint(filepath.Join(l.dir, recoveryCheckpoint), rp); err != nil {
		return err
	}
	l.rpSaved = rp
	return nil
}

// markDirDirty records a created or removed file, so that the next Sync
// fsyncs the directory. Caller holds mu.
func (l *Log) markDirDirty() {
	l.dirDirty = true
	l.dirtied()
}

func (l *Log) active() *segment { return l.segs[len(l.segs)-1] }

func (l *Log) config() Config { return *l.cfg.Load() }

// LogStartOffset is the first readable offset.
func (l *Log) LogStartOffset() int64 { return l.logStart.Load() }

// LogEndOffset is the offset the next appended record will get.
func (l *Log) LogEndOffset() int64 { return l.logEnd.Load() }

// Size is the total bytes in all segments.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.size
}

// CleanShutdown reports whether Open found the log cleanly closed (every
// write fsynced by Close). False means an unclean stop: a crash, kill -9 or
// power loss, after which writes not yet fsynced may be gone (recovery cut
// the log at the first bad batch). It does not change while the log is open.
func (l *Log) CleanShutdown() bool { return l.cleanOpen }

// Dir is the directory holding the log's files.
func (l *Log) Dir() string { return l.dir }

// EndOffsetForEpoch answers OffsetForLeaderEpoch: the largest epoch <= epoch
// known to the log and the end offset of that epoch. (-1,-1) if unknown
// (no epochs recorded, or a negative epoch). An epoch at or above the latest
// answers (latest, LogEndOffset); an epoch below the first known one answers
// (epoch, first epoch's start offset), as Kafka does after retention removed
// the older history.
func (l *Log) EndOffsetForEpoch(epoch int32) (int32, int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epochs.endOffsetFor(epoch, l.logEnd.Load())
}

// SetConfig applies a new configuration (topic config change). Zero fields
// take defaults; an unknown fsync policy keeps the current one (and is
// logged). Segment size/time limits apply from the next append, retention
// limits at the next EnforceRetention, the flush interval from the next
// scheduled flush.
func (l *Log) SetConfig(cfg Config) {
	if err := cfg.Validate(); err != nil {
		l.logger.Warn("ignoring invalid fsync policy", "err", err)
		cfg.Fsync = l.config().Fsync
	}
	cfg = cfg.normalized()
	l.cfg.Store(&cfg)
	l.armFlush() // a switch to FsyncInterval flushes what is dirty
}

// Close flushes and closes files. It fsyncs the log regardless of the fsync
// policy, so a clean shutdown never needs tail recovery. Closing twice
// returns ErrClosed.
func (l *Log) Close() error {
	l.fileMu.Lock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		l.fileMu.Unlock()
		return ErrClosed
	}
	l.closed = true
	var err error
	if l.failed == nil {
		err = l.syncFilesLocked()
		if err == nil && l.rpSaved != l.active().next {
			l.recoveryPoint = l.active().next
			err = l.saveRecoveryPointLocked(l.recoveryPoint)
		}
		if err == nil {
			err = l.writeCleanMarker()
		}
	}
	for _, s := range l.segs {
		s.close()
	}
	l.mu.Unlock()
	l.fileMu.Unlock()
	l.timers.stop()
	return err
}

// syncFilesLocked fsyncs everything dirty while holding mu (Close only).
func (l *Log) syncFilesLocked() error {
	files := append([]*segment{}, l.unsynced...)
	files = append(files, l.active())
	for _, s := range files {
		if err := s.log.Sync(); err != nil {
			return ioErr("sync segment "+s.prefix, err)
		}
	}
	// A transaction index written since its last fsync may have been
	// created then, and creating one does not mark the directory dirty.
	dirDirty := l.dirDirty
	for _, s := range l.segs {
		dirDirty = dirDirty || s.txn.dirty
	}
	if err := l.syncTxnIndexesLocked(); err != nil {
		return err
	}
	s := l.active()
	if err := s.flushIndexes(); err != nil {
		return err
	}
	if err := s.idxFile.Sync(); err != nil {
		return ioErr("sync index", err)
	}
	if err := s.tidxFile.Sync(); err != nil {
		return ioErr("sync time index", err)
	}
	// Skipped when no entry changed: with thousands of idle partitions, a
	// directory fsync each was most of a broker's stop.
	if dirDirty {
		if err := syncDir(l.dir); err != nil {
			return ioErr("sync log dir", err)
		}
	}
	l.unsynced, l.dirDirty = nil, false
	return nil
}

// writeCleanMarker records a clean shutdown (after everything was fsynced),
// so the next Open only checks the tail of the active segment.
func (l *Log) writeCleanMarker() error {
	marker := filepath.Join(l.dir, cleanShutdownFile)
	err := os.Rename(filepath.Join(l.dir, openMarkerFile), marker)
	if errors.Is(err, os.ErrNotExist) { // a new log, or one that stopped uncleanly
		var f *os.File
		if f, err = os.Create(marker); err == nil {
			err = f.Close()
		}
	}
	if err == nil {
		err = syncDir(l.dir)
	}
	if err != nil {
		return ioErr("write clean shutdown marker", err)
	}
	return nil
}

// Delete closes the log and removes its directory.
func (l *Log) Delete() error {
	if err := l.Close(); err != nil && !errors.Is(err, ErrClosed) {
		l.logger.Warn("closing log before delete", "err", err)
	}
	if err := os.RemoveAll(l.dir); err != nil {
		return ioErr("delete log dir", err)
	}
	return nil
}

// checkWritable returns the reason appends are refused, if any. Caller holds mu.
func (l *Log) checkWritable() error {
	if l.closed {
		return ErrClosed
	}
	if l.failed != nil {
		return fmt.Errorf("%w: log failed earlier: %w", ErrStorage, l.failed)
	}
	return nil
}
