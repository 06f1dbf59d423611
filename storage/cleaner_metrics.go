package storage

import (
	"sync"
	"time"
)

// passStats is what one pass measured (Kafka's CleanerStats, the parts its
// gauges show).
type passStats struct {
	elapsed           time.Duration
	bufferUtilization float64 // offset map slots used / slots
	bytesRead         int64   // by the rewrite
	bytesWritten      int64   // by the rewrite: what was recopied
}

// cleanerMetrics keeps each thread's last pass (and CleanNow's, in the last
// slot), the dirtiest ratio of the last selection and when one last ran.
// Written by the cleaner goroutines, read by Stats; guarded by mu.
type cleanerMetrics struct {
	mu       sync.Mutex
	last     []passStats
	dirtiest float64
	lastRun  time.Time
}

func (m *cleanerMetrics) init(threads int) {
	m.last = make([]passStats, threads+1)
	m.lastRun = time.Now()
}

func (m *cleanerMetrics) ran() {
	m.mu.Lock()
	m.lastRun = time.Now()
	m.mu.Unlock()
}

func (m *cleanerMetrics) setDirtiest(r float64) {
	m.mu.Lock()
	m.dirtiest = r
	m.mu.Unlock()
}

// passDone records a successful pass of thread (< 0: CleanNow).
func (m *cleanerMetrics) passDone(thread int, st passStats) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if thread < 0 || thread >= len(m.last)-1 {
		thread = len(m.last) - 1
	}
	m.last[thread] = st
}

// CleanerStats is what the log cleaner's gauges show, as Kafka's LogCleaner
// and LogCleanerManager metrics define them, over the last pass of each
// cleaner goroutine (and of CleanNow).
type CleanerStats struct {
	MaxCleanTime         time.Duration // max-clean-time-secs: the longest of those passes
	MaxBufferUtilization float64       // max-buffer-utilization-percent / 100: offset map use
	RecopyRatio          float64       // cleaner-recopy-percent / 100: bytes written / bytes read
	MaxDirtyRatio        float64       // max-dirty-percent / 100: the dirtiest log's ratio at the last selection
	SinceLastRun         time.Duration // time-since-last-run-ms: since a goroutine last looked for a log
	Uncleanable          int           // uncleanable-partitions-count: logs a failed pass took out
}

// Stats returns the cleaner's current statistics. Safe to call concurrently
// with everything; it calls the targets function for the uncleanable count.
func (c *Cleaner) Stats() CleanerStats {
	var st CleanerStats
	c.metrics.mu.Lock()
	var read, written int64
	for _, p := range c.metrics.last {
		st.MaxCleanTime = max(st.MaxCleanTime, p.elapsed)
		st.MaxBufferUtilization = max(st.MaxBufferUtilization, p.bufferUtilization)
		read += p.bytesRead
		written += p.bytesWritten
	}
	st.RecopyRatio = float64(written) / float64(max(read, 1))
	st.MaxDirtyRatio = c.metrics.dirtiest
	st.SinceLastRun = time.Since(c.metrics.lastRun)
	c.metrics.mu.Unlock()
	if c.targets != nil {
		for _, t := range c.targets() {
			if t.Log.cleaner.uncleanable.Load() {
				st.Uncleanable++
			}
		}
	}
	return st
}
