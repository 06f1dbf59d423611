package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strombroker/strom/internal/chaoscheck"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	chaosTopic      = "chaos"
	chaosPartitions = 3
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

// chaosFault is one fault the chaos run injected.
type chaosFault struct {
	kind       faultKind
	victims    []int32
	controller bool    // the controller was among the victims
	led        []int32 // partitions the victims led at the fault
	at         time.Time
	down       time.Duration // until every victim served clients again
	fullISR    time.Duration // from the fault until every ISR was full again
	gaps       []time.Duration
	refused    time.Duration // killTwo: how long both victims were down
	ackedBelow int           // killTwo: records produced and acknowledged meanwhile (must be 0)
}

// faultKind is what a chaos fault does to its victims.
type faultKind string

const (
	// faultKill SIGKILLs one broker and restarts it on the same data dir.
	faultKill faultKind = "kill"
	// faultPause SIGSTOPs one broker for 1-3 s (longer than failure
	// detection), then SIGCONTs it: a zombie leader that wakes up must not
	// acknowledge or keep anything the cluster moved on from.
	faultPause faultKind = "pause"
	// faultKillTwo SIGKILLs two brokers at once: with min.insync.replicas=2
	// every write must be refused until one returns, and nothing lost.
	faultKillTwo faultKind = "kill-two"
)

// TestChaosKillBrokers runs three broker processes under an idempotent
// acks=all producer and a consumer group and injects faults: SIGKILL of a
// broker (the controller first), SIGSTOP pauses, and two brokers killed at
// once, for STROM_CHAOS_DURATION (default 20s) or, with STROM_CHAOS_FAULTS=N,
// until N faults (the long mode: `STROM_CHAOS_FAULTS=100 make chaos`). Then
// every acknowledged record must be in the log exactly once, at its
// acknowledged offset, in production order, the group must have seen all of
// them, and the three replicas of each partition must hold byte-identical
// logs. A failing run keeps every broker's log (see keepLog).
func TestChaosKillBrokers(t *testing.T) {
	t.Run("RandomFaults", testChaosRandomFaults)
	t.Run("TwoOfThreeDown", testChaosTwoOfThreeDown)
}

// chaosRun is the state of one random-fault run.
type chaosRun struct {
	t    *testing.T
	c    *procCluster
	meta *kgo.Client
	prod *chaoscheck.Producer
	rng  *rand.Rand
}

func testChaosRandomFaults(t *testing.T) {
	duration := envDuration(t, "STROM_CHAOS_DURATION", 20*time.Second)
	wantFaults := 0
	if v := os.Getenv("STROM_CHAOS_FAULTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("STROM_CHAOS_FAULTS=%q: want a positive count", v)
		}
		wantFaults = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("STROM_CHAOS_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("STROM_CHAOS_SEED=%q: %v", v, err)
		}
	}
	r := &chaosRun{t: t, rng: rand.New(rand.NewPCG(seed, seed))}
	if wantFaults > 0 {
		chaoscheck.Report(t, "%d faults, seed %d (STROM_CHAOS_SEED reproduces the fault order)", wantFaults, seed)
	} else {
		chaoscheck.Report(t, "duration %v, seed %d (STROM_CHAOS_SEED reproduces the fault order)", duration, seed)
	}

	r.c = startCluster(t, 3)
	two := "2"
	r.c.createTopic(chaosTopic, chaosPartitions, 3, map[string]*string{"min.insync.replicas": &two})
	r.meta = r.c.client()
	r.c.waitFullISR(r.meta, chaosTopic, chaosPartitions, 30*time.Second)

	r.prod = chaoscheck.StartProducer(t, r.c.addrs(), chaosTopic, chaoscheck.Options{Partitions: chaosPartitions, Pace: chaosPace})
	group := chaoscheck.StartReader(t, r.c.addrs(), chaosTopic, kgo.ConsumerGroup("chaos-readers"))
	// The same through the KIP-848 consumer protocol: its coordinator is
	// killed too, and the next one replays the group.
	group848 := chaoscheck.StartReader(t, r.c.addrs(), chaosTopic, kgo.ConsumerGroup("chaos-readers-848"),
		kgo.ServerSideBalancer(), kgo.Balancers(kgo.CooperativeStickyBalancer()))
	r.prod.WaitAcks(testCtx(t, 30*time.Second), t, 100, 30*time.Second, "first acknowledgements")

	var faults []chaosFault
	end := time.Now().Add(duration)
	for more := true; more; {
		f := r.inject(r.nextKind(len(faults)), len(faults) == 0)
		faults = append(faults, f)
		t.Logf("fault #%d: %s of %v (controller %v, led %v): back after %v, full ISR after %v, %d acknowledged so far",
			len(faults), f.kind, f.victims, f.controller, f.led, f.down.Round(time.Millisecond), f.fullISR.Round(time.Millisecond), r.prod.AckCount())
		// Steady production between faults.
		time.Sleep(time.Second + time.Duration(r.rng.Int64N(int64(time.Second))))
		if wantFaults > 0 {
			more = len(faults) < wantFaults
		} else {
			more = time.Now().Before(end)
		}
	}

	// Settle: every victim is back and every ISR is full; drain the producer.
	r.c.waitFullISR(r.meta, chaosTopic, chaosPartitions, 60*time.Second)
	r.prod.Stop(t, 60*time.Second)
	r.reportFaults(faults)

	chaoscheck.Report(t, "%d faults; the group readers are consumer groups chaos-readers (classic) and chaos-readers-848 (KIP-848)", len(faults))
	res := chaoscheck.Verify(testCtx(t, 3*time.Minute), t, r.c.addrs(), chaosTopic, r.prod, group, chaoscheck.VerifyOptions{})
	chaoscheck.CheckReader(testCtx(t, time.Minute), t, group848, res.AckedValues, 60*time.Second)
	group848.Stop()

	// All replicas' logs must be identical: stop gracefully, compare bytes.
	r.c.waitFullISR(r.meta, chaosTopic, chaosPartitions, 60*time.Second)
	group.Stop()
	r.c.stopAll()
	lines, err := r.c.compareReplicaLogs(chaosTopic, chaosPartitions)
	for _, l := range lines {
		chaoscheck.Report(t, "replica logs %s", l)
	}
	if err != nil {
		t.Errorf("replica logs differ: %v", err)
	}
}

// nextKind picks the next fault: the first three are one of each (the
// controller is the first kill), then kills half of the time, pauses and
// double kills a quarter each.
func (r *chaosRun) nextKind(done int) faultKind {
	switch done {
	case 0:
		return faultKill
	case 1:
		return faultPause
	case 2:
		return faultKillTwo
	}
	switch n := r.rng.IntN(4); {
	case n < 2:
		return faultKill
	case n == 2:
		return faultPause
	default:
		return faultKillTwo
	}
}

// inject runs one fault to its end: every victim serves clients again and
// every ISR is full. The first fault kills the controller; later kills hit
// it a third of the time.
func (r *chaosRun) inject(kind faultKind, first bool) chaosFault {
	c := r.c
	ctrl := c.controller(r.meta, chaosTopic)
	f := chaosFault{kind: kind}
	switch {
	case kind == faultKill && ctrl > 0 && (first || r.rng.IntN(3) == 0):
		f.victims = []int32{ctrl}
	case kind == faultKillTwo:
		first := int32(r.rng.IntN(3) + 1)
		f.victims = []int32{first, first%3 + 1}
	default:
		f.victims = []int32{int32(r.rng.IntN(3) + 1)}
	}
	f.controller = slices.Contains(f.victims, ctrl)
	if _, parts, err := c.metadata(r.meta, chaosTopic); err == nil {
		for p, ps := range parts {
			if slices.Contains(f.victims, ps.Leader) {
				f.led = append(f.led, int32(p))
			}
		}
	}
	switch kind {
	case faultPause:
		c.broker(f.victims[0]).Pause()
		f.at = time.Now()
		time.Sleep(time.Second + time.Duration(r.rng.Int64N(int64(2*time.Second))))
		c.broker(f.victims[0]).Resume()
	case faultKill:
		c.broker(f.victims[0]).Kill()
		f.at = time.Now() // the process is gone: nothing it sent can arrive later
		time.Sleep(500*time.Millisecond + time.Duration(r.rng.Int64N(int64(time.Second))))
		c.broker(f.victims[0]).Start()
	case faultKillTwo:
		r.killTwo(&f)
	}
	f.down = time.Since(f.at)
	c.waitFullISR(r.meta, chaosTopic, chaosPartitions, 60*time.Second)
	f.fullISR = time.Since(f.at)
	return f
}

// killTwo kills two brokers at once and keeps them down for 4 s. With one
// replica left of three and min.insync.replicas=2, no record produced after
// the kill may be acknowledged before they return: it cannot reach a second
// replica. (Records produced before the kill may be acknowledged late if
// they were committed in time; the end-of-run check covers those.) Then
// both restart together.
func (r *chaosRun) killTwo(f *chaosFault) {
	const outage = 4 * time.Second
	for _, v := range f.victims {
		r.c.broker(v).Kill()
	}
	f.at = time.Now()
	time.Sleep(outage)
	f.refused = outage
	if late := r.prod.AckedBetween(f.at.Add(time.Second), f.at.Add(outage)); len(late) > 0 {
		r.t.Logf("acknowledged more than 1s after brokers %v were killed (produced before): %v", f.victims, late)
	}
	early := r.prod.ProducedAndAckedBetween(f.at, f.at.Add(outage))
	f.ackedBelow = len(early)
	if len(early) > 0 {
		r.t.Errorf("%d records produced after brokers %v were killed were acknowledged with one in-sync replica (min.insync.replicas=2): %v",
			len(early), f.victims, early)
	}
	readies := make([]<-chan string, len(f.victims))
	for i, v := range f.victims {
		readies[i] = r.c.broker(v).launch()
	}
	for i, v := range f.victims {
		r.c.broker(v).awaitReady(readies[i])
	}
}

// reportFaults prints, per fault, how long each partition went without an
// acknowledged write, and the worst of the run.
func (r *chaosRun) reportFaults(faults []chaosFault) {
	var worst time.Duration
	var worstFault int
	kinds := map[faultKind]int{}
	for i := range faults {
		f := &faults[i]
		kinds[f.kind]++
		f.gaps = r.prod.FirstAckAfter(f.at)
		var gs []string
		for p, g := range f.gaps {
			if g < 0 { // production ended before a record written after the fault was acknowledged
				gs = append(gs, fmt.Sprintf("p%d=none", p))
				continue
			}
			gs = append(gs, fmt.Sprintf("p%d=%v", p, g.Round(time.Millisecond)))
			if g > worst {
				worst, worstFault = g, i+1
			}
		}
		extra := ""
		if f.kind == faultKillTwo {
			extra = fmt.Sprintf("; produced and acknowledged while below min.insync: %d in %v", f.ackedBelow, f.refused)
		}
		chaoscheck.Report(r.t, "fault #%d %s %v controller=%v led=%v: fault→first ack %s; back in %v; full ISR after %v%s",
			i+1, f.kind, f.victims, f.controller, f.led, strings.Join(gs, " "), f.down.Round(time.Millisecond), f.fullISR.Round(time.Millisecond), extra)
	}
	if !slices.ContainsFunc(faults, func(f chaosFault) bool { return f.controller && f.kind == faultKill }) {
		r.t.Errorf("the controller was never killed")
	}
	chaoscheck.Report(r.t, "faults: %d kills, %d pauses, %d double kills; longest unavailability (fault → next acknowledged produce on the worst partition): %v (fault #%d)",
		kinds[faultKill], kinds[faultPause], kinds[faultKillTwo], worst.Round(time.Millisecond), worstFault)
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
		chaoscheck.Report(t, "with brokers %v down, write %s failed after %v: %v", down, v, time.Since(start).Round(time.Millisecond), err)
	}

	select {
	case r := <-idemDone:
		if r.err == nil {
			t.Errorf("idempotent acks=all record acknowledged %v after brokers %v were killed", r.at.Sub(killed).Round(time.Millisecond), down)
		} else {
			chaoscheck.Report(t, "idempotent record produced during the outage failed: %v", r.err)
		}
		idemDone <- r
	default:
		chaoscheck.Report(t, "idempotent record produced during the outage: still unanswered after %v (franz-go retries it)", time.Since(killed).Round(time.Millisecond))
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
	chaoscheck.Report(t, "broker %d restarted; first acks=all write acknowledged %v after it served clients", down[0], after.Round(time.Millisecond))
	for i := range 20 {
		if err := produce(fmt.Sprintf("after-more-%d", i)); err != nil {
			t.Fatalf("produce with 2 of 3 brokers up: %v", err)
		}
	}

	select {
	case r := <-idemDone:
		if r.err == nil {
			acked = append(acked, "idem-outage")
			chaoscheck.Report(t, "idempotent record produced during the outage acknowledged %v after broker %d returned", r.at.Sub(back).Round(time.Millisecond), down[0])
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
	chaoscheck.Report(t, "non-idempotent retries written twice (allowed): %v", twice)
	var written []string
	for _, v := range outage {
		if seen[v] > 0 {
			written = append(written, v)
		}
	}
	chaoscheck.Report(t, "acked %d, lost %d; failed writes later found in the log (allowed: failed is not 'not written'): %v", len(acked), lost, written)
}

// TestChaosFailoverTiming kills the leader of a partition
// STROM_FAILOVER_KILLS times (default 3) and measures, for each of three
// producers at once, the time from SIGKILL to its first acknowledged acks=all
// produce on the new leader: franz-go with a 100ms metadata refresh and retry
// backoff ("franz-go tuned", the broker-side failover), franz-go at default
// settings and librdkafka (confluent-kafka-python) at default settings, what
// an unconfigured client sees. The numbers are printed, not asserted.
// librdkafka is skipped when python3-confluent-kafka is missing (a failure
// under CI=true). Each kill comes STROM_FAILOVER_SETTLE (default 6s) after
// the cluster is whole again, longer than franz-go's default MetadataMinAge
// (5s): a client's refresh policy depends on when it last refreshed, and a
// kill right after the previous failover would measure the previous
// failover's refresh rather than this one (back to back, franz-go default
// measured ~3.5-4s both with and without the Metadata hold of
// internal/server/goneleader.go; settled, it is what production clients,
// which refresh every few minutes, see). STROM_FAILOVER_PRODUCTION_GOSSIP=1
// uses production memberlist timers instead of the fast loopback ones.
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
	mode, settleDefault := "fast gossip", 6*time.Second
	if os.Getenv("STROM_FAILOVER_PRODUCTION_GOSSIP") == "1" {
		extra = append(extra, "--fast-gossip", "false", "--fast-raft", "false")
		mode = "production gossip and Raft timers"
		// After a failover franz-go refreshes its metadata once more, 5 s
		// (its MetadataMinAge) after the refresh that found the new
		// leader. With production timers a kill 6 s after the cluster
		// healed lands within those 5 s, and the client then waits out
		// the rest of them before it may ask again: 3-4 s "failovers" in
		// 2 to 4 of 10 kills, with the brokers' answer (the new leader)
		// ready (traced per request). librdkafka showed 2-3 s twice, also
		// in the client: it had the new leader 0.8 s after the kill and
		// sent its produce 1.8 s later (likely its reconnect backoff to a
		// broker killed the round before). Failures seconds apart are the
		// test's pace, not production's; none of this showed with 12 s.
		settleDefault = 12 * time.Second
	}
	settle := envDuration(t, "STROM_FAILOVER_SETTLE", settleDefault)
	c := startCluster(t, 3, extra...)
	const topic = "failover"
	two := "2"
	c.createTopic(topic, 1, 3, map[string]*string{"min.insync.replicas": &two})
	meta := c.client()

	type producer struct {
		name    string
		produce func(v string) error
		times   []time.Duration
	}
	kgoProducer := func(name string, opts ...kgo.Opt) *producer {
		cl := c.client(opts...)
		return &producer{name: name, produce: func(v string) error {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr()
		}}
	}
	producers := []*producer{
		// Re-reads metadata at most every 100ms: the broker's failover,
		// with little of the client's own refresh policy in it.
		kgoProducer("franz-go tuned", kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MetadataMinAge(100*time.Millisecond),
			kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond })),
		kgoProducer("franz-go default"), // acks=all and idempotent by default
	}
	if rd := startLinesProducer(t, c.bootstrap(), topic); rd != nil {
		producers = append(producers, &producer{name: "librdkafka default", produce: rd})
	}

	for i := range kills {
		c.waitFullISR(meta, topic, 1, 60*time.Second)
		for _, p := range producers {
			if err := p.produce(fmt.Sprintf("warm-%d", i)); err != nil {
				t.Fatalf("%s: produce before kill %d: %v", p.name, i+1, err)
			}
		}
		// Not a wait for a condition: the clients' metadata ages, as it
		// does between failures in production.
		time.Sleep(settle)
		leader := c.leaderOf(meta, topic, 0)
		start := time.Now()
		c.broker(leader).Kill()
		errs := make(chan error, len(producers))
		for _, p := range producers {
			go func() {
				err := p.produce(fmt.Sprintf("after-kill-%d", i))
				if err == nil {
					p.times = append(p.times, time.Since(start))
				}
				errs <- err
			}()
		}
		for range producers {
			if err := <-errs; err != nil {
				t.Fatalf("produce after killing leader %d: %v", leader, err)
			}
		}
		var line []string
		for _, p := range producers {
			line = append(line, fmt.Sprintf("%s %v", p.name, p.times[len(p.times)-1].Round(time.Millisecond)))
		}
		chaoscheck.Report(t, "kill %d: leader %d SIGKILLed; first acks=all produce acknowledged after: %s", i+1, leader, strings.Join(line, ", "))
		c.broker(leader).Start()
	}
	for _, p := range producers {
		sorted := slices.Clone(p.times)
		slices.Sort(sorted)
		chaoscheck.Report(t, "%s, settle %v, %d kills, %s: failover (kill → acknowledged produce) median %v, max %v, min %v",
			mode, settle, len(sorted), p.name, sorted[len(sorted)/2].Round(time.Millisecond), sorted[len(sorted)-1].Round(time.Millisecond), sorted[0].Round(time.Millisecond))
	}
}

// startLinesProducer runs confluent_client.py produce-lines: a librdkafka
// producer at default settings, driven line by line. It returns a produce
// function (one value, waited for), or nil when python3-confluent-kafka is
// missing (a test failure under CI=true). The process ends with the test;
// protocol errors it logged fail the test then.
func startLinesProducer(t *testing.T, bootstrap, topic string) func(v string) error {
	t.Helper()
	if out, err := exec.Command(pythonBin, "-c", "import confluent_kafka").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("librdkafka not measured: %s cannot import confluent_kafka (%v: %s); install python3-confluent-kafka", pythonBin, err, bytes.TrimSpace(out))
		if inCI() {
			t.Fatal(msg)
		}
		t.Log("SKIPPED: " + msg)
		return nil
	}
	cmd := exec.Command(pythonBin, filepath.Join("python", "confluent_client.py"), "produce-lines", bootstrap, topic)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("produce-lines stdin: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("produce-lines stdout: %v", err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start produce-lines: %v", err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		for range lines { // drain until the script exits
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("produce-lines: %v\nstderr:\n%s", err, limitLines(stderr.String(), 40))
		}
		noProtocolErrors(t, "confluent_client.py produce-lines", stderr.String())
	})
	return func(v string) error {
		if _, err := fmt.Fprintln(stdin, v); err != nil {
			return fmt.Errorf("librdkafka: write %q: %w", v, err)
		}
		select {
		case line, ok := <-lines:
			if !ok {
				return fmt.Errorf("librdkafka: produce-lines exited\nstderr:\n%s", limitLines(stderr.String(), 40))
			}
			var res struct {
				Value string
				Error *string
			}
			if err := json.Unmarshal([]byte(line), &res); err != nil || res.Value != v {
				return fmt.Errorf("librdkafka: unexpected answer %q to %q (%v)", line, v, err)
			}
			if res.Error != nil {
				return fmt.Errorf("librdkafka: %q not delivered: %s", v, *res.Error)
			}
			return nil
		case <-time.After(60 * time.Second):
			return fmt.Errorf("librdkafka: %q unanswered after 60s", v)
		}
	}
}
