package server

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fastConsumerGroups makes KIP-848 members heartbeat every 100ms.
func fastConsumerGroups(c *Config) {
	c.GroupConsumerHeartbeatInterval = 100 * time.Millisecond
	c.GroupConsumerSessionTimeout = 3 * time.Second
}

// ownership records which consumer holds each partition, from the
// assigned/revoked/lost callbacks, and counts records seen; a partition
// given to a second consumer before the first let it go is an error.
type ownership struct {
	t      testing.TB
	mu     sync.Mutex
	owner  map[string]string // "topic/partition" -> consumer
	seen   map[string]int    // record value -> times delivered
	errs   []string
	assign map[string]int // consumer -> partitions held
}

func newOwnership(t testing.TB) *ownership {
	return &ownership{t: t, owner: map[string]string{}, seen: map[string]int{}, assign: map[string]int{}}
}

func (o *ownership) assigned(who string, m map[string][]int32) {
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

func (o *ownership) released(who string, m map[string][]int32) {
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

func (o *ownership) held(who string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.assign[who]
}

func (o *ownership) total() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.seen)
}

// check fails the test on double ownership or a record delivered twice.
func (o *ownership) check() {
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

// startConsumer848 runs a KIP-848 consumer that records what it gets and
// commits it: synchronously after each poll, and in the revoke callback
// before it lets partitions go. Stop with the returned func (leaves).
func startConsumer848(t testing.TB, seeds []string, group, topic, who string, o *ownership, extra ...kgo.Opt) (stop func()) {
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
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { o.assigned(who, m) }),
		kgo.OnPartitionsRevoked(func(ctx context.Context, c *kgo.Client, m map[string][]int32) {
			if err := c.CommitUncommittedOffsets(ctx); err != nil {
				t.Logf("%s: commit on revoke: %v", who, err)
			}
			o.released(who, m)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { o.released(who, m) }),
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

func produceValues(ctx context.Context, t testing.TB, cl *kgo.Client, topic string, from, n int) {
	t.Helper()
	rs := make([]*kgo.Record, 0, n)
	for i := from; i < from+n; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("v%05d", i))})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// TestConsumerGroup848Rebalance: franz-go consumers speaking KIP-848 join
// and leave a group; partitions move without ever having two owners, and
// every record is delivered exactly once across the rebalances.
func TestConsumerGroup848Rebalance(t *testing.T) {
	_, addr := startTestServer(t, fastConsumerGroups)
	ctx := testCtx(t, 60*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "t848", 6); err != nil {
		t.Fatal(err)
	}
	prod := newClient(t, addr, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	produceValues(ctx, t, prod, "t848", 0, 300)

	o := newOwnership(t)
	seeds := []string{addr}
	stopA := startConsumer848(t, seeds, "g848", "t848", "a", o)
	waitUntil(t, 10*time.Second, "a owns all 6 partitions", func() bool { return o.held("a") == 6 })
	startConsumer848(t, seeds, "g848", "t848", "b", o)
	waitUntil(t, 10*time.Second, "a and b own 3 each", func() bool { return o.held("a") == 3 && o.held("b") == 3 })
	produceValues(ctx, t, prod, "t848", 300, 300)
	waitUntil(t, 10*time.Second, "600 records", func() bool { return o.total() == 600 })

	adm := kadm.NewClient(prod)
	described, err := adm.DescribeConsumerGroups(ctx, "g848")
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	d := described["g848"]
	if d.Err != nil || d.State != "Stable" || len(d.Members) != 2 {
		t.Fatalf("described %+v (err %v), want Stable with 2 members", d, d.Err)
	}

	stopA()
	waitUntil(t, 10*time.Second, "b owns all 6 partitions", func() bool { return o.held("b") == 6 })
	produceValues(ctx, t, prod, "t848", 600, 300)
	waitUntil(t, 10*time.Second, "900 records", func() bool { return o.total() == 900 })
	o.check()

	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatalf("list groups: %v", err)
	}
	if lg, ok := listed["g848"]; !ok || lg.GroupType != "consumer" || lg.ProtocolType != "consumer" {
		t.Fatalf("listed %+v, want a consumer-type group", listed)
	}
}
