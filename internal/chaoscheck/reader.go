package chaoscheck

import (
	"context"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Reader consumes a topic from the start for the whole run, as an
// application would alongside the faults, and remembers which values it saw
// and how often (delivery is at least once). Its methods may be called
// concurrently.
type Reader struct {
	cl        *kgo.Client
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once

	mu   sync.Mutex
	seen map[string]int // value → deliveries
	errs map[string]int // fetch error text → count
}

// StartReader starts a consumer of topic. Without opts it reads every
// partition directly; kgo.ConsumerGroup(name) in opts makes it a group
// member, whose rebalances and committed offsets the faults then exercise.
// The test's cleanup stops it.
func StartReader(t testing.TB, seeds []string, topic string, opts ...kgo.Opt) *Reader {
	t.Helper()
	all := append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500 * time.Millisecond)}, opts...)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		t.Fatalf("chaos reader client: %v", err)
	}
	r := &Reader{cl: cl, done: make(chan struct{}), seen: map[string]int{}, errs: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.run(ctx)
	t.Cleanup(r.Stop)
	return r
}

func (r *Reader) run(ctx context.Context) {
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

// Stop ends the reader and closes its client (leaving its group); it is
// idempotent. What it saw stays readable.
func (r *Reader) Stop() {
	r.closeOnce.Do(func() {
		r.cancel()
		<-r.done
		r.cl.Close()
	})
}

// Missing counts the values of want the reader has not seen.
func (r *Reader) Missing(want []string) int {
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

// Stats returns how many distinct values the reader saw, how many
// deliveries were repeats, and its fetch errors (error text → count).
func (r *Reader) Stats() (distinct, redelivered int, errs map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.seen {
		redelivered += n - 1
	}
	return len(r.seen), redelivered, maps.Clone(r.errs)
}
