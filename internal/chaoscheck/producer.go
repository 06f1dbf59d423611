package chaoscheck

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Options shape the workload. The zero value of a field means its default.
type Options struct {
	// Partitions is how many partitions the topic has, all written to
	// (default 3).
	Partitions int
	// Window bounds unanswered records per partition (default 64), so a
	// partition without a leader does not pile up an unbounded backlog.
	Window int
	// Pace is the pause between two records of one partition (default
	// 5ms): steady load rather than saturating a shared 2-core host.
	Pace time.Duration
	// ClientOpts are added to the producer's client options after the seeds,
	// acks=all and manual partitioning, e.g. kgo.MetadataMinAge.
	ClientOpts []kgo.Opt
}

func (o Options) withDefaults() Options {
	if o.Partitions <= 0 {
		o.Partitions = 3
	}
	if o.Window <= 0 {
		o.Window = 64
	}
	if o.Pace <= 0 {
		o.Pace = 5 * time.Millisecond
	}
	return o
}

// Ack is one acknowledged record: its seq in the partition's production
// order, the offset the cluster answered with, when it was handed to the
// client and when the acknowledgement arrived.
type Ack struct {
	Seq      int64
	Offset   int64
	Produced time.Time
	Acked    time.Time
}

// Producer writes Value(partition, seq) to every partition of a topic with
// an idempotent acks=all client and keeps exactly which records were
// acknowledged, at which offset. Its methods may be called concurrently.
type Producer struct {
	cl     *kgo.Client
	topic  string
	opts   Options
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	acks   [][]Ack        // per partition, in acknowledgement order
	failed []string       // values whose produce failed: not acknowledged, maybe written
	errs   map[string]int // produce error text → count
}

// StartProducer starts one producing goroutine per partition. The test's
// cleanup halts them and closes the client; Stop drains it earlier.
func StartProducer(t testing.TB, seeds []string, topic string, o Options) *Producer {
	t.Helper()
	o = o.withDefaults()
	opts := append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner())}, o.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("chaos producer client: %v", err)
	}
	p := &Producer{cl: cl, topic: topic, opts: o, acks: make([][]Ack, o.Partitions), errs: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	for part := range o.Partitions {
		p.wg.Go(func() { p.run(ctx, int32(part)) })
	}
	t.Cleanup(func() {
		p.Halt()
		cl.Close()
	})
	return p
}

func (p *Producer) run(ctx context.Context, part int32) {
	window := make(chan struct{}, p.opts.Window)
	for seq := int64(0); ; seq++ {
		select {
		case <-ctx.Done():
			return
		case window <- struct{}{}:
		}
		value := Value(part, seq)
		produced := time.Now()
		// Not ctx: halting must not fail records in flight; Stop waits
		// for their answers instead.
		p.cl.Produce(context.Background(), &kgo.Record{Topic: p.topic, Partition: part, Value: []byte(value)}, func(r *kgo.Record, err error) {
			now := time.Now()
			<-window
			p.mu.Lock()
			defer p.mu.Unlock()
			if err != nil {
				p.failed = append(p.failed, value)
				p.errs[err.Error()]++
				return
			}
			p.acks[part] = append(p.acks[part], Ack{Seq: seq, Offset: r.Offset, Produced: produced, Acked: now})
		})
		select {
		case <-ctx.Done():
			return
		case <-time.After(p.opts.Pace):
		}
	}
}

// Halt stops producing new records without waiting for the records in
// flight; it is idempotent.
func (p *Producer) Halt() {
	p.cancel()
	p.wg.Wait()
}

// Stop halts production and waits up to timeout until every record produced
// has been answered (acknowledged or failed), failing the test otherwise.
func (p *Producer) Stop(t testing.TB, timeout time.Duration) {
	t.Helper()
	p.Halt()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := p.cl.Flush(ctx); err != nil {
		t.Errorf("producer: records still unanswered %v after production stopped: %v", timeout, err)
	}
}

// Partitions is the number of partitions written to.
func (p *Producer) Partitions() int { return p.opts.Partitions }

// AckCount is the number of records acknowledged so far.
func (p *Producer) AckCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, a := range p.acks {
		n += len(a)
	}
	return n
}

// ProducedAndAckedBetween lists, as "p<partition>@<offset>" with its
// times, the records both produced and acknowledged in [from, to): writes
// issued after a fault and acknowledged before it ended.
func (p *Producer) ProducedAndAckedBetween(from, to time.Time) []string {
	return p.acksWhere(from, func(a Ack) bool { return !a.Produced.Before(from) && a.Acked.Before(to) })
}

// AckedBetween lists the records acknowledged in [from, to), whenever they
// were produced, like ProducedAndAckedBetween.
func (p *Producer) AckedBetween(from, to time.Time) []string {
	return p.acksWhere(from, func(a Ack) bool { return !a.Acked.Before(from) && a.Acked.Before(to) })
}

func (p *Producer) acksWhere(base time.Time, keep func(Ack) bool) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for part, acks := range p.acks {
		for _, a := range acks {
			if keep(a) {
				out = append(out, fmt.Sprintf("p%d@%d (produced %+v, acked %+v)", part, a.Offset,
					a.Produced.Sub(base).Round(time.Millisecond), a.Acked.Sub(base).Round(time.Millisecond)))
			}
		}
	}
	return out
}

// WaitAcks waits until at least n more records than now are acknowledged,
// failing the test after timeout.
func (p *Producer) WaitAcks(ctx context.Context, t testing.TB, n int, timeout time.Duration, what string) {
	t.Helper()
	target := p.AckCount() + n
	WaitFor(ctx, t, timeout, what, func() error {
		if got := p.AckCount(); got < target {
			return fmt.Errorf("%d acknowledged, want %d", got, target)
		}
		return nil
	})
}

// FirstAckAfter returns, per partition, how long after t0 the first record
// produced at or after t0 was acknowledged (-1: none was): the
// unavailability a fault at t0 caused.
func (p *Producer) FirstAckAfter(t0 time.Time) []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]time.Duration, len(p.acks))
	for part, acks := range p.acks {
		out[part] = -1
		for _, a := range acks {
			if !a.Produced.Before(t0) {
				out[part] = a.Acked.Sub(t0)
				break
			}
		}
	}
	return out
}

// Outcome is a copy of what the producer was told so far: the
// acknowledgements per partition, the number of failed produces and their
// errors (error text → count).
func (p *Producer) Outcome() (acks [][]Ack, failed int, errs map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	acks = make([][]Ack, len(p.acks))
	for i, a := range p.acks {
		acks[i] = append([]Ack(nil), a...)
	}
	return acks, len(p.failed), maps.Clone(p.errs)
}
