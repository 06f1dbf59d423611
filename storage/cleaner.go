package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// Log compaction (Kafka's LogCleaner), one pass over one log:
//
//  1. plan: under mu (read), the inactive segments, the first dirty offset
//     (cleaner-offset-checkpoint) and the first uncleanable offset: the
//     active segment's base, the caller's bound (the last stable offset,
//     itself at most the high watermark), and the first segment younger
//     than min.compaction.lag.ms.
//  2. scanTxns reads the markers of [log start, end): aborted
//     transactions, producers' last batches, and end lowered below any
//     transaction still open there (cleaner_txn.go).
//  3. buildMap: the keys of the dirty section [firstDirty, end) go into the
//     fixed-size offsetMap, key → latest offset. If it fills, the pass
//     stops there ("clean what fits"); the rest is dirty for the next pass.
//  4. rewrite: every segment below the map's end is copied, batch by batch,
//     into new segments (".cleaned" files), grouped up to segment.bytes, a
//     record kept unless a later record has its key, it belongs to an
//     aborted transaction, or it is a tombstone past its batch's delete
//     horizon (KIP-534, stamped by the first pass that kept it); markers go
//     once their transaction's data is gone and their own horizon passed.
//     Rebuilt batches keep their compression. Each group is then swapped
//     in (swap.go).
//  5. the first dirty offset moves to the map's end and is checkpointed.
//
// Readers never see a half-written segment: the new files get their final
// names only under the log's locks, and a reader holding the old file
// (sendfile in flight) keeps its descriptor to the old inode.

// cleanerState is the per-log state of compaction.
type cleanerState struct {
	firstDirty  atomic.Int64              // first offset not yet cleaned (cleaner-offset-checkpoint)
	busy        atomic.Bool               // a cleaner goroutine works on this log
	uncleanable atomic.Bool               // a pass failed: the background cleaner skips it (CleanNow clears it)
	stuckAt     atomic.Pointer[stuckPlan] // the last background pass's plan, if it made no progress
}

// stuckPlan is the range of a background pass that cleaned nothing.
type stuckPlan struct{ firstDirty, end int64 }

// stuck reports whether p is the range a background pass last failed to
// make progress on: it would fail again (the log is skipped until new data
// or a higher bound changes its plan).
func (c *cleanerState) stuck(p *cleanPlan) bool {
	s := c.stuckAt.Load()
	return s != nil && s.firstDirty == p.firstDirty && s.end == p.end
}

// CleanedAbort is an aborted transaction of which no data is left in the
// log after a clean: only its ABORT marker, at MarkerOffset, which a later
// pass removes once its delete horizon passes. Its entry leaves the
// segment's transaction index with the swap that finds it so
// (carryTxnIndex): a read_committed consumer told of an aborted
// transaction drops its producer's transactional data until it meets the
// ABORT marker, so an entry must not outlive its marker, and it goes a pass
// before the marker does.
type CleanedAbort struct {
	ProducerID   int64
	MarkerOffset int64
}

// lowerFirstDirty moves the first dirty offset down to a truncation point:
// what is appended there again has not been cleaned. (Only in memory: a
// stale checkpoint read back after a crash just leaves records uncleaned
// until the log is truncated or they are superseded again.)
func (c *cleanerState) lowerFirstDirty(off int64) {
	for {
		cur := c.firstDirty.Load()
		if cur <= off || c.firstDirty.CompareAndSwap(cur, off) {
			return
		}
	}
}

// cleanerCheckpoint holds the log's first dirty offset (Kafka keeps one
// cleaner-offset-checkpoint per log directory; Strom one per partition).
const cleanerCheckpoint = "cleaner-offset-checkpoint"

const (
	cleanedSuffix = ".cleaned"
	swapSuffix    = ".swap"
)

// segInfo is a snapshot of an inactive segment taken under mu.
type segInfo struct {
	seg    *segment
	base   int64
	next   int64
	size   int64
	maxTs  int64
	prefix string
}

// cleanPlan is what one pass works on.
type cleanPlan struct {
	cfg        Config
	segs       []segInfo // inactive segments, oldest first
	firstDirty int64
	end        int64 // first uncleanable offset
	dirtyBytes int64
	cleanBytes int64
	mustClean  bool // max.compaction.lag.ms passed for the first dirty segment
}

// ratio is the dirty ratio Kafka compares to min.cleanable.dirty.ratio.
func (p *cleanPlan) ratio() float64 {
	if p.dirtyBytes+p.cleanBytes == 0 {
		return 0
	}
	return float64(p.dirtyBytes) / float64(p.dirtyBytes+p.cleanBytes)
}

// plan snapshots what a pass at now would clean. With force, the
// compaction lags are ignored (the test and tool entry point).
func (l *Log) plan(now time.Time, upTo int64, force bool) (*cleanPlan, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, ErrClosed
	}
	p := &cleanPlan{cfg: l.config(), firstDirty: max(l.cleaner.firstDirty.Load(), l.logStart.Load())}
	active := l.active()
	p.end = min(active.base, upTo)
	for _, s := range l.segs[:len(l.segs)-1] {
		p.segs = append(p.segs, segInfo{seg: s, base: s.base, next: s.next, size: s.size, maxTs: s.maxTs, prefix: s.prefix})
	}
	minLag, maxLag := p.cfg.MinCompactionLag, p.cfg.MaxCompactionLag
	for _, s := range p.segs {
		switch {
		case s.next <= p.firstDirty:
			p.cleanBytes += s.size
		case s.base >= p.end:
		case !force && minLag > 0 && s.maxTs > now.Add(-minLag).UnixMilli():
			p.end = max(min(p.end, s.base), p.firstDirty)
		default:
			if p.dirtyBytes == 0 && maxLag > 0 && s.maxTs >= 0 && s.maxTs < now.Add(-maxLag).UnixMilli() {
				p.mustClean = true
			}
			p.dirtyBytes += s.size
		}
	}
	if p.end < p.firstDirty {
		p.end = p.firstDirty
	}
	return p, nil
}

// Compacted reports whether the log's cleanup.policy includes compact.
func (l *Log) Compacted() bool { return l.config().Compact }

// cleanPass holds one cleaner goroutine's tools.
type cleanPass struct {
	omap     *offsetMap
	dec      Decompressor
	enc      Compressor
	throttle *throttle // nil: unthrottled
	stats    passStats
	stop     <-chan struct{}
	crash    func(step string) error // tests: simulate a crash before step
}

// errCleanAborted: the log changed under the pass (truncation, retention,
// close); nothing was swapped and the pass is simply retried later.
var errCleanAborted = errors.New("storage: clean aborted: log changed")

// clean runs one pass over l with p (see the top of this file).
func (c *cleanPass) clean(l *Log, p *cleanPlan) error {
	if p.end <= p.firstDirty {
		return nil
	}
	started := time.Now()
	txns, err := c.scanTxns(p)
	if err != nil || p.end <= p.firstDirty {
		return err // an open transaction at the first dirty offset: nothing to clean yet
	}
	c.omap.reset()
	mapEnd, err := c.buildMap(p, txns)
	if err != nil || mapEnd <= p.firstDirty {
		return err
	}
	var segs []segInfo
	for _, s := range p.segs {
		if s.base < mapEnd {
			segs = append(segs, s)
		}
	}
	k := &keepRule{omap: c.omap, mapEnd: mapEnd, now: l.now().UnixMilli(),
		retention: p.cfg.DeleteRetention.Milliseconds(), txns: txns, dec: c.dec, enc: c.enc}
	outs, err := c.rewrite(l.dir, segs, p.cfg, k)
	if err != nil {
		return err
	}
	for _, o := range outs {
		if err := l.swapIn(o, c.crash); err != nil {
			if errors.Is(err, errCleanAborted) || errors.Is(err, ErrClosed) {
				for _, rest := range outs {
					removeCleaned(rest.prefix)
				}
			} // otherwise Open finishes or discards them
			return err
		}
	}
	c.stats.elapsed = time.Since(started)
	c.stats.bufferUtilization = float64(c.omap.used) / float64(c.omap.cap)
	return l.setFirstDirty(mapEnd)
}

// setFirstDirty moves and checkpoints the first dirty offset.
func (l *Log) setFirstDirty(off int64) error {
	if err := writeStartCheckpoint(filepath.Join(l.dir, cleanerCheckpoint), off); err != nil {
		return fmt.Errorf("cleaner checkpoint: %w", err)
	}
	l.cleaner.firstDirty.Store(off)
	return nil
}

// loadCleanerCheckpoint reads the first dirty offset at Open (0 if none).
func (l *Log) loadCleanerCheckpoint() error {
	off, err := readStartCheckpoint(filepath.Join(l.dir, cleanerCheckpoint))
	if err != nil {
		return err
	}
	l.cleaner.firstDirty.Store(max(off, 0))
	return nil
}

// forEachBatch reads the batches of a segment file from a descriptor of
// its own (the file may be replaced or deleted meanwhile: the inode stays),
// calling fn with each whole batch until fn returns false. A batch whose
// length does not fit the file ends the walk (recovery vouched for the
// file; a concurrent truncation may have shortened it).
func (c *cleanPass) forEachBatch(s segInfo, fn func(h BatchHeader, raw []byte) (bool, error)) error {
	f, err := os.Open(s.prefix + logSuffix)
	if err != nil {
		return fmt.Errorf("%w: %w", errCleanAborted, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, s.size), scanBufferSize)
	var buf []byte
	for pos := int64(0); pos+batchHeaderSize <= s.size; {
		var hdr [batchLengthEnd]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return ioErr("clean read "+s.prefix, err)
		}
		blen := int64(int32(binary.BigEndian.Uint32(hdr[8:])))
		if blen < minBatchLength || pos+batchLengthEnd+blen > s.size {
			return nil
		}
		size := int(blen) + batchLengthEnd
		if cap(buf) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		copy(buf, hdr[:])
		if _, err := io.ReadFull(r, buf[batchLengthEnd:]); err != nil {
			return ioErr("clean read "+s.prefix, err)
		}
		if err := c.throttle.wait(size, c.stop); err != nil {
			return err
		}
		more, err := fn(decodeHeader(buf), buf)
		if err != nil || !more {
			return err
		}
		pos += int64(size)
	}
	return nil
}

// buildMap fills the offset map from the dirty section and returns the
// offset up to which it holds every key (p.end, or where it filled up).
func (c *cleanPass) buildMap(p *cleanPlan, txns *cleanTxns) (int64, error) {
	mapEnd := p.firstDirty
	for _, s := range p.segs {
		if s.next <= p.firstDirty {
			continue
		}
		if s.base >= p.end {
			break
		}
		full := false
		err := c.forEachBatch(s, func(h BatchHeader, raw []byte) (bool, error) {
			if h.BaseOffset < p.firstDirty {
				return true, nil
			}
			if h.LastOffset() >= p.end {
				return false, nil
			}
			if !c.addBatch(h, raw, txns) {
				full = true
				return false, nil
			}
			mapEnd = h.LastOffset() + 1
			return true, nil
		})
		if err != nil {
			return 0, err
		}
		if full {
			return mapEnd, nil
		}
		if s.next <= p.end {
			mapEnd = max(mapEnd, s.next)
		}
	}
	return min(mapEnd, p.end), nil
}

// addBatch puts the keys of one batch into the map; false means the map
// filled before the batch was complete (the batch then counts as dirty).
// Control batches and aborted transactional data are never put in the map
// (an aborted value must not hide a committed one); committed transactional
// data is, like any other. Unparseable batches are skipped.
func (c *cleanPass) addBatch(h BatchHeader, raw []byte, txns *cleanTxns) bool {
	if h.IsControl() || (h.IsTransactional() && txns.isAborted(h.ProducerID, h.BaseOffset)) {
		return true
	}
	recs, _, err := batchRecords(raw, h, c.dec)
	if err != nil {
		return true
	}
	rs, err := parseRecords(recs, h.NumRecords)
	if err != nil {
		return true
	}
	if c.omap.used+len(rs) > c.omap.maxUsed && c.omap.used > 0 {
		return false
	}
	for _, r := range rs {
		if r.hasKey && !c.omap.put(r.key, h.BaseOffset+int64(r.offsetDelta)) {
			return false
		}
	}
	return true
}
