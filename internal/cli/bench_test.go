package cli

import (
	"bytes"
	"context"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func checkProduceResult(t *testing.T, r benchResult, records int64, size int) {
	t.Helper()
	if r.Mode != "produce" || r.Records != records || r.Errors != 0 || r.Bytes != records*int64(size) {
		t.Fatalf("produce result %+v, want %d records of %d bytes", r, records, size)
	}
	if r.Seconds <= 0 || r.RecordsPerSec <= 0 || r.MBPerSec <= 0 {
		t.Fatalf("produce rates not positive: %+v", r)
	}
	if math.Abs(r.RecordsPerSec*r.Seconds-float64(records)) > 1 {
		t.Fatalf("records/s %f * seconds %f != records %d", r.RecordsPerSec, r.Seconds, records)
	}
	l := r.Latency
	if l == nil || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max || l.Avg <= 0 || l.Avg > l.Max {
		t.Fatalf("latency not ordered 0 < p50 <= p99 <= max: %+v", l)
	}
}

func TestBenchProduceConsume(t *testing.T) {
	b := testCluster(t)
	const n, size = 3000, 64
	r := mustRun(t, b, "", "bench", "produce", "--topic", "bt", "--records", "3000", "--record-size", "64", "--partitions", "2", "--json", "--progress", "0")
	checkProduceResult(t, decodeJSON[benchResult](t, r.stdout), n, size)

	// The topic was created with --partitions.
	desc := decodeJSON[[]topicDescribed](t, mustRun(t, b, "", "topic", "describe", "bt", "--json").stdout)
	var total int64
	for _, p := range desc[0].Partitions {
		total += p.LogEndOffset
	}
	if len(desc[0].Partitions) != 2 || total != n {
		t.Fatalf("bench topic: %+v", desc)
	}

	c := decodeJSON[benchResult](t, mustRun(t, b, "", "bench", "consume", "--topic", "bt", "--records", "3000", "--json").stdout)
	if c.Mode != "consume" || c.Records < n || c.Bytes < n*size || c.RecordsPerSec <= 0 || c.MBPerSec <= 0 || c.Latency != nil {
		t.Fatalf("consume result %+v", c)
	}

	// Table output for people; acks=all goes through the idempotent path.
	r = mustRun(t, b, "", "bench", "produce", "--topic", "bt", "--records", "500", "--acks", "all", "--progress", "0")
	for _, want := range []string{"MODE", "RECORDS/S", "P99-MS", "produce"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}

	r = run(t, b, "", "bench", "consume", "--topic", "bt", "--records", "999999")
	if r.code != exitFail || !strings.Contains(r.stderr, "holds 3500 records, fewer than --records 999999") {
		t.Fatalf("asking for too many: exit %d stderr %q", r.code, r.stderr)
	}
	r = run(t, b, "", "bench", "consume", "--topic", "nope")
	if r.code != exitFail || !strings.Contains(r.stderr, "topic nope does not exist") {
		t.Fatalf("missing topic: exit %d stderr %q", r.code, r.stderr)
	}
}

// syncBuffer is a bytes.Buffer safe for the progress goroutine to write
// while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBenchProgressLines(t *testing.T) {
	var out syncBuffer
	e := &env{ctx: context.Background(), stderr: &out}
	var count atomic.Int64
	count.Store(1234)
	var h histogram
	h.record(2 * time.Millisecond)
	stop := progress(e, time.Millisecond, "bench produce", time.Now(), &count, 100, &h)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "\n") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	stop()
	stop() // idempotent
	first := strings.SplitN(out.String(), "\n", 2)[0]
	if !strings.HasPrefix(first, "bench produce: 1234 records total, ") || !strings.Contains(first, "MB/s") || !strings.Contains(first, "max 2.00 ms") {
		t.Fatalf("progress line %q", first)
	}
}

func TestBenchThroughputCap(t *testing.T) {
	b := testCluster(t)
	r := mustRun(t, b, "", "bench", "produce", "--records", "300", "--throughput", "30000", "--json", "--progress", "0")
	res := decodeJSON[benchResult](t, r.stdout)
	checkProduceResult(t, res, 300, 100)
	// Pacing can only slow a run down: record 256 is not sent before
	// 256/30000 s, so that is a hard lower bound, not a timing guess.
	if res.Seconds < 256.0/30000 {
		t.Fatalf("300 records at 30000/s took %.4fs, below the paced minimum", res.Seconds)
	}
}

func TestBenchKfake(t *testing.T) {
	r := mustRun(t, closedAddr(t), "", "bench", "kfake", "--records", "2000", "--record-size", "32", "--json", "--progress", "0")
	rs := decodeJSON[[]benchResult](t, r.stdout)
	if len(rs) != 2 || rs[0].Target != "kfake" || rs[1].Target != "kfake" || rs[1].Mode != "consume" {
		t.Fatalf("kfake results %+v", rs)
	}
	checkProduceResult(t, rs[0], 2000, 32)
	if rs[1].Records < 2000 {
		t.Fatalf("kfake consume %+v", rs[1])
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	if h.quantile(0.5) != 0 || h.maxMillis() != 0 || h.avgMillis() != 0 {
		t.Fatal("empty histogram should report zeros")
	}
	// 1..1000 ms uniformly: p50 ~ 500 ms, p99 ~ 990 ms within bucket error.
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct {
		q, want float64
	}{{0.5, 500}, {0.99, 990}, {1, 1000}} {
		got := h.quantile(tc.q)
		if math.Abs(got-tc.want)/tc.want > 0.02 {
			t.Errorf("q%.2f = %.2f ms, want %.0f ±2%%", tc.q, got, tc.want)
		}
	}
	if h.maxMillis() != 1000 || math.Abs(h.avgMillis()-500.5) > 0.01 {
		t.Errorf("max %.2f avg %.2f", h.maxMillis(), h.avgMillis())
	}
}

func TestHistogramIndexRoundTrip(t *testing.T) {
	for _, us := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 123456, 1 << 40, math.MaxInt64} {
		i := histIndex(us)
		if i < 0 || i >= histBuckets {
			t.Fatalf("index %d for %d out of range", i, us)
		}
		v := histValue(i)
		if us >= histLinear && math.Abs(v-float64(us))/float64(us) > 1.0/(1<<histSubBits) {
			t.Errorf("value %f for %d: error above a sub-bucket", v, us)
		}
		if us < histLinear && v != float64(us) {
			t.Errorf("linear bucket %d -> %f", us, v)
		}
		if us > 0 && histIndex(us-1) > i {
			t.Errorf("index not monotonic at %d", us)
		}
	}
}
