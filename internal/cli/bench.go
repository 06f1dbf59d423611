package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// benchConfig is one bench run; produce, consume and kfake share it.
type benchConfig struct {
	topic       string
	records     int64
	size        int
	acks        string
	partitions  int
	linger      time.Duration
	compression string
	progress    time.Duration
	throughput  int64 // records/s cap for produce; 0 = as fast as possible
}

// benchResult is one line of the summary (and the --json shape).
type benchResult struct {
	Mode          string   `json:"mode"`
	Target        string   `json:"target"`
	Topic         string   `json:"topic"`
	Records       int64    `json:"records"`
	Bytes         int64    `json:"bytes"`
	RecordSize    int      `json:"record_size,omitempty"`
	Acks          string   `json:"acks,omitempty"`
	Errors        int64    `json:"errors"`
	Seconds       float64  `json:"seconds"`
	RecordsPerSec float64  `json:"records_per_sec"`
	MBPerSec      float64  `json:"mb_per_sec"`
	Latency       *latency `json:"latency_ms,omitempty"`
}

// latency is per-record produce latency: from Produce to its promise, so it
// includes time spent buffered in the client, as kafka-producer-perf-test's
// does.
type latency struct {
	Avg float64 `json:"avg"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

const mib = 1 << 20

func (r *benchResult) finish(elapsed time.Duration) {
	r.Seconds = elapsed.Seconds()
	if r.Seconds > 0 {
		r.RecordsPerSec = float64(r.Records) / r.Seconds
		r.MBPerSec = float64(r.Bytes) / mib / r.Seconds
	}
}

func runBench(e *env, args []string) error {
	// "bench kfake" is deliberately not listed: it is a yardstick for our
	// benchmark notes, not a user feature.
	if len(args) > 0 && args[0] == "kfake" {
		return benchKfake(e, args[1:])
	}
	return subcommands(e, "bench", args, map[string]func(*env, []string) error{
		"produce":  benchProduceCmd,
		"consume":  benchConsumeCmd,
		"workload": benchWorkloadCmd,
	})
}

func benchFlags(e *env, name, usage string, produce bool) (*flag.FlagSet, *common, *benchConfig) {
	fs, o := newFlags(e, name, usage, 60*time.Second, "fail a record not acknowledged (produce) or stop after no record arrived (consume) within this time")
	c := &benchConfig{}
	fs.StringVar(&c.topic, "topic", "strom-bench", "topic to use (created if missing)")
	fs.Int64Var(&c.records, "records", 1_000_000, "number of records")
	fs.DurationVar(&c.progress, "progress", 5*time.Second, "interval of progress lines on stderr (0: none)")
	if produce {
		fs.IntVar(&c.size, "record-size", 100, "value size in bytes")
		fs.StringVar(&c.acks, "acks", "1", "all, 1 or 0")
		fs.IntVar(&c.partitions, "partitions", 1, "partitions when the topic is created")
		fs.DurationVar(&c.linger, "linger", 0, "producer linger")
		fs.StringVar(&c.compression, "compression", "none", "batch compression: none, gzip, snappy, lz4, zstd")
		fs.Int64Var(&c.throughput, "throughput", 0, "cap produce rate in records/s to measure latency at a fixed load (0: no cap)")
	}
	return fs, o, c
}

func (c *benchConfig) validate(produce bool) error {
	if c.records < 0 || (produce && c.records == 0) {
		return usageErr("--records must be positive")
	}
	if c.topic == "" {
		return usageErr("--topic must not be empty")
	}
	if produce {
		if c.size < 0 || c.size > 64*mib {
			return usageErr("--record-size must be between 0 and %d", 64*mib)
		}
		if c.partitions < 1 || c.partitions > 1<<20 {
			return usageErr("--partitions must be positive")
		}
		if _, err := parseAcks(c.acks); err != nil {
			return err
		}
		if _, err := parseCompression(c.compression); err != nil {
			return err
		}
		if c.throughput < 0 {
			return usageErr("--throughput must be >= 0")
		}
	}
	return nil
}

func parseCompression(s string) (kgo.CompressionCodec, error) {
	switch s {
	case "none", "":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.NoCompression(), usageErr("--compression %q: use none, gzip, snappy, lz4 or zstd", s)
}

func benchProduceCmd(e *env, args []string) error {
	fs, o, c := benchFlags(e, "bench produce", "bench produce [--topic T] [--records N] [--record-size B] [--acks 1] [--partitions 1]", true)
	if err := benchParse(fs, args, c, true); err != nil {
		return err
	}
	r, err := benchProduce(e, o, c)
	return benchReport(e, o, []benchResult{r}, err)
}

func benchConsumeCmd(e *env, args []string) error {
	fs, o, c := benchFlags(e, "bench consume", "bench consume [--topic T] [--records N]  (0: everything in the topic)", false)
	if err := benchParse(fs, args, c, false); err != nil {
		return err
	}
	r, err := benchConsume(e, o, c)
	return benchReport(e, o, []benchResult{r}, err)
}

func benchParse(fs *flag.FlagSet, args []string, c *benchConfig, produce bool) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("bench takes no positional arguments (got %q) — use --topic", strings.Join(pos, " "))
	}
	return c.validate(produce)
}

// benchKfake runs bench produce then bench consume against an in-process
// franz-go kfake cluster, with the same client code and settings as against
// a real cluster, so benchmark notes can put Strom next to kfake.
func benchKfake(e *env, args []string) error {
	fs, o, c := benchFlags(e, "bench kfake", "bench kfake [--records N] [--record-size B] [--acks 1] [--partitions 1]", true)
	if err := benchParse(fs, args, c, true); err != nil {
		return err
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(c.partitions), c.topic))
	if err != nil {
		return fmt.Errorf("starting kfake: %w", err)
	}
	defer cluster.Close()
	ko := *o
	ko.brokers = strings.Join(cluster.ListenAddrs(), ",")
	var results []benchResult
	pr, err := benchProduce(e, &ko, c)
	pr.Target = "kfake"
	results = append(results, pr)
	if err == nil {
		var cr benchResult
		cr, err = benchConsume(e, &ko, c)
		cr.Target = "kfake"
		results = append(results, cr)
	}
	return benchReport(e, o, results, err)
}

func benchReport(e *env, o *common, rs []benchResult, runErr error) error {
	if len(rs) == 0 || rs[0].Mode == "" {
		return runErr
	}
	var err error
	if o.json {
		if len(rs) == 1 {
			err = writeJSON(e.stdout, rs[0])
		} else {
			err = writeJSON(e.stdout, rs)
		}
	} else {
		err = writeBenchTable(e.stdout, rs)
	}
	return errors.Join(runErr, err)
}

func writeBenchTable(w io.Writer, rs []benchResult) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "MODE\tTARGET\tRECORDS\tRECORD-BYTES\tSECONDS\tRECORDS/S\tMB/S\tP50-MS\tP99-MS\tMAX-MS\tERRORS\t")
	for _, r := range rs {
		p50, p99, mx := "-", "-", "-"
		if r.Latency != nil {
			p50, p99, mx = fmt.Sprintf("%.2f", r.Latency.P50), fmt.Sprintf("%.2f", r.Latency.P99), fmt.Sprintf("%.2f", r.Latency.Max)
		}
		size := "-"
		if r.Records > 0 {
			size = fmt.Sprint(r.Bytes / r.Records)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%.2f\t%.0f\t%.2f\t%s\t%s\t%s\t%d\t\n", r.Mode, r.Target, r.Records, size, r.Seconds, r.RecordsPerSec, r.MBPerSec, p50, p99, mx, r.Errors)
	}
	return tw.Flush()
}

// benchRec wraps a kgo.Record with its send time. The record's Context
// points back at the wrapper (benchRec embeds a never-cancelled context), so
// the one shared promise finds the start time without a per-record closure,
// and records are recycled through a pool once their promise ran (kgo
// releases a record before calling its promise).
type benchRec struct {
	context.Context
	rec   kgo.Record
	start time.Time
}

// ensureTopic creates the bench topic if it does not exist.
func ensureTopic(ctx context.Context, adm *kadm.Client, o *common, c *benchConfig) error {
	tds, err := adm.ListTopics(ctx, c.topic)
	if err != nil {
		return o.wrap(err)
	}
	if td, ok := tds[c.topic]; ok && td.Err == nil {
		return nil
	}
	resp, err := adm.CreateTopic(ctx, int32(c.partitions), -1, nil, c.topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return explainTopic(o.wrap(withMessage(err, resp.ErrMessage)), c.topic)
	}
	return nil
}

func benchProduce(e *env, o *common, c *benchConfig) (benchResult, error) {
	res := benchResult{Mode: "produce", Target: o.brokers, Topic: c.topic, RecordSize: c.size, Acks: c.acks}
	cl, err := benchProducer(e, o, c)
	if err != nil {
		return res, err
	}
	defer cl.Close()

	// One value buffer shared by every record: kgo never writes to it.
	value := make([]byte, c.size)
	for i := range value {
		value[i] = 'A' + byte(i*7%26)
	}
	t := newBenchTally()
	start := time.Now()
	stopProgress := progress(e, c.progress, "bench produce", start, &t.acked, int64(c.size), &t.hist)
	var sent int64
	for ; sent < c.records && e.ctx.Err() == nil; sent++ {
		if c.throughput > 0 && sent%paceEvery == 0 {
			pace(e.ctx, start, sent, c.throughput)
		}
		br := t.pool.Get().(*benchRec)
		br.rec = kgo.Record{Topic: c.topic, Value: value, Context: br}
		br.start = time.Now()
		cl.Produce(e.ctx, &br.rec, t.promise)
	}
	flushErr := flushProducer(e, cl, o)
	elapsed := time.Since(start)
	stopProgress()

	res.Records = t.acked.Load()
	res.Errors = t.failed.Load()
	res.Bytes = res.Records * int64(c.size)
	res.Latency = &latency{Avg: t.hist.avgMillis(), P50: t.hist.quantile(0.5), P99: t.hist.quantile(0.99), Max: t.hist.maxMillis()}
	res.finish(elapsed)
	var firstErr error
	if res.Errors > 0 {
		t.errOnce.Do(func() {}) // synchronizes with the promise that set firstErr
		firstErr = t.firstErr
	}
	return res, deliveryErr(res.Errors, sent, firstErr, flushErr, c.topic, o)
}

// benchProducer returns a client set up like a perf-test producer (large
// batches, compression, bounded buffering) for the bench topic, which it
// creates if missing. The caller closes the client.
func benchProducer(e *env, o *common, c *benchConfig) (*kgo.Client, error) {
	opts, err := producerOpts(c.acks, c.topic, c.linger, o.timeout)
	if err != nil {
		return nil, err
	}
	codec, err := parseCompression(c.compression)
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.ProducerBatchMaxBytes(1_000_000),
		kgo.ProducerBatchCompression(codec),
		kgo.MaxBufferedRecords(benchMaxBufferedRecords),
		kgo.MaxBufferedBytes(benchMaxBufferedBytes),
	)
	cl, adm, err := o.client(e.ctx, opts...)
	if err != nil {
		return nil, err
	}
	setupCtx, cancel := context.WithTimeout(e.ctx, adminTimeout)
	err = ensureTopic(setupCtx, adm, o, c)
	cancel()
	if err != nil {
		cl.Close()
		return nil, err
	}
	return cl, nil
}

// benchTally collects bench produce outcomes: acks with their latency, and
// failures with the first cause. Records are recycled through pool once
// their promise ran; the promise is one method value shared by all records,
// so producing costs no closure per record.
type benchTally struct {
	hist     histogram
	acked    atomic.Int64
	failed   atomic.Int64
	errOnce  sync.Once
	firstErr error // set once under errOnce
	pool     sync.Pool
}

func newBenchTally() *benchTally {
	t := &benchTally{}
	t.pool.New = func() any { return &benchRec{Context: context.Background()} }
	return t
}

// promise is the kgo promise of every bench record; kgo calls it from its
// own goroutines.
func (t *benchTally) promise(r *kgo.Record, err error) {
	br := r.Context.(*benchRec)
	if err != nil {
		t.failed.Add(1)
		t.errOnce.Do(func() { t.firstErr = err })
	} else {
		t.hist.record(time.Since(br.start))
		t.acked.Add(1)
	}
	t.pool.Put(br)
}

func benchConsume(e *env, o *common, c *benchConfig) (benchResult, error) {
	res := benchResult{Mode: "consume", Target: o.brokers, Topic: c.topic}
	cl, adm, err := o.client(e.ctx,
		kgo.ConsumeTopics(c.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(64*mib),
		kgo.FetchMaxPartitionBytes(8*mib),
	)
	if err != nil {
		return res, err
	}
	defer cl.Close()

	available, err := availableRecords(e, adm, o, c.topic)
	if err != nil {
		return res, err
	}
	want := c.records
	if want == 0 {
		want = available
	}
	if want > available {
		return res, friendly(ErrIncomplete, nil, "topic %s holds %d records, fewer than --records %d — produce more first with `strom bench produce --topic %s --records %d`", c.topic, available, want, c.topic, want)
	}

	var got, bytes atomic.Int64
	start := time.Now()
	stopProgress := progress(e, c.progress, "bench consume", start, &got, -1, nil)
	defer stopProgress()
	for got.Load() < want {
		pctx, cancel := e.ctx, context.CancelFunc(func() {})
		if o.timeout > 0 {
			pctx, cancel = context.WithTimeout(e.ctx, o.timeout)
		}
		fetches := cl.PollFetches(pctx)
		idle := pctx.Err() != nil // read before cancel, which always sets it
		cancel()
		if e.ctx.Err() != nil {
			break
		}
		n, b, fetchErr := countFetches(fetches)
		got.Add(n)
		bytes.Add(b)
		if n == 0 && idle {
			break // idle for --timeout
		}
		if fetchErr != nil && n == 0 {
			return res, explainTopic(o.wrap(fetchErr), c.topic)
		}
	}
	elapsed := time.Since(start)
	res.Records = got.Load()
	res.Bytes = bytes.Load()
	res.finish(elapsed)
	if res.Records < want && e.ctx.Err() == nil {
		return res, friendly(ErrIncomplete, nil, "consumed %d of %d records before %s without a record — is the broker serving fetches?", res.Records, want, o.timeout)
	}
	return res, nil
}

// availableRecords is how many records topic holds now (log end minus log
// start, summed over partitions): what bench consume reads when --records
// is 0, and the most it can ask for. A topic without partitions, or one
// whose offsets cannot be listed, is an error.
func availableRecords(e *env, adm *kadm.Client, o *common, topic string) (int64, error) {
	setupCtx, cancel := context.WithTimeout(e.ctx, adminTimeout)
	starts, ends, err := listOffsetBounds(setupCtx, adm, []string{topic})
	cancel()
	if err != nil {
		return 0, explainTopic(o.wrap(err), topic)
	}
	var available int64
	var listErr error
	ends.Each(func(lo kadm.ListedOffset) {
		if lo.Err != nil {
			listErr = lo.Err
			return
		}
		if s, ok := starts.Lookup(lo.Topic, lo.Partition); ok && s.Err == nil {
			available += lo.Offset - s.Offset
		}
	})
	if listErr != nil || len(ends[topic]) == 0 {
		return 0, explainTopic(errors.Join(listErr, kerr.UnknownTopicOrPartition), topic)
	}
	return available, nil
}

// countFetches counts the records of one poll and their key+value bytes,
// and returns the first fetch error that is not just the poll's deadline.
func countFetches(fetches kgo.Fetches) (n, b int64, fetchErr error) {
	fetches.EachError(func(_ string, _ int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && fetchErr == nil {
			fetchErr = err
		}
	})
	fetches.EachRecord(func(r *kgo.Record) {
		n++
		b += int64(len(r.Key) + len(r.Value))
	})
	return n, b, fetchErr
}

// paceEvery is how many records go between two pacing checks, so the cap
// costs one clock read per batch of records, not per record.
const paceEvery = 64

// pace sleeps until sent records are due at the given rate.
func pace(ctx context.Context, start time.Time, sent, perSec int64) {
	due := start.Add(time.Duration(float64(sent) / float64(perSec) * float64(time.Second)))
	wait := time.Until(due)
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// progress prints a line every interval to stderr with the rate over that
// interval, like the perf-test tools. recordBytes < 0 means "unknown size"
// (consume), hist may be nil. The returned function stops and waits for the
// reporter.
func progress(e *env, every time.Duration, label string, start time.Time, count *atomic.Int64, recordBytes int64, hist *histogram) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		last, lastAt := int64(0), start
		for {
			select {
			case <-done:
				return
			case <-e.ctx.Done():
				return
			case now := <-t.C:
				n := count.Load()
				secs := now.Sub(lastAt).Seconds()
				rate := float64(n-last) / secs
				line := fmt.Sprintf("%s: %d records total, %.0f records/s", label, n, rate)
				if recordBytes >= 0 {
					line += fmt.Sprintf(" (%.2f MB/s)", rate*float64(recordBytes)/mib)
				}
				if hist != nil {
					line += fmt.Sprintf(", avg latency %.2f ms, max %.2f ms", hist.avgMillis(), hist.maxMillis())
				}
				fmt.Fprintln(e.stderr, line)
				last, lastAt = n, now
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}

// Producer buffering for bench runs. Enough to keep several 1 MB batches per
// partition in flight at a million records/s, not so much that latency
// measures queueing or GC dominates (Kafka's buffer.memory default is 32 MB).
var (
	benchMaxBufferedRecords = 64 << 10
	benchMaxBufferedBytes   = 32 * mib
)
