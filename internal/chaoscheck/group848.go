package chaoscheck

// KIP-848 group consumers for the consumer-group tests (internal/server,
// internal/cluster): franz-go members speaking the consumer protocol that
// record which partitions each holds, from the assigned, revoked and lost
// callbacks, and every value delivered, so a test can assert that no
// partition ever had two owners and no record was delivered twice.

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Ownership records which consumer holds each partition, from the
// assigned/revoked/lost callbacks, and counts records seen; a partition
// given to a second consumer before the first let it go is an error.
type Ownership struct {
	t      testing.TB
	mu     sync.Mutex
	owner  map[string]string // "topic/partition" -> consumer
	seen   map[string]int    // record value -> times delivered
	errs   []string
	assign map[string]int // consumer -> partitions held
}

// NewOwnership returns an empty tracker reporting to t.
func NewOwnership(t testing.TB) *Ownership {
	return &Ownership{t: t, owner: map[string]string{}, seen: map[string]int{}, assign: map[string]int{}}
}

// Assigned records partitions given to who.
func (o *Ownership) Assigned(who string, m map[string][]int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for t, ps := range m {
		for _, p := range ps {
			k := fmt.Sprintf("%s/%d", t, p)
			if cur := o.owner[k]; cur != "" && cur != who {
				o.errs = append(o.errs, fmt.Sprintf("%s assigned to %s while %s owns it", k, who, cur))
			}
			o.owner[k] = who
			o.assign[who]++
		}
	}
}

// Released records partitions who let go (revoked or lost).
func (o *Ownership) Released(who string, m map[string][]int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for t, ps := range m {
		for _, p := range ps {
			k := fmt.Sprintf("%s/%d", t, p)
			if o.owner[k] == who {
				delete(o.owner, k)
				o.assign[who]--
			}
		}
	}
}

// Held is how many partitions who holds now.
func (o *Ownership) Held(who string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.assign[who]
}

// Total is how many distinct values were delivered.
func (o *Ownership) Total() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.seen)
}

// Check fails the test on double ownership or a record delivered twice.
func (o *Ownership) Check() {
	o.t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range o.errs {
		o.t.Error(e)
	}
	for v, n := range o.seen {
		if n > 1 {
			o.t.Errorf("record %s delivered %d times", v, n)
		}
	}
}

// StartConsumer848 runs a KIP-848 consumer that records what it gets and
// commits it: synchronously after each poll, and in the revoke callback
// before it lets partitions go. Stop with the returned func (leaves).
func StartConsumer848(t testing.TB, seeds []string, group, topic, who string, o *Ownership, extra ...kgo.Opt) (stop func()) {
	t.Helper()
	var cl *kgo.Client
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ServerSideBalancer(),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.FetchMaxWait(100 * time.Millisecond),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { o.Assigned(who, m) }),
		kgo.OnPartitionsRevoked(func(ctx context.Context, c *kgo.Client, m map[string][]int32) {
			if err := c.CommitUncommittedOffsets(ctx); err != nil {
				t.Logf("%s: commit on revoke: %v", who, err)
			}
			o.Released(who, m)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { o.Released(who, m) }),
	}, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("new consumer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			o.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) { o.seen[string(r.Value)]++ })
			o.mu.Unlock()
			if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
				t.Logf("%s: commit: %v", who, err)
			}
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			cl.Close() // commits nothing more (autocommit off); leaves the group
		})
	}
	t.Cleanup(stop)
	return stop
}
