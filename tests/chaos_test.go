package tests

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	chaosTopic      = "chaos"
	chaosPartitions = 3
	// chaosWindow bounds unanswered records per partition, so a partition
	// without a leader does not pile up an unbounded backlog.
	chaosWindow = 64
	// chaosPace is the pause between two records of one partition: the
	// producer runs steadily rather than saturating a shared 2-core host.
	chaosPace = 4 * time.Millisecond
)

// envDuration reads a Go duration ("90s", "10m") or a number of seconds from
// env, or returns def.
func envDuration(t *testing.T, env string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		return def
	}
	if d, err := time.ParseDuration(v); err == nil {
		return d
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: want a duration like 90s or a number of seconds", env, v)
	}
	return time.Duration(n) * time.Second
}

// report prints a result line both to the test log and to stdout, so `make
// chaos` shows the numbers even without -v.
func report(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	t.Log(line)
	fmt.Println(t.Name() + ": " + line)
}

// chaosAck is one acknowledged record.
type chaosAck struct {
	seq      int64
	offset   int64
	produced time.Time
	acked    time.Time
}

// chaosProducer produces "p<partition>-s<seq>" values to every partition of
// the chaos topic with an idempotent acks=all client, one goroutine per
// partition, and keeps exactly which records were acknowledged.
type chaosProducer struct {
	cl     *kgo.Client
	topic  string
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	acks   [][]chaosAck // per partition, in acknowledgement order
	failed []string     // values whose produce failed: not acknowledged, maybe written
	errs   map[string]int
}

func startChaosProducer(t *testing.T, c *procCluster, topic string, partitions int) *chaosProducer {
	t.Helper()
	p := &chaosProducer{
		cl:    c.client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner())),
		topic: topic,
		acks:  make([][]chaosAck, partitions),
		errs:  map[string]int{},
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	for part := range partitions {
		p.wg.Add(1)
		go p.run(ctx, int32(part))
	}
	t.Cleanup(p.halt)
	return p
}

func (p *chaosProducer) run(ctx context.Context, part int32) {
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
		// Not ctx: stopping the producer must not fail records in flight;
		// stop waits for their answers instead.
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
			p.acks[part] = append(p.acks[part], chaosAck{seq: seq, offset: r.Offset, produced: produced, acked: now})
		})
		select {
		case <-ctx.Done():
			return
		case <-time.After(chaosPace):
		}
	}
}

// halt stops producing new records; it is idempotent.
func (p *chaosProducer) halt() {
	p.cancel()
	p.wg.Wait()
}

// stop halts production and waits until every record produced has been
// answered (acknowledged or failed).
func (p *chaosProducer) stop(t *testing.T, timeout time.Duration) {
	t.Helper()
	p.halt()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := p.cl.Flush(ctx); err != nil {
		t.Errorf("producer: records still unanswered %v after the last restart: %v", timeout, err)
	}
}

func (p *chaosProducer) ackCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, a := range p.acks {
		n += len(a)
	}
	return n
}

// firstAckAfter returns, per partition, how long after t0 the first record
// produced after t0 was acknowledged (-1: none was).
func (p *chaosProducer) firstAckAfter(t0 time.Time) []time.Duration {
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

// parseChaosValue splits "p<partition>-s<seq>".
func parseChaosValue(v []byte) (part int32, seq int64, ok bool) {
	ps, ss, found := strings.Cut(string(v), "-s")
	if !found || !strings.HasPrefix(ps, "p") {
		return 0, 0, false
	}
	p, err1 := strconv.Atoi(ps[1:])
	s, err2 := strconv.ParseInt(ss, 10, 64)
	return int32(p), s, err1 == nil && err2 == nil
}

// groupReader is a consumer-group member that reads the topic for the whole
// test and remembers which values it saw (at least once).
type groupReader struct {
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	seen map[string]int
	errs map[string]int
}

func startGroupReader(t *testing.T, c *procCluster, topic, group string) *groupReader {
	t.Helper()
	g := &groupReader{
		cl:   c.client(kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500*time.Millisecond)),
		done: make(chan struct{}),
		seen: map[string]int{},
		errs: map[string]int{},
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	go g.run(ctx)
	t.Cleanup(g.stop)
	return g
}

func (g *groupReader) run(ctx context.Context) {
	defer close(g.done)
	for ctx.Err() == nil {
		fs := g.cl.PollFetches(ctx)
		g.mu.Lock()
		fs.EachError(func(_ string, _ int32, err error) {
			if ctx.Err() == nil {
				g.errs[err.Error()]++
			}
		})
		fs.EachRecord(func(r *kgo.Record) { g.seen[string(r.Value)]++ })
		g.mu.Unlock()
	}
}

func (g *groupReader) stop() {
	g.cancel()
	<-g.done
}

// missing counts values of want the group has not seen yet.
func (g *groupReader) missing(want []string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, v := range want {
		if g.seen[v] == 0 {
			n++
		}
	}
	return n
}

// killRecord is one SIGKILL of the chaos run.
type killRecord struct {
	victim     int32
	controller bool
	led        []int32 // partitions it led at the kill
	at         time.Time
	down       time.Duration // until the restarted process served clients
	fullISR    time.Duration // from the kill until every ISR was full again
	gaps       []time.Duration
}

// TestChaosKillBrokers runs three broker processes under an idempotent
// acks=all producer and a consumer group, SIGKILLs a random broker (the
// controller first) every few seconds and restarts it on the same ports and
// data dir, for STROM_CHAOS_DURATION (default 20s). Then every acknowledged
// record must be in the log exactly once, at its acknowledged offset, in
// production order, the group must have seen all of them, and the three
// replicas of each partition must hold byte-identical logs.
func TestChaosKillBrokers(t *testing.T) {
	t.Run("KillRandomBrokers", testChaosKillRandom)
	t.Run("TwoOfThreeDown", testChaosTwoOfThreeDown)
}

func testChaosKillRandom(t *testing.T) {
	duration := envDuration(t, "STROM_CHAOS_DURATION", 20*time.Second)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("STROM_CHAOS_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("STROM_CHAOS_SEED=%q: %v", v, err)
		}
	}
	rng := rand.New(rand.NewPCG(seed, seed))
	report(t, "duration %v, seed %d (STROM_CHAOS_SEED reproduces the kill order)", duration, seed)

	c := startCluster(t, 3)
	two := "2"
	c.createTopic(chaosTopic, chaosPartitions, 3, map[string]*string{"min.insync.replicas": &two})
	meta := c.client()
	c.waitFullISR(meta, chaosTopic, chaosPartitions, 30*time.Second)

	prod := startChaosProducer(t, c, chaosTopic, chaosPartitions)
	group := startGroupReader(t, c, chaosTopic, "chaos-readers")
	waitFor(t, 30*time.Second, "first acknowledgements", func() error {
		if n := prod.ackCount(); n < 100 {
			return fmt.Errorf("%d acknowledged", n)
		}
		return nil
	})

	var kills []killRecord
	end := time.Now().Add(duration)
	for len(kills) == 0 || time.Now().Before(end) {
		ctrl := c.controller(meta, chaosTopic)
		victim := ctrl // the controller is the first victim
		if len(kills) > 0 {
			victim = int32(rng.IntN(len(c.brokers)) + 1)
		}
		k := killRecord{victim: victim, controller: victim == ctrl}
		if _, parts, err := c.metadata(meta, chaosTopic); err == nil {
			for p, ps := range parts {
				if ps.Leader == victim {
					k.led = append(k.led, int32(p))
				}
			}
		}
		c.broker(victim).Kill()
		k.at = time.Now() // the process is gone: nothing it sent can arrive later
		time.Sleep(500*time.Millisecond + time.Duration(rng.Int64N(int64(time.Second))))
		c.broker(victim).Start()
		k.down = time.Since(k.at)
		c.waitFullISR(meta, chaosTopic, chaosPartitions, 60*time.Second)
		k.fullISR = time.Since(k.at)
		kills = append(kills, k)
		t.Logf("kill #%d: broker %d (controller %v, led %v) back after %v, full ISR after %v, %d acknowledged so far",
			len(kills), k.victim, k.controller, k.led, k.down.Round(time.Millisecond), k.fullISR.Round(time.Millisecond), prod.ackCount())
		// Steady production between kills.
		time.Sleep(time.Second + time.Duration(rng.Int64N(int64(time.Second))))
	}

	// Settle: the last broker is back and every ISR is full; drain the producer.
	c.waitFullISR(meta, chaosTopic, chaosPartitions, 60*time.Second)
	prod.stop(t, 60*time.Second)

	var worst time.Duration
	var worstKill int
	for i := range kills {
		k := &kills[i]
		k.gaps = prod.firstAckAfter(k.at)
		for _, g := range k.gaps {
			if g > worst {
				worst, worstKill = g, i+1
			}
		}
		var gs []string
		for p, g := range k.gaps {
			gs = append(gs, fmt.Sprintf("p%d=%v", p, g.Round(time.Millisecond)))
		}
		report(t, "kill #%d broker %d controller=%v led=%v: kill→first ack %s; restarted in %v; full ISR after %v",
			i+1, k.victim, k.controller, k.led, strings.Join(gs, " "), k.down.Round(time.Millisecond), k.fullISR.Round(time.Millisecond))
	}
	if !slices.ContainsFunc(kills, func(k killRecord) bool { return k.controller }) {
		t.Errorf("the controller was never killed")
	}

	verifyChaos(t, c, prod, group, kills)
	report(t, "longest unavailability (kill → next acknowledged produce on the worst partition): %v (kill #%d)", worst.Round(time.Millisecond), worstKill)

	// All replicas' logs must be identical: stop gracefully, compare bytes.
	c.waitFullISR(meta, chaosTopic, chaosPartitions, 60*time.Second)
	group.stop()
	c.stopAll()
	lines, err := c.compareReplicaLogs(chaosTopic, chaosPartitions)
	for _, l := range lines {
		report(t, "replica logs %s", l)
	}
	if err != nil {
		t.Errorf("replica logs differ: %v", err)
	}
}

// verifyChaos reads the whole topic with a fresh consumer and checks it
// against what the producer was told, and that the group saw every
// acknowledged record.
func verifyChaos(t *testing.T, c *procCluster, prod *chaosProducer, group *groupReader, kills []killRecord) {
	t.Helper()
	ctx := testCtx(t, 60*time.Second)
	ends, err := kadm.NewClient(c.client()).ListEndOffsets(ctx, chaosTopic)
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	type got struct {
		seq    int64
		offset int64
	}
	logs := make([][]got, chaosPartitions)
	next := make([]int64, chaosPartitions)
	fresh := c.client(kgo.ConsumeTopics(chaosTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	caughtUp := func() bool {
		for p := range chaosPartitions {
			e, _ := ends.Lookup(chaosTopic, int32(p))
			if next[p] < e.Offset {
				return false
			}
		}
		return true
	}
	consumed, bad := 0, 0
	for !caughtUp() {
		fs := fresh.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("fresh consumer: positions %v, end offsets %v: not reached in time", next, ends)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Logf("fresh consumer partition %d: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			consumed++
			next[r.Partition] = r.Offset + 1
			part, seq, ok := parseChaosValue(r.Value)
			if !ok || part != r.Partition {
				bad++
				return
			}
			logs[part] = append(logs[part], got{seq, r.Offset})
		})
	}

	prod.mu.Lock()
	acks := prod.acks
	failed := len(prod.failed)
	perrs := prod.errs
	prod.mu.Unlock()
	acked, lost, wrongOffset, dups, ackedDups, disorder := 0, 0, 0, 0, 0, 0
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
			if len(offs) > 1 {
				dups += len(offs) - 1
			}
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
			case len(offs) > 1:
				ackedDups++
			case offs[0] != a.offset:
				wrongOffset++
				if len(lostEx) < 10 {
					lostEx = append(lostEx, fmt.Sprintf("p%d seq %d acked at offset %d but found at %d", p, a.seq, a.offset, offs[0]))
				}
			}
		}
	}
	report(t, "%d kills; acked %d, produce failures %d %v; consumed %d (unparsable %d)", len(kills), acked, failed, perrs, consumed, bad)
	report(t, "lost %d, at another offset %d, duplicates %d (of acknowledged records %d), out of order %d", lost, wrongOffset, dups, ackedDups, disorder)
	if lost > 0 || wrongOffset > 0 {
		t.Errorf("%d acknowledged records lost, %d at another offset than acknowledged, e.g. %v", lost, wrongOffset, lostEx)
	}
	if dups > 0 {
		t.Errorf("%d duplicate records (%d of them acknowledged) from an idempotent producer", dups, ackedDups)
	}
	if disorder > 0 {
		t.Errorf("%d records out of production order, e.g. %v", disorder, orderEx)
	}
	if bad > 0 {
		t.Errorf("%d records with values the producer never wrote", bad)
	}
	if acked == 0 {
		t.Errorf("nothing was acknowledged")
	}

	// The group (at least once) must have seen every acknowledged record.
	deadline := time.Now().Add(60 * time.Second)
	for group.missing(ackedValues) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	group.mu.Lock()
	seen, redelivered := len(group.seen), 0
	for _, n := range group.seen {
		redelivered += n - 1
	}
	gerrs := group.errs
	group.mu.Unlock()
	missing := group.missing(ackedValues)
	report(t, "consumer group: %d distinct values seen, %d redelivered, %d acknowledged not seen; fetch errors %v", seen, redelivered, missing, gerrs)
	if missing > 0 {
		t.Errorf("the consumer group never received %d acknowledged records", missing)
	}
}

// testChaosTwoOfThreeDown kills both followers of a partition with
// min.insync.replicas=2: acks=all writes must fail (never be acknowledged
// and then lost) until one returns, and work again after.
func testChaosTwoOfThreeDown(t *testing.T) {
	c := startCluster(t, 3)
	const topic = "two-down"
	two := "2"
	c.createTopic(topic, 1, 3, map[string]*string{"min.insync.replicas": &two})
	meta := c.client()
	c.waitFullISR(meta, topic, 1, 30*time.Second)

	// A bounded client: records give up after a few seconds instead of
	// waiting for the cluster forever. It is not idempotent: franz-go never
	// gives up an idempotent record whose fate is unknown (a timed-out
	// acks=all request), it retries it until the cluster answers; that
	// client is checked separately below.
	prod := c.client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(), kgo.RecordRetries(2),
		kgo.RecordDeliveryTimeout(4*time.Second), kgo.ProduceRequestTimeout(2*time.Second))
	idem := c.client(kgo.RequiredAcks(kgo.AllISRAcks()))
	if err := idem.ProduceSync(testCtx(t, 30*time.Second), &kgo.Record{Topic: topic, Value: []byte("idem-before")}).FirstErr(); err != nil {
		t.Fatalf("idempotent produce with all brokers up: %v", err)
	}
	type result struct {
		err error
		at  time.Time
	}
	idemDone := make(chan result, 1)
	var acked []string
	produce := func(v string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr()
		if err == nil {
			acked = append(acked, v)
		}
		return err
	}
	for i := range 20 {
		if err := produce(fmt.Sprintf("before-%d", i)); err != nil {
			t.Fatalf("produce with all brokers up: %v", err)
		}
	}

	leader := c.leaderOf(meta, topic, 0)
	var down []int32
	for _, id := range []int32{1, 2, 3} {
		if id != leader {
			c.broker(id).Kill()
			down = append(down, id)
		}
	}
	killed := time.Now()
	idem.Produce(context.Background(), &kgo.Record{Topic: topic, Value: []byte("idem-outage")}, func(_ *kgo.Record, err error) {
		idemDone <- result{err, time.Now()}
	})
	var outage []string
	for i := range 3 {
		v := fmt.Sprintf("outage-%d", i)
		start := time.Now()
		err := produce(v)
		if err == nil {
			t.Errorf("acks=all write %s acknowledged %v after brokers %v were killed (min.insync.replicas=2, only broker %d up)",
				v, time.Since(killed).Round(time.Millisecond), down, leader)
			continue
		}
		outage = append(outage, v)
		report(t, "with brokers %v down, write %s failed after %v: %v", down, v, time.Since(start).Round(time.Millisecond), err)
	}

	select {
	case r := <-idemDone:
		if r.err == nil {
			t.Errorf("idempotent acks=all record acknowledged %v after brokers %v were killed", r.at.Sub(killed).Round(time.Millisecond), down)
		} else {
			report(t, "idempotent record produced during the outage failed: %v", r.err)
		}
		idemDone <- r
	default:
		report(t, "idempotent record produced during the outage: still unanswered after %v (franz-go retries it)", time.Since(killed).Round(time.Millisecond))
	}
	c.broker(down[0]).Start()
	back := time.Now()
	var after time.Duration
	waitFor(t, 60*time.Second, "acks=all writes accepted again", func() error {
		if err := produce(fmt.Sprintf("after-%d", len(acked))); err != nil {
			return err
		}
		after = time.Since(back)
		return nil
	})
	report(t, "broker %d restarted; first acks=all write acknowledged %v after it served clients", down[0], after.Round(time.Millisecond))
	for i := range 20 {
		if err := produce(fmt.Sprintf("after-more-%d", i)); err != nil {
			t.Fatalf("produce with 2 of 3 brokers up: %v", err)
		}
	}

	select {
	case r := <-idemDone:
		if r.err == nil {
			acked = append(acked, "idem-outage")
			report(t, "idempotent record produced during the outage acknowledged %v after broker %d returned", r.at.Sub(back).Round(time.Millisecond), down[0])
		}
	case <-time.After(60 * time.Second):
		t.Errorf("idempotent record produced during the outage still unanswered 60s after broker %d returned", down[0])
	}
	acked = append(acked, "idem-before")
	c.broker(down[1]).Start()
	c.waitFullISR(meta, topic, 1, 60*time.Second)
	ctx := testCtx(t, 30*time.Second)
	ends, err := kadm.NewClient(meta).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	end, _ := ends.Lookup(topic, 0)
	seen := map[string]int{}
	for _, r := range consumeAll(t, c.bootstrap(), topic, int(end.Offset)) {
		seen[string(r.Value)]++
	}
	// The bounded client is not idempotent, so a retry of a write whose
	// first attempt timed out may legitimately be in the log twice.
	lost := 0
	var twice []string
	for _, v := range acked {
		switch {
		case seen[v] == 0:
			lost++
			t.Errorf("acknowledged %s is not in the log", v)
		case seen[v] > 1:
			twice = append(twice, v)
		}
	}
	if seen["idem-outage"] > 1 || seen["idem-before"] > 1 {
		t.Errorf("idempotent records duplicated: idem-before %d, idem-outage %d", seen["idem-before"], seen["idem-outage"])
	}
	report(t, "non-idempotent retries written twice (allowed): %v", twice)
	var written []string
	for _, v := range outage {
		if seen[v] > 0 {
			written = append(written, v)
		}
	}
	report(t, "acked %d, lost %d; failed writes later found in the log (allowed: failed is not 'not written'): %v", len(acked), lost, written)
}

// TestChaosFailoverTiming kills the leader of a partition
// STROM_FAILOVER_KILLS times (default 3) and measures the time from SIGKILL
// to the first acknowledged acks=all produce on the new leader. The numbers
// are printed, not asserted. STROM_FAILOVER_PRODUCTION_GOSSIP=1 uses
// production memberlist timers instead of the fast loopback ones.
func TestChaosFailoverTiming(t *testing.T) {
	kills := 3
	if v := os.Getenv("STROM_FAILOVER_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("STROM_FAILOVER_KILLS=%q: want a positive number", v)
		}
		kills = n
	}
	var extra []string
	mode := "fast gossip"
	if os.Getenv("STROM_FAILOVER_PRODUCTION_GOSSIP") == "1" {
		extra = append(extra, "--fast-gossip", "false")
		mode = "production gossip"
	}
	c := startCluster(t, 3, extra...)
	const topic = "failover"
	two := "2"
	c.createTopic(topic, 1, 3, map[string]*string{"min.insync.replicas": &two})
	meta := c.client()
	// The client re-reads metadata at most every 100ms: with franz-go's
	// default (MetadataMinAge 5s) the client's refresh, not the broker's
	// failover, dominates (measured here: median ~4s instead of ~1.1s).
	prod := c.client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MetadataMinAge(100*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }))
	produce := func(v string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		return prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr()
	}

	var times []time.Duration
	for i := range kills {
		c.waitFullISR(meta, topic, 1, 60*time.Second)
		if err := produce(fmt.Sprintf("warm-%d", i)); err != nil {
			t.Fatalf("produce before kill %d: %v", i+1, err)
		}
		leader := c.leaderOf(meta, topic, 0)
		start := time.Now()
		c.broker(leader).Kill()
		if err := produce(fmt.Sprintf("after-kill-%d", i)); err != nil {
			t.Fatalf("produce after killing leader %d: %v", leader, err)
		}
		d := time.Since(start)
		times = append(times, d)
		report(t, "kill %d: leader %d SIGKILLed; first acks=all produce acknowledged after %v", i+1, leader, d.Round(time.Millisecond))
		c.broker(leader).Start()
	}
	sorted := slices.Clone(times)
	slices.Sort(sorted)
	report(t, "%s, %d kills: failover (kill → acknowledged produce) median %v, max %v, min %v",
		mode, len(sorted), sorted[len(sorted)/2].Round(time.Millisecond), sorted[len(sorted)-1].Round(time.Millisecond), sorted[0].Round(time.Millisecond))
}
