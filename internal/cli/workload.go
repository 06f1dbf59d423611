package cli

// bench workload: an OpenMessaging-Benchmark-like run. N topics of P
// partitions, several producers per topic at a fixed total rate, one or
// more subscriptions (consumer groups) per topic with several consumers
// each, a warm-up, then a measured period with periodic statistics and an
// aggregate: publish and end-to-end latency percentiles, rates, backlog.
//
// Latency is measured from each record's intended send time, not from the
// moment the producer got round to sending it. The pacer schedules record i
// of producer k (of n) at start + (i*n+k)/rate; when the producer is late
// (the client's buffer was full, the goroutine was descheduled, a timer
// fired late), the lateness counts in the latency of every record it
// delayed, so a stall is not hidden by the records it prevented from being
// sent (coordinated omission). OMB itself measures publish latency from the
// actual send and reports the lateness separately as "publish delay"; we
// report that delay too, so OMB's publish latency is roughly ours minus it.
// End-to-end latency is the consumer's clock minus the intended send time,
// which the producer writes into the first 8 bytes of the value (Unix
// nanoseconds, big endian) and, with millisecond precision, into the
// record's timestamp (as OMB does); records shorter than 8 bytes fall back
// to the timestamp.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// workloadConfig is one workload, named after the fields of an OMB workload
// file where there is one; it is echoed in the JSON result.
type workloadConfig struct {
	TopicPrefix              string  `json:"topic_prefix"`
	Topics                   int     `json:"topics"`
	PartitionsPerTopic       int     `json:"partitions_per_topic"`
	ReplicationFactor        int     `json:"replication_factor"` // -1: the broker's default
	RecordSize               int     `json:"record_size"`
	ProducersPerTopic        int     `json:"producers_per_topic"`
	SubscriptionsPerTopic    int     `json:"subscriptions_per_topic"`
	ConsumersPerSubscription int     `json:"consumers_per_subscription"`
	Rate                     int64   `json:"rate"` // records/s over all producers; 0 = as fast as possible
	Duration                 seconds `json:"duration_seconds"`
	Warmup                   seconds `json:"warmup_seconds"`
	Acks                     string  `json:"acks"`
	Linger                   seconds `json:"linger_seconds"`
	Compression              string  `json:"compression"`
	KeyDistribution          string  `json:"key_distribution"`
	ProducerBatchBytes       int     `json:"producer_batch_bytes"`
	FetchMaxWait             seconds `json:"fetch_max_wait_seconds"`
	FetchMinBytes            int     `json:"fetch_min_bytes"`
	Progress                 seconds `json:"progress_seconds"`
	DrainTimeout             seconds `json:"drain_timeout_seconds"`
	Keep                     bool    `json:"keep"`
}

// seconds is a duration that reads and writes JSON as a number of seconds.
type seconds time.Duration

func (s seconds) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(s).Seconds()) }

func (s *seconds) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*s = seconds(f * float64(time.Second))
	return nil
}

// workloadKeys is the size of the key pool of the random and round-robin
// key distributions (OMB uses 10,000 keys too).
const workloadKeys = 10_000

func workloadFlags(e *env) (*flag.FlagSet, *common, *workloadConfig) {
	fs, o := newFlags(e, "bench workload",
		"bench workload [--topics 1] [--partitions-per-topic 16] [--record-size 1024] [--producers 1] [--subscriptions 1] [--consumers 1] [--rate 10000] [--duration 1m] [--warmup 10s]",
		30*time.Second, "bound setup requests, and fail a record not acknowledged within this time")
	c := &workloadConfig{}
	fs.StringVar(&c.TopicPrefix, "topic-prefix", "strom-workload", "topic names are PREFIX-RUNID-N; groups PREFIX-RUNID-N-sub-M")
	fs.IntVar(&c.Topics, "topics", 1, "number of topics")
	fs.IntVar(&c.PartitionsPerTopic, "partitions-per-topic", 16, "partitions of each topic")
	fs.IntVar(&c.ReplicationFactor, "replication-factor", -1, "replication factor of the topics (-1: the broker's default)")
	fs.IntVar(&c.RecordSize, "record-size", 1024, "value size in bytes (random, incompressible)")
	fs.IntVar(&c.ProducersPerTopic, "producers", 1, "producers per topic, each its own client")
	fs.IntVar(&c.SubscriptionsPerTopic, "subscriptions", 1, "subscriptions (consumer groups) per topic; each reads every record")
	fs.IntVar(&c.ConsumersPerSubscription, "consumers", 1, "consumers per subscription, each its own client in the group")
	fs.Int64Var(&c.Rate, "rate", 10_000, "target records/s over all producers (0: as fast as possible)")
	fs.DurationVar((*time.Duration)(&c.Duration), "duration", time.Minute, "measured time, after the warm-up")
	fs.DurationVar((*time.Duration)(&c.Warmup), "warmup", 10*time.Second, "time run before measuring; excluded from the aggregate")
	fs.StringVar(&c.Acks, "acks", "all", "all, 1 or 0")
	fs.DurationVar((*time.Duration)(&c.Linger), "linger", time.Millisecond, "producer linger (OMB's Kafka driver uses linger.ms=1)")
	fs.StringVar(&c.Compression, "compression", "none", "batch compression: none, gzip, snappy, lz4, zstd")
	fs.StringVar(&c.KeyDistribution, "key-distribution", "none", "record keys: none (sticky partitioning), random or round-robin (over 10,000 keys)")
	fs.IntVar(&c.ProducerBatchBytes, "producer-batch-bytes", 1_000_000, "largest record batch a producer builds")
	fs.DurationVar((*time.Duration)(&c.FetchMaxWait), "fetch-max-wait", 500*time.Millisecond, "longest a fetch waits for --fetch-min-bytes")
	fs.IntVar(&c.FetchMinBytes, "fetch-min-bytes", 1, "bytes a fetch waits for")
	fs.DurationVar((*time.Duration)(&c.Progress), "progress", 5*time.Second, "interval of the statistics: a line on stderr and an entry of \"intervals\" in --json (0: no lines, one interval per phase)")
	fs.DurationVar((*time.Duration)(&c.DrainTimeout), "drain-timeout", 30*time.Second, "after producing stops, how long consumers may take to read every acknowledged record")
	fs.BoolVar(&c.Keep, "keep", false, "keep the topics (and consumer groups) instead of deleting them at the end")
	return fs, o, c
}

func (c *workloadConfig) validate() error {
	switch {
	case c.TopicPrefix == "":
		return usageErr("--topic-prefix must not be empty")
	case c.Topics < 1 || c.Topics > 10_000:
		return usageErr("--topics must be between 1 and 10000")
	case c.PartitionsPerTopic < 1 || c.PartitionsPerTopic > 1<<20:
		return usageErr("--partitions-per-topic must be positive")
	case c.ReplicationFactor == 0 || c.ReplicationFactor < -1 || c.ReplicationFactor > 1<<15-1:
		return usageErr("--replication-factor must be positive or -1")
	case c.RecordSize < 0 || c.RecordSize > 64*mib:
		return usageErr("--record-size must be between 0 and %d", 64*mib)
	case c.ProducersPerTopic < 1 || c.ProducersPerTopic > 1000:
		return usageErr("--producers must be between 1 and 1000")
	case c.SubscriptionsPerTopic < 1 || c.SubscriptionsPerTopic > 1000:
		return usageErr("--subscriptions must be between 1 and 1000")
	case c.ConsumersPerSubscription < 1 || c.ConsumersPerSubscription > 1000:
		return usageErr("--consumers must be between 1 and 1000")
	case c.Rate < 0:
		return usageErr("--rate must be >= 0")
	case c.Duration <= 0:
		return usageErr("--duration must be positive")
	case c.Warmup < 0 || c.Progress < 0 || c.DrainTimeout < 0 || c.Linger < 0 || c.FetchMaxWait < 0:
		return usageErr("durations must not be negative")
	case c.ProducerBatchBytes < 1 || c.FetchMinBytes < 0:
		return usageErr("--producer-batch-bytes must be positive and --fetch-min-bytes >= 0")
	case c.KeyDistribution != "none" && c.KeyDistribution != "random" && c.KeyDistribution != "round-robin":
		return usageErr("--key-distribution %q: use none, random or round-robin", c.KeyDistribution)
	}
	if _, err := parseAcks(c.Acks); err != nil {
		return err
	}
	_, err := parseCompression(c.Compression)
	return err
}

// workload is one run: its configuration, clients and counters. Producer
// promises and consumer goroutines write the counters and histograms; only
// the run's own goroutine takes snapshots.
type workload struct {
	cfg    *workloadConfig
	o      *common
	runID  string
	topics []string
	keys   [][]byte
	value  []byte // payload template, copied into each pooled record

	pool sync.Pool // of *wlRec

	sent, acked, failed, aborted atomic.Int64
	consumed, consumedB          atomic.Int64
	fetchErrors                  atomic.Int64
	pub, delay, e2e              histogram
	errOnce                      sync.Once
	firstErr                     error // set once under errOnce, with the record's topic
	firstTopic                   string

	producing                    context.Context // cancelled when producing stops
	sendCtx                      context.Context // Produce's: cancelled only by Ctrl-C
	consumerCtx                  context.Context // cancelled when consumers stop
	stopProducers, stopConsumers context.CancelFunc
	producers                    []*wlProducer
	groups                       []*wlGroup
	producerWG, consumerWG       sync.WaitGroup
	recordBytesKV                int64 // typical key+value bytes of a record, for publish MB/s
}

// wlRec is a record with its intended send time and its own value buffer;
// like benchRec, its Context points back at it so the shared promise needs no
// closure, and it returns to the pool once its promise ran.
type wlRec struct {
	context.Context
	rec      kgo.Record
	intended time.Time
	value    []byte
}

type wlProducer struct {
	cl    *kgo.Client
	topic string
	index int // among all producers, for the pacer's interleaving
}

// wlGroup is one subscription of one topic. next[p] is one past the highest
// offset of partition p any of its consumers received, so draining can tell
// when every record in the log was read even if a rebalance redelivered
// some.
type wlGroup struct {
	name      string
	topic     string
	next      []atomic.Int64
	consumers []*wlConsumer
}

type wlConsumer struct {
	cl       *kgo.Client
	group    *wlGroup
	assigned atomic.Int64 // partitions currently assigned
}

func benchWorkloadCmd(e *env, args []string) error {
	fs, o, c := workloadFlags(e)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("bench workload takes no positional arguments (got %q)", strings.Join(pos, " "))
	}
	if err := c.validate(); err != nil {
		return err
	}
	res, err := runWorkload(e, o, c)
	if res == nil {
		if err != nil && e.ctx.Err() != nil {
			return fmt.Errorf("interrupted while setting up, before anything was measured: %w", err)
		}
		return err
	}
	if err != nil {
		res.Error = err.Error()
	}
	var outErr error
	if o.json {
		outErr = writeJSON(e.stdout, res)
	} else {
		outErr = writeWorkloadSummary(e.stdout, res)
	}
	return errors.Join(err, outErr)
}

// runWorkload sets up, runs and tears down one workload. A nil result means
// setup failed before anything was measured.
func runWorkload(e *env, o *common, c *workloadConfig) (*workloadResult, error) {
	w, err := newWorkload(o, c)
	if err != nil {
		return nil, err
	}
	adminCl, adm, err := o.client(e.ctx)
	if err != nil {
		return nil, err
	}
	defer adminCl.Close()
	created, err := w.createTopics(e, adm)
	defer func() {
		if !c.Keep {
			w.cleanup(e, adm, created)
		}
	}()
	if err != nil {
		return nil, err
	}
	if err := w.startConsumers(e); err != nil {
		w.closeConsumers()
		return nil, err
	}
	defer w.closeConsumers()
	if err := w.startProducers(e); err != nil {
		w.closeProducers()
		return nil, err
	}
	res := &workloadResult{Mode: "workload", Target: o.brokers, Config: *c, Topics: w.topics}
	runErr := w.run(e, adm, res)
	return res, runErr
}

func newWorkload(o *common, c *workloadConfig) (*workload, error) {
	var id [3]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	w := &workload{cfg: c, o: o, runID: hex.EncodeToString(id[:])}
	for i := range c.Topics {
		w.topics = append(w.topics, fmt.Sprintf("%s-%s-%d", c.TopicPrefix, w.runID, i))
	}
	if c.KeyDistribution != "none" {
		for i := range workloadKeys {
			w.keys = append(w.keys, fmt.Appendf(nil, "key-%d", i))
		}
	}
	// A random payload, like OMB's payload files, so compression measures
	// real data and not a repeated pattern.
	w.value = make([]byte, c.RecordSize)
	if _, err := rand.Read(w.value); err != nil {
		return nil, err
	}
	w.recordBytesKV = int64(c.RecordSize)
	if len(w.keys) > 0 {
		w.recordBytesKV += int64(len(w.keys[len(w.keys)/2])) // typical key length
	}
	w.pool.New = func() any {
		return &wlRec{Context: context.Background(), value: append([]byte(nil), w.value...)}
	}
	return w, nil
}

// createTopics creates the run's topics and waits until every partition has
// a leader. It returns the topics it created, for cleanup, even on error.
func (w *workload) createTopics(e *env, adm *kadm.Client) ([]string, error) {
	ctx, cancel := context.WithTimeout(e.ctx, max(w.o.timeout, adminTimeout))
	defer cancel()
	resps, err := adm.CreateTopics(ctx, int32(w.cfg.PartitionsPerTopic), int16(w.cfg.ReplicationFactor), nil, w.topics...)
	if err != nil {
		return nil, w.o.wrap(err)
	}
	var created []string
	var firstErr error
	for _, t := range w.topics {
		r, ok := resps[t]
		switch {
		case !ok:
			firstErr = firstOf(firstErr, explainTopic(fmt.Errorf("no CreateTopics answer"), t))
		case r.Err != nil:
			firstErr = firstOf(firstErr, explainTopic(withMessage(r.Err, r.ErrMessage), t))
		default:
			created = append(created, t)
		}
	}
	if firstErr != nil {
		return created, firstErr
	}
	for {
		tds, err := adm.ListTopics(ctx, w.topics...)
		if err == nil && topicsReady(tds, w.topics, w.cfg.PartitionsPerTopic) {
			return created, nil
		}
		select {
		case <-ctx.Done():
			return created, friendly(ErrUnreachable, ctx.Err(), "topics %s-%s-* created but their partitions have no leader yet after %s — is the cluster healthy? (`strom cluster`)", w.cfg.TopicPrefix, w.runID, max(w.o.timeout, adminTimeout))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func firstOf(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func topicsReady(tds kadm.TopicDetails, topics []string, partitions int) bool {
	for _, t := range topics {
		td, ok := tds[t]
		if !ok || td.Err != nil || len(td.Partitions) != partitions {
			return false
		}
		for _, p := range td.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return false
			}
		}
	}
	return true
}

// cleanup deletes the run's topics and consumer groups (after the consumers
// left them). Failures are reported on stderr and do not fail the run: the
// measurement is done.
func (w *workload) cleanup(e *env, adm *kadm.Client, topics []string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(e.ctx), max(w.o.timeout, adminTimeout))
	defer cancel()
	w.closeConsumers()
	if len(w.groups) > 0 {
		names := make([]string, 0, len(w.groups))
		for _, g := range w.groups {
			names = append(names, g.name)
		}
		resps, err := adm.DeleteGroups(ctx, names...)
		if err == nil {
			for _, r := range resps {
				if r.Err != nil && !errors.Is(r.Err, kerr.GroupIDNotFound) {
					err = firstOf(err, fmt.Errorf("group %s: %w", r.Group, r.Err))
				}
			}
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "bench workload: deleting consumer groups: %v\n", w.o.wrap(err))
		}
	}
	if len(topics) == 0 {
		return
	}
	resps, err := adm.DeleteTopics(ctx, topics...)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "bench workload: deleting topics %s: %v\n", strings.Join(topics, ","), w.o.wrap(err))
	}
}

// run produces and consumes through the warm-up and the measured period,
// printing and collecting statistics every --progress, then stops the
// producers, drains the consumers and fills res. Ctrl-C ends it early with
// the statistics so far (res.Interrupted).
func (w *workload) run(e *env, adm *kadm.Client, res *workloadResult) error {
	c := w.cfg
	if c.Progress > 0 {
		fmt.Fprintf(e.stderr, "bench workload: %s; topics %s-%s-0..%d\n", w.describe(), c.TopicPrefix, w.runID, c.Topics-1)
	}
	first := w.snap()
	runStart := first.at
	for _, p := range w.producers {
		w.producerWG.Add(1)
		go func() {
			defer w.producerWG.Done()
			w.produce(p, runStart)
		}()
	}
	m := w.measure(e, first, res)

	flushErr := w.closeProducers()
	var drainErr error
	if !res.Interrupted {
		drainErr = w.drain(e, adm, &res.Totals)
	}
	final := w.snap()
	m.peaks = maxPeaks(m.peaks, peaksOf(final))
	w.closeConsumers()

	agg := w.stats(runStart, m.warm, m.stop, m.peaks)
	lat := w.stats(runStart, m.warm, final, m.peaks)
	agg.PublishLatency, agg.PublishDelay, agg.EndToEnd = lat.PublishLatency, lat.PublishDelay, lat.EndToEnd
	agg.Warmup = res.Aggregate.Warmup
	res.Aggregate = agg
	t := &res.Totals
	t.Sent, t.Published, t.Failed, t.Aborted = w.sent.Load(), w.acked.Load(), w.failed.Load(), w.aborted.Load()
	t.Consumed, t.FetchErrors = w.consumed.Load(), w.fetchErrors.Load()

	switch {
	case t.Failed > 0:
		w.errOnce.Do(func() {}) // synchronizes with the promise that set firstErr
		return deliveryErr(t.Failed, t.Sent, w.firstErr, nil, w.firstTopic, w.o)
	case flushErr != nil:
		return deliveryErr(0, t.Sent, nil, flushErr, "", w.o)
	}
	return drainErr
}

// measured is what the warm-up and measured period leave for the aggregate:
// the snapshots at the end of the warm-up and at the end of producing, and
// the latency peaks seen after the warm-up.
type measured struct {
	warm, stop *wlSnap
	peaks      [3]int64
}

// measure waits out the warm-up and the measured period from first (the
// run's start), appending an interval to res every --progress and at each
// phase's end, until the period ends or Ctrl-C.
func (w *workload) measure(e *env, first *wlSnap, res *workloadResult) measured {
	c := w.cfg
	runStart, prev := first.at, first
	warmEnd := runStart.Add(time.Duration(c.Warmup))
	end := warmEnd.Add(time.Duration(c.Duration))
	m := measured{warm: first}
	inWarmup := c.Warmup > 0
	phaseStart := runStart
	if !inWarmup {
		phaseStart = warmEnd
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for tick := 1; ; tick++ {
		// The next boundary: the next --progress tick of this phase, or
		// the phase's end, whichever comes first (drift-free: computed
		// from the phase start, not from the previous wake-up).
		phaseEnd := end
		if inWarmup {
			phaseEnd = warmEnd
		}
		next := phaseEnd
		if c.Progress > 0 {
			if t := phaseStart.Add(time.Duration(tick) * time.Duration(c.Progress)); t.Before(phaseEnd) {
				next = t
			}
		}
		timer.Reset(time.Until(next))
		interrupted := false
		select {
		case <-timer.C:
		case <-e.ctx.Done():
			interrupted = true
		}
		s := w.snap()
		iv := w.stats(runStart, prev, s, peaksOf(s))
		iv.Warmup = inWarmup
		res.Intervals = append(res.Intervals, iv)
		if c.Progress > 0 {
			line := progressLine(iv)
			if interrupted {
				line += " (interrupted)"
			}
			fmt.Fprintln(e.stderr, line)
		}
		if !inWarmup {
			m.peaks = maxPeaks(m.peaks, peaksOf(s))
		}
		prev = s
		if interrupted {
			res.Interrupted = true
			break
		}
		if inWarmup && !s.at.Before(warmEnd) {
			inWarmup, phaseStart, tick, m.warm = false, warmEnd, 0, s
			continue
		}
		if !inWarmup && !s.at.Before(end) {
			break
		}
	}
	m.stop = prev
	if res.Interrupted && inWarmup {
		m.warm = m.stop // nothing was measured
		res.Aggregate.Warmup = true
	}
	return m
}

// drain waits until every subscription has read every record in its
// topic's log, or --drain-timeout passes. It sets totals.Expected and
// Missing.
func (w *workload) drain(e *env, adm *kadm.Client, t *workloadTotals) error {
	ctx, cancel := context.WithTimeout(e.ctx, max(w.o.timeout, adminTimeout))
	ends, err := adm.ListEndOffsets(ctx, w.topics...)
	cancel()
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("%w: listing end offsets to check the consumers: %w", ErrIncomplete, w.o.wrap(err))
	}
	missing := func() (expected, missing int64) {
		for _, g := range w.groups {
			for p := range g.next {
				end, ok := ends.Lookup(g.topic, int32(p))
				if !ok {
					continue
				}
				expected += end.Offset
				missing += max(end.Offset-g.next[p].Load(), 0)
			}
		}
		return expected, missing
	}
	deadline := time.Now().Add(time.Duration(w.cfg.DrainTimeout))
	for {
		t.Expected, t.Missing = missing()
		if t.Missing == 0 || e.ctx.Err() != nil {
			return nil
		}
		if time.Now().After(deadline) {
			return friendly(ErrIncomplete, nil, "%d of %d records were not consumed within --drain-timeout %s after producing stopped — consumers too slow, or records lost?", t.Missing, t.Expected, time.Duration(w.cfg.DrainTimeout))
		}
		select {
		case <-e.ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}
