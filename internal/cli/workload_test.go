package cli

import (
	"context"
	"strings"
	"testing"
	"time"
)

func checkLatency(t *testing.T, name string, l latencyStats) {
	t.Helper()
	if l.Count <= 0 || l.P50 > l.P75 || l.P75 > l.P95 || l.P95 > l.P99 || l.P99 > l.P999 || l.P999 > l.P9999 || l.P9999 > l.Max || l.Avg > l.Max || l.Max <= 0 {
		t.Errorf("%s latency not populated and ordered p50 <= ... <= max: %+v", name, l)
	}
}

func TestBenchWorkload(t *testing.T) {
	b := testCluster(t)
	r := mustRun(t, b, "", "bench", "workload", "--json",
		"--topics", "2", "--partitions-per-topic", "3", "--producers", "2", "--consumers", "2",
		"--rate", "2000", "--duration", "1s", "--warmup", "200ms", "--progress", "250ms",
		"--record-size", "100", "--key-distribution", "round-robin")
	res := decodeJSON[workloadResult](t, r.stdout)
	if res.Mode != "workload" || len(res.Topics) != 2 || res.Config.Topics != 2 || res.Config.PartitionsPerTopic != 3 ||
		res.Config.Rate != 2000 || time.Duration(res.Config.Duration) != time.Second || res.Interrupted || res.Error != "" {
		t.Fatalf("result header %+v", res)
	}
	tot := res.Totals
	if tot.Published == 0 || tot.Failed != 0 || tot.Missing != 0 || tot.Aborted != 0 || tot.Published != tot.Sent ||
		tot.Consumed != tot.Published || tot.Expected != tot.Published {
		t.Fatalf("totals: want sent == published == consumed == expected, nothing failed, aborted or missing: %+v", tot)
	}
	a := res.Aggregate
	if a.Published <= 0 || a.Consumed <= 0 || a.PublishRate <= 0 || a.ConsumeRate <= 0 || a.PublishMBPerSec <= 0 || a.Seconds <= 0 || a.Warmup {
		t.Fatalf("aggregate %+v", a)
	}
	checkLatency(t, "publish", a.PublishLatency)
	checkLatency(t, "end-to-end", a.EndToEnd)
	if a.PublishDelay.Count <= 0 {
		t.Errorf("publish delay not recorded: %+v", a.PublishDelay)
	}

	// Intervals: warm-up first, then measured ones, back to back; their
	// counts add up to the aggregate's.
	var warm, measured int
	var published int64
	end := 0.0
	for i, iv := range res.Intervals {
		if d := iv.StartSeconds - end; d > 1e-6 || d < -1e-6 {
			t.Errorf("interval %d starts at %.6f, previous ended at %.6f", i, iv.StartSeconds, end)
		}
		end = iv.StartSeconds + iv.Seconds
		if iv.Warmup {
			if measured > 0 {
				t.Errorf("warm-up interval %d after a measured one", i)
			}
			warm++
			continue
		}
		measured++
		published += iv.Published
	}
	if warm == 0 || measured < 2 || published != a.Published {
		t.Errorf("%d warm-up and %d measured intervals, published %d of aggregate %d", warm, measured, published, a.Published)
	}
	if !strings.Contains(r.stderr, "bench workload warm-up") || !strings.Contains(r.stderr, "e2e ms p50") {
		t.Errorf("progress lines missing:\n%s", r.stderr)
	}

	// The topics were deleted at the end (no --keep).
	list := mustRun(t, b, "", "topic", "list").stdout
	if strings.Contains(list, res.Topics[0]) {
		t.Errorf("topic %s left behind:\n%s", res.Topics[0], list)
	}
}

func TestBenchWorkloadTableAndKeep(t *testing.T) {
	b := testCluster(t)
	r := mustRun(t, b, "", "bench", "workload", "--partitions-per-topic", "2", "--rate", "0",
		"--duration", "300ms", "--warmup", "0s", "--progress", "0", "--record-size", "4", "--keep", "--topic-prefix", "kept")
	for _, want := range []string{"LATENCY-MS", "P99.99", "end-to-end", "publish-delay", "0 failed", "0 missing", "max rate"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.stderr != "" {
		t.Errorf("--progress 0 printed on stderr: %s", r.stderr)
	}
	if list := mustRun(t, b, "", "topic", "list").stdout; !strings.Contains(list, "kept-") {
		t.Errorf("--keep did not keep the topic:\n%s", list)
	}
}

func TestBenchWorkloadInterrupt(t *testing.T) {
	b := testCluster(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	e := &env{ctx: ctx, stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() {
		done <- mainEnv(e, []string{"bench", "workload", "--brokers", b, "--json", "--partitions-per-topic", "2",
			"--rate", "1000", "--duration", "1h", "--warmup", "0s", "--progress", "50ms"})
	}()
	// Cancel (Ctrl-C) once the run reported a measured interval.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(errb.String(), "e2e ms") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	code := <-done
	res := decodeJSON[workloadResult](t, out.String())
	if code != exitOK || !res.Interrupted || len(res.Intervals) == 0 || res.Totals.Failed != 0 || !strings.Contains(errb.String(), "(interrupted)") {
		t.Fatalf("interrupted run: exit %d, result %+v\nstderr %s", code, res, errb.String())
	}
}

func TestBenchWorkloadUsage(t *testing.T) {
	brokers := closedAddr(t) // never dialled: usage is checked first
	for _, args := range [][]string{
		{"--topics", "0"},
		{"--duration", "0s"},
		{"--key-distribution", "zipf"},
		{"--acks", "2"},
		{"--consumers", "0"},
		{"extra"},
	} {
		r := run(t, brokers, "", append([]string{"bench", "workload"}, args...)...)
		if r.code != exitUsage {
			t.Errorf("bench workload %v: exit %d, want %d; stderr %s", args, r.code, exitUsage, r.stderr)
		}
	}
}

func TestHistogramSnapshots(t *testing.T) {
	var h histogram
	for i := 1; i <= 100; i++ {
		h.record(time.Duration(i) * time.Microsecond) // exact below 512 µs
	}
	first := h.snapshot()
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	second := h.snapshot()
	n, avg, mx, q := second.since(first, second.peakUS).summary([]float64{0.5, 0.99, 1})
	if n != 1000 || mx != 1000 || q[2] != 1000 || avg < 500 || avg > 501 {
		t.Fatalf("interval of 1..1000 ms: n %d avg %.3f max %.3f q %v", n, avg, mx, q)
	}
	for i, want := range []float64{500, 990} {
		if d := (q[i] - want) / want; d > 0.002 || d < -0.002 {
			t.Errorf("quantile %d = %.3f ms, want %.0f ±0.2%%", i, q[i], want)
		}
	}
	n, _, mx, q = first.since(&histCounts{}, first.peakUS).summary([]float64{0.5})
	if n != 100 || mx != 0.1 || q[0] != 0.05 {
		t.Errorf("1..100 µs: n %d max %.4f p50 %.4f ms, want exact 0.1 and 0.05", n, mx, q[0])
	}
	if h.peakUS.Load() != 0 {
		t.Errorf("snapshot did not reset the peak")
	}
}
