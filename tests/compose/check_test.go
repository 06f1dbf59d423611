package compose

// The chaos checker: an idempotent acks=all producer that remembers exactly
// what was acknowledged, a consumer that runs alongside, and the end-of-run
// checks. It follows tests/chaos_test.go (the process-level chaos test); a
// test package cannot import another's helpers, so the small part needed
// here lives in this file, talking to the brokers through their host ports.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	chaosPartitions = 3
	// chaosWindow bounds unanswered records per partition, so a partition
	// without a leader does not pile up an unbounded backlog.
	chaosWindow = 64
	// chaosPace is the pause between two records of one partition: steady
	// load rather than saturating a shared 2-core host.
	chaosPace = 5 * time.Millisecond
)

// report prints a result line both to the test log and to stdout, so `make
// chaos-docker` shows the numbers even without -v.
func report(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	t.Log(line)
	fmt.Println(t.Name() + ": " + line)
}

// ack is one acknowledged record.
type ack struct {
	seq      int64
	offset   int64
	produced time.Time
	acked    time.Time
}

// producer writes "p<partition>-s<seq>" to every partition with an
// idempotent acks=all client, one goroutine per partition, and keeps which
// records were acknowledged at which offset.
type producer struct {
	cl     *kgo.Client
	topic  string
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	acks   [][]ack // per partition, in acknowledgement order
	failed int
	errs   map[string]int
}

func startProducer(t *testing.T, seeds []string, topic string) *producer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		// Re-read metadata soon after a leader moves, so the measured
		// unavailability is the cluster's, not the client's refresh timer.
		kgo.MetadataMinAge(250*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	p := &producer{cl: cl, topic: topic, acks: make([][]ack, chaosPartitions), errs: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	for part := range chaosPartitions {
		p.wg.Add(1)
		go p.run(ctx, int32(part))
	}
	t.Cleanup(func() {
		p.halt()
		cl.Close()
	})
	return p
}

func (p *producer) run(ctx context.Context, part int32) {
	defer p.wg.Done()
	window := make(chan struct{}, chaosWindow)
	for seq := int64(0); ; seq++ {
		select {
		case <-ctx.Done():
			return
		case window <- struct{}{}:
		}
		value := fmt.Sprintf("p%d-s%d", part, seq)
		produced := time.Now()
		// Not ctx: halting must not fail records in flight; stop waits
		// for their answers instead.
		p.cl.Produce(context.Background(), &kgo.Record{Topic: p.topic, Partition: part, Value: []byte(value)}, func(r *kgo.Record, err error) {
			now := time.Now()
			<-window
			p.mu.Lock()
			defer p.mu.Unlock()
			if err != nil {
				p.failed++
				p.errs[err.Error()]++
				return
			}
			p.acks[part] = append(p.acks[part], ack{seq: seq, offset: r.Offset, produced: produced, acked: now})
		})
		select {
		case <-ctx.Done():
			return
		case <-time.After(chaosPace):
		}
	}
}

// halt stops producing new records; it is idempotent.
func (p *producer) halt() {
	p.cancel()
	p.wg.Wait()
}

// stop halts production and waits until every record produced has been
// answered (acknowledged or failed).
func (p *producer) stop(t *testing.T, timeout time.Duration) {
	t.Helper()
	p.halt()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := p.cl.Flush(ctx); err != nil {
		t.Errorf("producer: records still unanswered %v after the scenario: %v", timeout, err)
	}
}

func (p *producer) ackCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, a := range p.acks {
		n += len(a)
	}
	return n
}

// waitAcks waits until at least n more records than now are acknowledged.
func (p *producer) waitAcks(ctx context.Context, t *testing.T, n int, timeout time.Duration, what string) {
	t.Helper()
	target := p.ackCount() + n
	waitFor(ctx, t, timeout, what, func() error {
		if got := p.ackCount(); got < target {
			return fmt.Errorf("%d acknowledged, want %d", got, target)
		}
		return nil
	})
}

// firstAckAfter returns, per partition, how long after t0 the first record
// produced at or after t0 was acknowledged (-1: none was).
func (p *producer) firstAckAfter(t0 time.Time) []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]time.Duration, len(p.acks))
	for part, acks := range p.acks {
		out[part] = -1
		for _, a := range acks {
			if !a.produced.Before(t0) {
				out[part] = a.acked.Sub(t0)
				break
			}
		}
	}
	return out
}

// parseValue splits "p<partition>-s<seq>".
func parseValue(v []byte) (part int32, seq int64, ok bool) {
	ps, ss, found := strings.Cut(string(v), "-s")
	if !found || !strings.HasPrefix(ps, "p") {
		return 0, 0, false
	}
	p, err1 := strconv.Atoi(ps[1:])
	s, err2 := strconv.ParseInt(ss, 10, 64)
	return int32(p), s, err1 == nil && err2 == nil
}

// reader consumes the topic (no group: it reads every partition directly)
// for the whole scenario and remembers which values it saw.
type reader struct {
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	seen map[string]int
	errs map[string]int
}

func startReader(t *testing.T, seeds []string, topic string) *reader {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500*time.Millisecond),
		kgo.MetadataMinAge(250*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	r := &reader{cl: cl, done: make(chan struct{}), seen: map[string]int{}, errs: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.run(ctx)
	t.Cleanup(r.stop)
	return r
}

func (r *reader) run(ctx context.Context) {
	defer close(r.done)
	for ctx.Err() == nil {
		fs := r.cl.PollFetches(ctx)
		r.mu.Lock()
		fs.EachError(func(_ string, _ int32, err error) {
			if ctx.Err() == nil {
				r.errs[err.Error()]++
			}
		})
		fs.EachRecord(func(rec *kgo.Record) { r.seen[string(rec.Value)]++ })
		r.mu.Unlock()
	}
}

// stop ends the reader; it is idempotent.
func (r *reader) stop() {
	r.cancel()
	<-r.done
	r.cl.Close()
}

func (r *reader) missing(want []string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, v := range want {
		if r.seen[v] == 0 {
			n++
		}
	}
	return n
}

// verify reads the whole topic with a fresh consumer and checks it against
// what the producer was told: every acknowledged record present exactly
// once at its acknowledged offset, per-partition production order, no
// duplicates, no foreign values (forbidden lists values that must not be in
// the log, such as a write to an isolated leader), and that the scenario's
// reader saw every acknowledged record.
func verify(ctx context.Context, t *testing.T, seeds []string, topic string, prod *producer, rd *reader, forbidden ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	vctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(vctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	type got struct{ seq, offset int64 }
	logs := make([][]got, chaosPartitions)
	next := make([]int64, chaosPartitions)
	caughtUp := func() bool {
		for p := range chaosPartitions {
			e, _ := ends.Lookup(topic, int32(p))
			if next[p] < e.Offset {
				return false
			}
		}
		return true
	}
	isForbidden := map[string]bool{}
	for _, v := range forbidden {
		isForbidden[v] = true
	}
	consumed, bad := 0, 0
	var present []string
	for !caughtUp() {
		fs := cl.PollFetches(vctx)
		if vctx.Err() != nil {
			t.Fatalf("fresh consumer: positions %v, end offsets %v: not reached in time", next, ends)
		}
		fs.EachRecord(func(r *kgo.Record) {
			consumed++
			next[r.Partition] = r.Offset + 1
			if isForbidden[string(r.Value)] {
				present = append(present, fmt.Sprintf("%s at p%d offset %d", r.Value, r.Partition, r.Offset))
				return
			}
			part, seq, ok := parseValue(r.Value)
			if !ok || part != r.Partition {
				bad++
				return
			}
			logs[part] = append(logs[part], got{seq, r.Offset})
		})
	}

	prod.mu.Lock()
	acks, failed, perrs := prod.acks, prod.failed, prod.errs
	prod.mu.Unlock()
	acked, lost, wrongOffset, dups, disorder := 0, 0, 0, 0, 0
	var lostEx, orderEx []string
	var ackedValues []string
	for p := range chaosPartitions {
		at := map[int64][]int64{} // seq → offsets
		for i, g := range logs[p] {
			at[g.seq] = append(at[g.seq], g.offset)
			if i > 0 && g.seq <= logs[p][i-1].seq {
				disorder++
				if len(orderEx) < 5 {
					orderEx = append(orderEx, fmt.Sprintf("p%d offset %d seq %d after seq %d", p, g.offset, g.seq, logs[p][i-1].seq))
				}
			}
		}
		for _, offs := range at {
			dups += len(offs) - 1
		}
		for _, a := range acks[p] {
			acked++
			ackedValues = append(ackedValues, fmt.Sprintf("p%d-s%d", p, a.seq))
			offs := at[a.seq]
			switch {
			case len(offs) == 0:
				lost++
				if len(lostEx) < 10 {
					lostEx = append(lostEx, fmt.Sprintf("p%d seq %d acked at offset %d", p, a.seq, a.offset))
				}
			case offs[0] != a.offset:
				wrongOffset++
				if len(lostEx) < 10 {
					lostEx = append(lostEx, fmt.Sprintf("p%d seq %d acked at offset %d but found at %d", p, a.seq, a.offset, offs[0]))
				}
			}
		}
	}
	report(t, "acked %d, produce failures %d %v; log holds %d records (unparsable %d)", acked, failed, perrs, consumed, bad)
	report(t, "lost %d, at another offset %d, duplicates %d, out of order %d", lost, wrongOffset, dups, disorder)
	if lost > 0 || wrongOffset > 0 {
		t.Errorf("%d acknowledged records lost, %d at another offset than acknowledged, e.g. %v", lost, wrongOffset, lostEx)
	}
	if dups > 0 {
		t.Errorf("%d duplicate records from an idempotent producer", dups)
	}
	if disorder > 0 {
		t.Errorf("%d records out of production order, e.g. %v", disorder, orderEx)
	}
	if bad > 0 {
		t.Errorf("%d records with values the producer never wrote", bad)
	}
	if len(present) > 0 {
		t.Errorf("unacknowledged writes that must have been truncated are in the log: %v", present)
	}
	if acked == 0 {
		t.Errorf("nothing was acknowledged")
	}

	// The scenario's consumer must have seen every acknowledged record.
	waitFor(ctx, t, 30*time.Second, "the scenario's consumer to see every acknowledged record", func() error {
		if n := rd.missing(ackedValues); n > 0 {
			return fmt.Errorf("%d acknowledged records not consumed", n)
		}
		return nil
	})
	rd.mu.Lock()
	seen, rerrs := len(rd.seen), rd.errs
	rd.mu.Unlock()
	report(t, "consumer: %d distinct values seen, all %d acknowledged among them; fetch errors %v", seen, acked, rerrs)
}

// waitFor polls fn every 200ms until it returns nil, failing the test with
// fn's last error after timeout.
func waitFor(ctx context.Context, t *testing.T, timeout time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}
