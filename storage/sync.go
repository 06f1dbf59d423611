package storage

import (
	"errors"
	"path/filepath"
	"sync"
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
	l.recoveryPoint = max(l.recoveryPoint, end)
	// Drop the rolled segments we synced (they are a prefix of unsynced:
	// segments are only appended to it).
	if len(l.unsynced) >= len(rolled) {
		l.unsynced = l.unsynced[len(rolled):]
	}
	return gen, nil
}

// flusher is the FsyncInterval background goroutine, owned by the Log and
// stopped by Close. It re-reads the config on every change, so SetConfig can
// switch policies at runtime.
func (l *Log) flusher() {
	defer l.wg.Done()
	ck := time.NewTicker(l.rpEvery)
	defer ck.Stop()
	for {
		cfg := l.config()
		var tick <-chan time.Time
		var timer *time.Timer
		if cfg.Fsync == FsyncInterval {
			timer = time.NewTimer(cfg.FlushInterval)
			tick = timer.C
		}
		select {
		case <-l.stop:
			if timer != nil {
				timer.Stop()
			}
			return
		case <-l.cfgChanged:
			if timer != nil {
				timer.Stop()
			}
		case <-ck.C:
			if timer != nil {
				timer.Stop()
			}
			if err := l.checkpointRecoveryPoint(); err != nil && !errors.Is(err, ErrClosed) {
				l.logger.Warn("recovery point checkpoint failed", "err", err)
			}
		case <-tick:
			if l.dirty() {
				if err := l.Sync(); err != nil && !errors.Is(err, ErrClosed) {
					l.logger.Error("background flush failed", "err", err)
				}
			}
		}
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
