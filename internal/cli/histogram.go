package cli

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram is a fixed-size log-linear latency histogram in microseconds,
// like HdrHistogram with three significant digits: exact (1 µs steps) below
// 512 µs, then 256 buckets per power of two, so a bucket spans at most 0.4%
// of its value and its midpoint is within 0.2% of every value in it, from
// sub-millisecond produce acks up to minutes of end-to-end backlog. It never
// allocates after construction, so recording one latency per record costs a
// few atomic adds; the progress reporter may read it while promises write.
//
// peakUS is the maximum since the last takePeak, for per-interval maxima
// (bench workload); maxUS is the maximum since construction.
type histogram struct {
	counts [histBuckets]atomic.Int64
	total  atomic.Int64
	sumUS  atomic.Int64
	maxUS  atomic.Int64
	peakUS atomic.Int64
}

const (
	histSubBits = 8 // 256 sub-buckets per power of two
	histLinear  = 2 << histSubBits
	histBuckets = histLinear + (64-histSubBits-1)*(1<<histSubBits)
)

func histIndex(us uint64) int {
	if us < histLinear {
		return int(us)
	}
	e := bits.Len64(us) - histSubBits - 1 // >= 1
	sub := us >> e                        // in [256, 512)
	return histLinear + (e-1)<<histSubBits + int(sub-(1<<histSubBits))
}

// histValue is the midpoint of bucket i in microseconds.
func histValue(i int) float64 {
	if i < histLinear {
		return float64(i)
	}
	j := i - histLinear
	e := j>>histSubBits + 1
	sub := uint64(j&(1<<histSubBits-1)) + 1<<histSubBits
	lo := float64(sub << e)
	return lo + float64(uint64(1)<<e)/2
}

func (h *histogram) record(d time.Duration) {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	h.counts[histIndex(uint64(us))].Add(1)
	h.total.Add(1)
	h.sumUS.Add(us)
	raise(&h.maxUS, us)
	raise(&h.peakUS, us)
}

// raise sets m to v if v is larger.
func raise(m *atomic.Int64, v int64) {
	for {
		cur := m.Load()
		if v <= cur || m.CompareAndSwap(cur, v) {
			return
		}
	}
}

// quantile returns the q-quantile (0 < q <= 1) in milliseconds, or 0 with no
// samples.
func (h *histogram) quantile(q float64) float64 {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var seen int64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			// A bucket midpoint can exceed the true maximum; never report
			// a percentile above it.
			return min(histValue(i), float64(h.maxUS.Load())) / 1000
		}
	}
	return float64(h.maxUS.Load()) / 1000
}

func (h *histogram) maxMillis() float64 { return float64(h.maxUS.Load()) / 1000 }

func (h *histogram) avgMillis() float64 {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	return float64(h.sumUS.Load()) / float64(n) / 1000
}

// histCounts is a plain copy of a histogram's counters, taken while it is
// being written (so the buckets are not one atomic cut, which skews a
// percentile by at most the few records recorded during the copy). The
// difference of two copies is the histogram of the records in between:
// bench workload's per-interval and after-warm-up statistics.
type histCounts struct {
	counts [histBuckets]int64
	sumUS  int64
	peakUS int64 // maximum recorded since the previous snapshot (takePeak)
}

// snapshot copies the counters and takes the peak since the previous
// snapshot. Only one goroutine may take snapshots.
func (h *histogram) snapshot() *histCounts {
	c := &histCounts{sumUS: h.sumUS.Load(), peakUS: h.peakUS.Swap(0)}
	for i := range h.counts {
		c.counts[i] = h.counts[i].Load()
	}
	return c
}

// since returns the records of c not in prev (an earlier snapshot of the
// same histogram); peak is the maximum over that span, which the caller
// knows from the snapshots' peaks.
func (c *histCounts) since(prev *histCounts, peakUS int64) *histCounts {
	d := &histCounts{sumUS: c.sumUS - prev.sumUS, peakUS: peakUS}
	for i := range c.counts {
		d.counts[i] = c.counts[i] - prev.counts[i]
	}
	return d
}

// summary is the count, average, maximum and the given quantiles in
// milliseconds. The maximum is the recorded peak, or, if a record was
// counted before its peak was (a record racing the snapshot), the lower
// bound of the highest non-empty bucket; quantiles never exceed it.
func (c *histCounts) summary(qs []float64) (n int64, avgMS, maxMS float64, out []float64) {
	top := -1
	for i, v := range c.counts {
		n += v
		if v > 0 {
			top = i
		}
	}
	out = make([]float64, len(qs))
	if n <= 0 {
		return 0, 0, 0, out
	}
	maxUS := float64(c.peakUS)
	if lo := histLower(top); lo > maxUS {
		maxUS = lo
	}
	for k, q := range qs {
		rank := max(int64(math.Ceil(q*float64(n))), 1)
		var seen int64
		out[k] = maxUS / 1000
		for i, v := range c.counts {
			seen += v
			if seen >= rank {
				out[k] = min(histValue(i), maxUS) / 1000
				break
			}
		}
	}
	return n, float64(c.sumUS) / float64(n) / 1000, maxUS / 1000, out
}

// histLower is the smallest value in bucket i, in microseconds.
func histLower(i int) float64 {
	if i < histLinear {
		return float64(i)
	}
	j := i - histLinear
	e := j>>histSubBits + 1
	sub := uint64(j&(1<<histSubBits-1)) + 1<<histSubBits
	return float64(sub << e)
}
