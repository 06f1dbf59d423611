package cli

// The results of a bench workload run: the --json document, interval
// statistics and the summary table (workload.go).

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// workloadResult is the --json document; the table printed for people
// shows its aggregate.
type workloadResult struct {
	Mode   string         `json:"mode"` // "workload"
	Target string         `json:"target"`
	Config workloadConfig `json:"config"`
	Topics []string       `json:"topics"`
	// Intervals are consecutive, from the start of the warm-up; warm-up
	// intervals are marked and excluded from Aggregate.
	Intervals []workloadStats `json:"intervals"`
	// Aggregate covers the measured period: counts and rates from the end
	// of the warm-up until producing stopped; latencies also include the
	// acknowledgements and deliveries that arrived while draining.
	Aggregate   workloadStats  `json:"aggregate"`
	Totals      workloadTotals `json:"totals"`
	Interrupted bool           `json:"interrupted,omitempty"`
	Error       string         `json:"error,omitempty"`
}

// workloadStats are the statistics of one interval, or of the aggregate.
// Rates are per second of the interval; MB is MiB of keys and values. An
// aggregate marked Warmup means the run was interrupted before the warm-up
// ended: nothing was measured.
type workloadStats struct {
	Warmup          bool         `json:"warmup,omitempty"`
	StartSeconds    float64      `json:"start_seconds"` // since the start of the warm-up
	Seconds         float64      `json:"seconds"`
	Published       int64        `json:"published"` // acknowledged records
	PublishErrors   int64        `json:"publish_errors"`
	PublishRate     float64      `json:"publish_rate"`
	PublishMBPerSec float64      `json:"publish_mb_per_sec"`
	Consumed        int64        `json:"consumed"` // over all subscriptions
	ConsumeRate     float64      `json:"consume_rate"`
	ConsumeMBPerSec float64      `json:"consume_mb_per_sec"`
	Backlog         int64        `json:"backlog"` // published × subscriptions − consumed, at the end
	PublishLatency  latencyStats `json:"publish_latency_ms"`
	PublishDelay    latencyStats `json:"publish_delay_ms"`
	EndToEnd        latencyStats `json:"end_to_end_latency_ms"`
}

// latencyStats is one latency distribution in milliseconds (microsecond
// resolution). P999 is the 99.9th percentile, P9999 the 99.99th.
type latencyStats struct {
	Count int64   `json:"count"`
	Avg   float64 `json:"avg"`
	P50   float64 `json:"p50"`
	P75   float64 `json:"p75"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	P9999 float64 `json:"p9999"`
	Max   float64 `json:"max"`
}

// workloadTotals count the whole run, warm-up included.
type workloadTotals struct {
	Sent      int64 `json:"sent"`      // handed to a producer
	Published int64 `json:"published"` // acknowledged
	Failed    int64 `json:"failed"`    // failed with an error
	Aborted   int64 `json:"aborted"`   // never sent: Ctrl-C cancelled it while it waited in the client
	Consumed  int64 `json:"consumed"`  // records received over all subscriptions (a redelivery counts again)
	// Expected is what the subscriptions had to read: every record in the
	// topics' logs once per subscription. Missing is how many of those no
	// consumer had received when draining ended.
	Expected    int64 `json:"expected"`
	Missing     int64 `json:"missing"`
	FetchErrors int64 `json:"fetch_errors"`
}

var latencyQuantiles = []float64{0.5, 0.75, 0.95, 0.99, 0.999, 0.9999}

func toLatency(c *histCounts) latencyStats {
	n, avg, mx, q := c.summary(latencyQuantiles)
	return latencyStats{Count: n, Avg: avg, P50: q[0], P75: q[1], P95: q[2], P99: q[3], P999: q[4], P9999: q[5], Max: mx}
}

// wlSnap is the counters at one moment.
type wlSnap struct {
	at                                       time.Time
	acked, failed, consumed, consumedB, sent int64
	pub, delay, e2e                          *histCounts
}

func (w *workload) snap() *wlSnap {
	return &wlSnap{
		at:        time.Now(),
		acked:     w.acked.Load(),
		failed:    w.failed.Load(),
		consumed:  w.consumed.Load(),
		consumedB: w.consumedB.Load(),
		sent:      w.sent.Load(),
		pub:       w.pub.snapshot(),
		delay:     w.delay.snapshot(),
		e2e:       w.e2e.snapshot(),
	}
}

// stats is the interval from a to b; peaks are the histograms' maxima over
// it (b's own peaks when a and b are consecutive).
func (w *workload) stats(runStart time.Time, a, b *wlSnap, peaks [3]int64) workloadStats {
	s := workloadStats{
		StartSeconds:   a.at.Sub(runStart).Seconds(),
		Seconds:        b.at.Sub(a.at).Seconds(),
		Published:      b.acked - a.acked,
		PublishErrors:  b.failed - a.failed,
		Consumed:       b.consumed - a.consumed,
		Backlog:        max(b.acked*int64(w.cfg.SubscriptionsPerTopic)-b.consumed, 0),
		PublishLatency: toLatency(b.pub.since(a.pub, peaks[0])),
		PublishDelay:   toLatency(b.delay.since(a.delay, peaks[1])),
		EndToEnd:       toLatency(b.e2e.since(a.e2e, peaks[2])),
	}
	if s.Seconds > 0 {
		s.PublishRate = float64(s.Published) / s.Seconds
		s.PublishMBPerSec = s.PublishRate * float64(w.recordBytesKV) / mib
		s.ConsumeRate = float64(s.Consumed) / s.Seconds
		s.ConsumeMBPerSec = float64(b.consumedB-a.consumedB) / mib / s.Seconds
	}
	return s
}

func peaksOf(s *wlSnap) [3]int64 { return [3]int64{s.pub.peakUS, s.delay.peakUS, s.e2e.peakUS} }

func maxPeaks(a, b [3]int64) [3]int64 {
	for i := range a {
		a[i] = max(a[i], b[i])
	}
	return a
}

func (w *workload) describe() string {
	c := w.cfg
	rate := "max rate"
	if c.Rate > 0 {
		rate = fmt.Sprintf("%d records/s", c.Rate)
	}
	return fmt.Sprintf("%d topic(s) × %d partitions, %d-byte records, %d producer(s) and %d subscription(s) × %d consumer(s) per topic, %s, acks=%s, warm-up %s, duration %s",
		c.Topics, c.PartitionsPerTopic, c.RecordSize, c.ProducersPerTopic, c.SubscriptionsPerTopic, c.ConsumersPerSubscription, rate, c.Acks, time.Duration(c.Warmup), time.Duration(c.Duration))
}

// progressLine is one interval for stderr, in the spirit of OMB's periodic
// lines.
func progressLine(s workloadStats) string {
	phase := ""
	if s.Warmup {
		phase = " warm-up"
	}
	p, d := s.PublishLatency, s.EndToEnd
	return fmt.Sprintf("bench workload%s %6.1fs: pub %.0f rec/s %.2f MB/s, %d err | cons %.0f rec/s %.2f MB/s | backlog %d | pub latency ms p50 %.2f p99 %.2f max %.2f | e2e ms p50 %.2f p99 %.2f max %.2f",
		phase, s.StartSeconds+s.Seconds, s.PublishRate, s.PublishMBPerSec, s.PublishErrors, s.ConsumeRate, s.ConsumeMBPerSec, s.Backlog, p.P50, p.P99, p.Max, d.P50, d.P99, d.Max)
}

// writeWorkloadSummary prints the aggregate for people.
func writeWorkloadSummary(w io.Writer, r *workloadResult) error {
	a, t := r.Aggregate, r.Totals
	state := ""
	if r.Interrupted {
		state = " (interrupted: partial result, consumers not drained)"
	}
	fmt.Fprintf(w, "workload on %s: %d topic(s) × %d partitions, %d-byte records, %d producer(s), %d subscription(s) × %d consumer(s) per topic, target %s, acks=%s%s\n",
		r.Target, r.Config.Topics, r.Config.PartitionsPerTopic, r.Config.RecordSize, r.Config.ProducersPerTopic, r.Config.SubscriptionsPerTopic, r.Config.ConsumersPerSubscription, rateText(r.Config.Rate), r.Config.Acks, state)
	if a.Warmup {
		fmt.Fprintf(w, "interrupted during the %s warm-up: nothing measured\n", time.Duration(r.Config.Warmup))
	} else {
		fmt.Fprintf(w, "measured %.1f s after a %s warm-up: published %.0f records/s (%.2f MB/s), consumed %.0f records/s (%.2f MB/s), backlog at the end %d\n",
			a.Seconds, time.Duration(r.Config.Warmup), a.PublishRate, a.PublishMBPerSec, a.ConsumeRate, a.ConsumeMBPerSec, a.Backlog)
	}
	consumed := fmt.Sprintf("%d consumed of %d expected, %d missing", t.Consumed, t.Expected, t.Missing)
	if r.Interrupted {
		consumed = fmt.Sprintf("%d consumed (not drained, not checked)", t.Consumed)
	}
	fmt.Fprintf(w, "whole run: %d sent, %d published, %d failed, %d aborted, %s, %d fetch errors\n\n",
		t.Sent, t.Published, t.Failed, t.Aborted, consumed, t.FetchErrors)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "LATENCY-MS\tCOUNT\tAVG\tP50\tP75\tP95\tP99\tP99.9\tP99.99\tMAX\t")
	for _, row := range []struct {
		name string
		l    latencyStats
	}{{"publish", a.PublishLatency}, {"publish-delay", a.PublishDelay}, {"end-to-end", a.EndToEnd}} {
		l := row.l
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\n", row.name, l.Count, l.Avg, l.P50, l.P75, l.P95, l.P99, l.P999, l.P9999, l.Max)
	}
	return tw.Flush()
}

func rateText(r int64) string {
	if r == 0 {
		return "max rate"
	}
	return fmt.Sprintf("%d records/s", r)
}
