package storage

import (
	"errors"
	"log/slog"
	"sync"
	"time"
)

// CleanerConfig is the broker's log cleaner settings (Kafka's
// log.cleaner.*). The zero value is Kafka's defaults (WithDefaults).
type CleanerConfig struct {
	Disable             bool          // !log.cleaner.enable
	Threads             int           // log.cleaner.threads
	DedupeBufferSize    int64         // log.cleaner.dedupe.buffer.size, shared by the threads
	IOMaxBytesPerSecond float64       // log.cleaner.io.max.bytes.per.second, read + written, all threads; <= 0 unlimited
	Backoff             time.Duration // log.cleaner.backoff.ms: sleep when nothing is cleanable
	// Decompress inflates compressed batches (see Decompressor); nil keeps
	// compressed batches whole.
	Decompress Decompressor
	// Compress writes rebuilt batches with their source codec (see
	// Compressor); nil writes them uncompressed.
	Compress Compressor
	Logger   *slog.Logger
}

// WithDefaults fills zero values with Kafka's defaults: 1 thread, a 128 MiB
// dedupe buffer, a 15 s backoff (the I/O rate stays unlimited).
func (c CleanerConfig) WithDefaults() CleanerConfig {
	if c.Threads <= 0 {
		c.Threads = 1
	}
	if c.DedupeBufferSize <= 0 {
		c.DedupeBufferSize = 128 << 20
	}
	if c.Backoff <= 0 {
		c.Backoff = 15 * time.Second
	}
	return c
}

// CleanTarget is one log the cleaner may compact, and the offset below
// which it may (the replica's high watermark: nothing a truncation could
// take back is rewritten).
type CleanTarget struct {
	Log  *Log
	UpTo int64
}

// Cleaner is the background log cleaner: Threads goroutines that each pick
// the dirtiest eligible log among those Targets returns (dirty ratio at
// least min.cleanable.dirty.ratio, or past max.compaction.lag.ms) and
// compact it. Targets is called from those goroutines, concurrently; it
// must not block long. A log is cleaned by one goroutine at a time. Close
// stops and waits for them.
type Cleaner struct {
	cfg     CleanerConfig
	targets func() []CleanTarget
	thr     *throttle
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	maps    chan *offsetMap // one per thread, also lent to CleanNow
	metrics cleanerMetrics
}

// NewCleaner starts the cleaner goroutines (none when cfg.Disable or
// targets is nil; CleanNow still works).
func NewCleaner(cfg CleanerConfig, targets func() []CleanTarget) *Cleaner {
	cfg = cfg.WithDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Cleaner{cfg: cfg, targets: targets, stop: make(chan struct{}), maps: make(chan *offsetMap, cfg.Threads)}
	c.metrics.init(cfg.Threads)
	if cfg.IOMaxBytesPerSecond > 0 {
		c.thr = &throttle{rate: cfg.IOMaxBytesPerSecond, start: time.Now()}
	}
	for range cfg.Threads {
		// Allocated lazily by the first pass, so an idle broker pays nothing.
		c.maps <- nil
	}
	if !cfg.Disable && targets != nil {
		for i := range cfg.Threads {
			c.wg.Add(1)
			go c.run(i)
		}
	}
	return c
}

// Close stops the cleaner goroutines and waits for them; a pass in progress
// is abandoned at its next batch (its files are deleted, nothing swapped).
func (c *Cleaner) Close() {
	c.once.Do(func() { close(c.stop) })
	c.wg.Wait()
}

func (c *Cleaner) run(thread int) {
	defer c.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		cleaned := c.cleanDirtiest(thread)
		if cleaned {
			t.Reset(0)
		} else {
			t.Reset(c.cfg.Backoff)
		}
	}
}

// cleanDirtiest cleans the dirtiest eligible log; false if there was none.
// A log whose pass failed for another reason than a change under it is
// uncleanable from then on (Kafka's uncleanable partitions): a log the
// cleaner cannot read must not fail every pass of every thread.
func (c *Cleaner) cleanDirtiest(thread int) bool {
	c.metrics.ran()
	var best *Log
	var bestPlan *cleanPlan
	var bestRatio, dirtiest float64
	for _, t := range c.targets() {
		cfg := t.Log.config()
		if !cfg.Compact || t.Log.cleaner.busy.Load() || t.Log.cleaner.uncleanable.Load() {
			continue
		}
		p, err := t.Log.plan(t.Log.now(), t.UpTo, false)
		if err != nil || p.dirtyBytes == 0 || p.end <= p.firstDirty || t.Log.cleaner.stuck(p) {
			continue
		}
		r := p.ratio()
		dirtiest = max(dirtiest, r)
		if (r >= cfg.MinCleanableDirtyRatio || p.mustClean) && (best == nil || r > bestRatio || p.mustClean) {
			best, bestPlan, bestRatio = t.Log, p, r
		}
	}
	c.metrics.setDirtiest(dirtiest)
	if best == nil || !best.cleaner.busy.CompareAndSwap(false, true) {
		return false
	}
	defer best.cleaner.busy.Store(false)
	firstDirty, end := bestPlan.firstDirty, bestPlan.end // the pass may lower bestPlan.end
	if err := c.pass(best, bestPlan, thread); err != nil {
		if !errors.Is(err, errCleanAborted) && !errors.Is(err, errCleanerStopped) && !errors.Is(err, ErrClosed) {
			best.cleaner.uncleanable.Store(true)
		}
		c.cfg.Logger.Warn("log cleaner pass failed", "log", best.dir, "err", err)
		return false
	}
	// No progress (a transaction open at the first dirty offset, a batch
	// with more keys than the table holds) must not spin, nor keep the
	// log the dirtiest choice: it is skipped until its plan changes.
	if best.cleaner.firstDirty.Load() <= firstDirty {
		best.cleaner.stuckAt.Store(&stuckPlan{firstDirty: firstDirty, end: end})
		return false
	}
	return true
}

// pass runs one pass with a map from the pool, and records its statistics
// as thread's last (thread < 0: CleanNow, not a cleaner goroutine).
func (c *Cleaner) pass(l *Log, p *cleanPlan, thread int) error {
	var m *offsetMap
	select {
	case m = <-c.maps:
	case <-c.stop:
		return errCleanerStopped
	}
	// The table is sized for the dirty section (a record is at least
	// minRecordSize bytes), within the thread's share of the dedupe
	// buffer, so small logs do not cost the whole buffer.
	budget := c.cfg.DedupeBufferSize / int64(c.cfg.Threads)
	want := min(budget, int64(float64(p.dirtyBytes/minRecordSize+16)/mapLoadFactor+1)*mapSlotSize)
	if m == nil || int64(m.cap)*mapSlotSize < want {
		m = newOffsetMap(want)
	}
	defer func() { c.maps <- m }()
	cp := &cleanPass{omap: m, dec: c.cfg.Decompress, enc: c.cfg.Compress, throttle: c.thr, stop: c.stop}
	err := cp.clean(l, p)
	if err == nil && cp.stats.elapsed > 0 {
		c.metrics.passDone(thread, cp.stats)
	}
	return err
}

// CleanNow compacts everything of l that is cleanable below upTo (and below
// its active segment), ignoring the dirty ratio and the compaction lags,
// and returns when done. Passes repeat until the dirty section is empty
// (the offset map may not hold it at once). For tests and tools; the
// background goroutines skip l meanwhile.
func (c *Cleaner) CleanNow(l *Log, upTo int64) error {
	for !l.cleaner.busy.CompareAndSwap(false, true) {
		select {
		case <-c.stop:
			return errCleanerStopped
		case <-time.After(10 * time.Millisecond): // a background pass holds it
		}
	}
	defer l.cleaner.busy.Store(false)
	for {
		p, err := l.plan(l.now(), upTo, true)
		if err != nil {
			return err
		}
		if p.end <= p.firstDirty {
			return nil
		}
		if err := c.pass(l, p, -1); err != nil {
			return err
		}
		l.cleaner.uncleanable.Store(false)
		if l.cleaner.firstDirty.Load() <= p.firstDirty {
			return nil // no progress (a single batch larger than the map)
		}
	}
}

// errCleanerStopped: Close was called during a pass.
var errCleanerStopped = errors.New("storage: log cleaner stopped")

// throttle bounds the cleaner's I/O rate over all its goroutines (Kafka's
// Throttler): bytes are counted, and a goroutine ahead of the rate waits
// (interruptibly) until the average is back under it. A nil throttle does
// nothing.
type throttle struct {
	mu    sync.Mutex
	rate  float64 // bytes per second
	start time.Time
	bytes float64
}

func (t *throttle) wait(n int, stop <-chan struct{}) error {
	if t == nil {
		select {
		case <-stop:
			return errCleanerStopped
		default:
			return nil
		}
	}
	t.mu.Lock()
	now := time.Now()
	if now.Sub(t.start) > time.Second { // a fresh window each second
		t.start, t.bytes = now, 0
	}
	t.bytes += float64(n)
	ahead := time.Duration(t.bytes/t.rate*float64(time.Second)) - now.Sub(t.start)
	t.mu.Unlock()
	if ahead <= 0 {
		return nil
	}
	tm := time.NewTimer(ahead)
	defer tm.Stop()
	select {
	case <-stop:
		return errCleanerStopped
	case <-tm.C:
		return nil
	}
}

// RollFor starts a new active segment when the current one holds offsets
// below upTo, so that CleanNow can reach upTo (the active segment is never
// cleaned). For tests and tools, like CleanNow.
func (l *Log) RollFor(upTo int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.checkWritable(); err != nil {
		return err
	}
	s := l.active()
	if s.size == 0 || s.base >= upTo {
		return nil
	}
	return l.roll(s.next, l.config(), l.now())
}
