package storage

import (
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// groupCommit coalesces concurrent Sync calls: one caller (the leader) runs
// the fsync while the others wait on cond; every waiter whose writes were
// covered by that fsync returns without doing its own. Writes are numbered by
// Log.writeGen; synced is the highest generation known to be durable.
type groupCommit struct {
	mu      sync.Mutex
	cond    sync.Cond // L is &mu
	running bool
	synced  uint64
}

// sync returns once generation target is durable, running do (which
// returns the generation it made durable) at most once per round.
func (g *groupCommit) sync(target uint64, do func() (uint64, error)) error {
	g.mu.Lock()
	for {
		if g.synced >= target {
			g.mu.Unlock()
			return nil
		}
		if !g.running {
			break
		}
		g.cond.Wait()
	}
	g.running = true
	g.mu.Unlock()

	gen, err := do()

	g.mu.Lock()
	g.running = false
	if err == nil && gen > g.synced {
		g.synced = gen
	}
	g.cond.Broadcast()
	g.mu.Unlock()
	return err
}

func (g *groupCommit) syncedGen() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.synced
}

// Sync forces appended data to disk; concurrent callers are coalesced into
// one fsync (group commit). It returns once every append that completed
// before the call is durable: the .log files written since the last Sync
// (including segments rolled since) and the directory entries are fsynced.
//
// An fsync failure is sticky: the page cache may have dropped the dirty
// pages (Linux marks them clean after EIO), so later Syncs cannot prove
// durability. The log then refuses appends and Syncs with ErrStorage; reads
// keep working. Reopening the log recovers from what is on disk.
func (l *Log) Sync() error {
	l.mu.RLock()
	if err := l.checkWritable(); err != nil {
		l.mu.RUnlock()
		return err
	}
	target := l.writeGen
	l.mu.RUnlock()
	if target == 0 {
		return nil
	}
	return l.gc.sync(target, l.doSync)
}

// doSync is the fsync round run by the group-commit leader.
func (l *Log) doSync() (uint64, error) {
	l.fileMu.RLock()
	defer l.fileMu.RUnlock()

	l.mu.RLock()
	if err := l.checkWritable(); err != nil {
		l.mu.RUnlock()
		return 0, err
	}
	gen := l.writeGen
	end := l.logEnd.Load() // everything below it is in the files synced below
	act := l.active()
	// Index files are not fsynced here: the active segment's indexes are
	// rebuilt by recovery, and a rolled segment's were fsynced when it rolled
	// (a roll may close them concurrently, since it holds only mu).
	files := make([]file, 0, len(l.unsynced)+1)
	rolled := append([]*segment(nil), l.unsynced...)
	for _, s := range rolled {
		files = append(files, s.log)
	}
	files = append(files, act.log)
	dirDirty := l.dirDirty
	l.mu.RUnlock()

	// fileMu (read) keeps these files open; mu is free so appends proceed.
	var err error
	for _, f := range files {
		if err = f.Sync(); err != nil {
			err = ioErr("fsync", err)
			break
		}
	}
	if err == nil && dirDirty {
		if derr := syncDir(l.dir); derr != nil {
			err = ioErr("fsync log dir", derr)
		}
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		if l.failed == nil {
			l.failed = err
		}
		return 0, err
	}
	if dirDirty {
		l.dirDirty = false
	}
	if end > l.recoveryPoint {
		l.recoveryPoint = end
		l.armCheckpoint()
	}
	// Drop the rolled segments we synced (they are a prefix of unsynced:
	// segments are only appended to it).
	if len(l.unsynced) >= len(rolled) {
		l.unsynced = l.unsynced[len(rolled):]
	}
	return gen, nil
}

// flushTimers replaces a background goroutine per log: a broker with
// thousands of partitions must not pay a goroutine, a ticker and a wake-up
// per second for each idle one. Timers are armed only when there is work:
// the interval fsync when an append dirties the log (FsyncInterval), the
// recovery point checkpoint when a Sync moved the recovery point. An idle
// log holds no timer at all. Close stops them and waits for a callback in
// progress.
type flushTimers struct {
	armed atomic.Bool // flush != nil; lets appends skip mu when a flush is already pending

	mu      sync.Mutex
	stopped bool
	flush   *time.Timer    // pending interval fsync, nil if none
	ck      *time.Timer    // pending recovery point checkpoint, nil if none
	running sync.WaitGroup // callbacks in progress; Add only under mu while !stopped
}

// dirtied records a change that a Sync must cover (an append, a created or
// removed file, a truncation) and, under FsyncInterval, makes sure a flush
// is scheduled. Caller holds mu for writing.
func (l *Log) dirtied() {
	l.writeGen++
	l.armFlush()
}

// armFlush schedules an interval fsync FlushInterval from now unless one is
// pending or the policy is not FsyncInterval.
func (l *Log) armFlush() {
	if l.timers.armed.Load() {
		return
	}
	cfg := l.config()
	if cfg.Fsync != FsyncInterval {
		return
	}
	t := &l.timers
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped || t.flush != nil {
		return
	}
	t.flush = time.AfterFunc(cfg.FlushInterval, l.onFlushTimer)
	t.armed.Store(true)
}

// armCheckpoint schedules a recovery point checkpoint rpEvery from now
// unless one is pending.
func (l *Log) armCheckpoint() {
	t := &l.timers
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped || t.ck != nil {
		return
	}
	t.ck = time.AfterFunc(l.rpEvery, l.onCheckpointTimer)
}

// begin marks a timer callback as running; false once the log is closing.
// clear drops the fired timer so that the next change arms a new one.
func (t *flushTimers) begin(clear func()) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	clear()
	t.running.Add(1)
	return true
}

// stop cancels pending timers and waits for a callback in progress. Called
// by Close without holding fileMu or mu (callbacks take them).
func (t *flushTimers) stop() {
	t.mu.Lock()
	t.stopped = true
	for _, tm := range []*time.Timer{t.flush, t.ck} {
		if tm != nil {
			tm.Stop()
		}
	}
	t.flush, t.ck = nil, nil
	t.mu.Unlock()
	t.running.Wait()
}

// onFlushTimer is the interval fsync. Appends made while it runs arm the
// next one (armed is cleared before the Sync).
func (l *Log) onFlushTimer() {
	t := &l.timers
	if !t.begin(func() { t.flush = nil; t.armed.Store(false) }) {
		return
	}
	defer t.running.Done()
	if l.config().Fsync != FsyncInterval || !l.dirty() {
		return
	}
	if err := l.Sync(); err != nil && !errors.Is(err, ErrClosed) {
		l.logger.Error("background flush failed", "err", err)
	}
}

// onCheckpointTimer writes the recovery point checkpoint if it moved.
func (l *Log) onCheckpointTimer() {
	t := &l.timers
	if !t.begin(func() { t.ck = nil }) {
		return
	}
	defer t.running.Done()
	if err := l.checkpointRecoveryPoint(); err != nil && !errors.Is(err, ErrClosed) {
		l.logger.Warn("recovery point checkpoint failed", "err", err)
	}
}

// dirty reports whether appends happened since the last successful Sync.
func (l *Log) dirty() bool {
	l.mu.RLock()
	gen := l.writeGen
	l.mu.RUnlock()
	return gen > l.gc.syncedGen()
}

// recoveryCheckpointInterval is how often a moved recovery point is
// checkpointed (Kafka's log.flush.offset.checkpoint.interval.ms). A stale
// checkpoint only makes recovery after an unclean stop recheck more.
const recoveryCheckpointInterval = time.Minute

// checkpointRecoveryPoint writes the recovery point to its checkpoint file
// if it moved since the last write.
func (l *Log) checkpointRecoveryPoint() error {
	l.fileMu.RLock()
	defer l.fileMu.RUnlock()
	l.mu.RLock()
	rp, saved, closed := l.recoveryPoint, l.rpSaved, l.closed
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if rp == saved {
		return nil
	}
	// fileMu (read) keeps truncations, which lower rpSaved, out; mu is free
	// so appends proceed during the fsyncs.
	if err := writeRecoveryCheckpoint(filepath.Join(l.dir, recoveryCheckpoint), rp); err != nil {
		return err
	}
	l.mu.Lock()
	l.rpSaved = rp
	l.mu.Unlock()
	return nil
}
