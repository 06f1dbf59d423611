package cli

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram is a fixed-size log-linear latency histogram in microseconds:
// exact below 64 µs, then 32 buckets per power of two (relative error under
// 1.6%). It never allocates after construction, so recording one latency per
// produced record costs two atomic adds; the progress reporter may read it
// while promises write.
type histogram struct {
	counts [histBuckets]atomic.Int64
	total  atomic.Int64
	sumUS  atomic.Int64
	maxUS  atomic.Int64
}

const (
	histSubBits = 5 // 32 sub-buckets per power of two
	histLinear  = 2 << histSubBits
	histBuckets = histLinear + (64-histSubBits-1)*(1<<histSubBits)
)

func histIndex(us uint64) int {
	if us < histLinear {
		return int(us)
	}
	e := bits.Len64(us) - histSubBits - 1 // >= 1
	sub := us >> e                        // in [32, 64)
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
	for {
		m := h.maxUS.Load()
		if us <= m || h.maxUS.CompareAndSwap(m, us) {
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
