package server

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/raftmeta"
)

// compactTopicConfigs: small segments, any dirt cleanable.
func compactTopicConfigs(deleteRetention string) map[string]*string {
	return map[string]*string{
		"cleanup.policy":            kmsg.StringPtr("compact"),
		"segment.bytes":             kmsg.StringPtr("1024"),
		"segment.ms":                kmsg.StringPtr("100"),
		"min.cleanable.dirty.ratio": kmsg.StringPtr("0.01"),
		"delete.retention.ms":       kmsg.StringPtr(deleteRetention),
	}
}

// consumeAll reads topic/0 from the beginning up to its end offset.
func consumeAll(t *testing.T, addr, topic string, end int64) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := testCtx(t, 20*time.Second)
	var out []*kgo.Record
	for len(out) == 0 || out[len(out)-1].Offset < end-1 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d records, not up to %d: %v", len(out), end, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		out = append(out, fs.Records()...)
	}
	return out
}

// TestCompactedTopicServesLatestPerKey: a compacted topic with repeated keys
// and tombstones, small segments and min.cleanable.dirty.ratio=0.01, read
// from the beginning after cleaning, holds exactly one record per live key
// (its latest value) and nothing of deleted keys once their tombstones are
// older than delete.retention.ms; keyless records are refused.
func TestCompactedTopicServesLatestPerKey(t *testing.T) {
	s, addr := startTestServer(t)
	ctx := testCtx(t, 30*time.Second)
	adm := newAdmin(t, addr)
	if _, err := adm.CreateTopic(ctx, 1, 1, compactTopicConfigs("0"), "cmp"); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, addr, kgo.DefaultProduceTopic("cmp"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	t0 := time.Now().Add(-time.Hour)
	produce := func(rs ...*kgo.Record) {
		t.Helper()
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	want := map[string]string{}
	for round := 0; round < 20; round++ {
		var rs []*kgo.Record
		for k := 0; k < 30; k++ {
			v := fmt.Sprintf("r%d-k%d", round, k)
			rs = append(rs, &kgo.Record{Key: []byte(fmt.Sprintf("k%02d", k)), Value: []byte(v), Timestamp: t0})
			want[fmt.Sprintf("k%02d", k)] = v
		}
		produce(rs...)
	}
	for k := 0; k < 30; k += 3 { // delete every third key
		produce(&kgo.Record{Key: []byte(fmt.Sprintf("k%02d", k)), Timestamp: t0.Add(time.Second)})
		delete(want, fmt.Sprintf("k%02d", k))
	}
	err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("no key")}).FirstErr()
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("keyless record on a compacted topic: %v, want INVALID_RECORD", err)
	}
	// Fillers, each big enough for a segment of its own, newer than the
	// tombstones: each clean moves the horizon past what the previous
	// one cleaned, so the tombstones go at the third.
	// (random bytes: a compressed filler would not fill a segment).
	fill := make([]byte, 1000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range fill {
		fill[i] = byte(rng.Uint32())
	}
	filler := string(fill)
	for i := 0; i < 3; i++ {
		produce(&kgo.Record{Key: []byte(fmt.Sprintf("~filler%d", i)), Value: fill, Timestamp: t0.Add(time.Minute * time.Duration(i+1))})
		want[fmt.Sprintf("~filler%d", i)] = filler
		if err := s.replicas.CleanNow("cmp", 0, 1<<62); err != nil {
			t.Fatal(err)
		}
	}
	end := s.replicas.Get("cmp", 0).LogEndOffset()
	got := map[string]string{}
	for _, r := range consumeAll(t, addr, "cmp", end) {
		k := string(r.Key)
		if _, dup := got[k]; dup {
			t.Errorf("key %s read twice after cleaning", k)
		}
		if r.Value == nil {
			t.Errorf("tombstone of %s still there past delete.retention.ms=0", k)
			continue
		}
		got[k] = string(r.Value)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read after cleaning:\n%v\nwant\n%v", got, want)
	}
}

// TestCompactionConfigs: the compaction topic configs are accepted, shown
// by DescribeConfigs, and __consumer_offsets is compacted.
func TestCompactionConfigs(t *testing.T) {
	_, addr := startTestServer(t)
	ctx := testCtx(t, 20*time.Second)
	adm := newAdmin(t, addr)
	cfgs := compactTopicConfigs("1000")
	cfgs["cleanup.policy"] = kmsg.StringPtr("compact,delete")
	cfgs["min.compaction.lag.ms"] = kmsg.StringPtr("5")
	cfgs["max.compaction.lag.ms"] = kmsg.StringPtr("60000")
	if _, err := adm.CreateTopic(ctx, 1, 1, cfgs, "cc"); err != nil {
		t.Fatal(err)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "cc", "__consumer_offsets")
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range rcs {
		vals := map[string]string{}
		for _, c := range rc.Configs {
			vals[c.Key] = c.MaybeValue()
		}
		wantVals := map[string]string{"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.5", "delete.retention.ms": "86400000"}
		if rc.Name == "cc" {
			wantVals = map[string]string{"cleanup.policy": "compact,delete", "min.cleanable.dirty.ratio": "0.01",
				"delete.retention.ms": "1000", "min.compaction.lag.ms": "5", "max.compaction.lag.ms": "60000"}
		}
		for k, v := range wantVals {
			if vals[k] != v {
				t.Errorf("%s: %s = %q, want %q", rc.Name, k, vals[k], v)
			}
		}
	}
	brcs, err := adm.DescribeBrokerConfigs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	bvals := map[string]string{}
	for _, rc := range brcs {
		for _, c := range rc.Configs {
			bvals[c.Key] = c.MaybeValue()
		}
	}
	for k, v := range map[string]string{"log.cleanup.policy": "delete", "log.cleaner.threads": "1", "log.cleaner.enable": "true",
		"log.cleaner.min.cleanable.ratio": "0.5", "log.cleaner.dedupe.buffer.size": "134217728", "log.cleaner.backoff.ms": "15000"} {
		if bvals[k] != v {
			t.Errorf("broker config %s = %q, want %q", k, bvals[k], v)
		}
	}
	_, err = adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": kmsg.StringPtr("shred")}, "bad")
	if !errors.Is(err, kerr.InvalidConfig) {
		t.Fatalf("cleanup.policy=shred: %v, want INVALID_CONFIG", err)
	}
	checkCompactionLagConflicts(t, adm)
}

// checkCompactionLagConflicts: min.compaction.lag.ms above the effective
// max.compaction.lag.ms is INVALID_CONFIG with Kafka's message, at
// CreateTopics and at AlterConfigs (against the topic's other value).
func checkCompactionLagConflicts(t *testing.T, adm *kadm.Client) {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	resp, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{
		"min.compaction.lag.ms": kmsg.StringPtr("10000"), "max.compaction.lag.ms": kmsg.StringPtr("5000")}, "lags")
	if !errors.Is(err, kerr.InvalidConfig) || !strings.Contains(resp.ErrMessage, "min.compaction.lag.ms (10000) > max.compaction.lag.ms (5000)") {
		t.Fatalf("min lag above max lag at create: %v %q, want INVALID_CONFIG naming both", err, resp.ErrMessage)
	}
	ars, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "max.compaction.lag.ms", Value: kmsg.StringPtr("1")}}, "cc")
	if err != nil {
		t.Fatal(err)
	}
	if len(ars) != 1 || !errors.Is(ars[0].Err, kerr.InvalidConfig) || !strings.Contains(ars[0].ErrMessage, "min.compaction.lag.ms (5) > max.compaction.lag.ms (1)") {
		t.Fatalf("max lag below the topic's min lag at alter: %+v, want INVALID_CONFIG", ars)
	}
	ars, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "max.compaction.lag.ms", Value: kmsg.StringPtr("5")}}, "cc")
	if err != nil || len(ars) != 1 || ars[0].Err != nil {
		t.Fatalf("max lag equal to min lag refused: %v %+v", err, ars)
	}
}

// TestConsumerOffsetsBounded: many commits to one group leave
// __consumer_offsets bounded once cleaned: the closed segments keep one
// record per committed partition.
func TestConsumerOffsetsBounded(t *testing.T) {
	cfg := testConfig(t)
	cfg.OffsetsTopicSegmentBytes = 16 << 10
	cfg.Cleaner.Disable = true // cleaned below, once measured
	s, addr := startWithConfig(t, cfg)
	ctx := testCtx(t, 60*time.Second)
	adm := newAdmin(t, addr)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "in"); err != nil {
		t.Fatal(err)
	}
	const commits = 3000
	for i := 0; i < commits; i++ {
		offs := kadm.Offsets{}
		offs.Add(kadm.Offset{Topic: "in", Partition: 0, At: int64(i)})
		r, err := adm.CommitOffsets(ctx, "g", offs)
		if err == nil {
			err = r.Error()
		}
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	idx := s.groups.PartitionFor("g")
	p := s.replicas.Get("__consumer_offsets", idx)
	before := p.Size()
	if err := s.replicas.CleanNow("__consumer_offsets", idx, 1<<62); err != nil {
		t.Fatal(err)
	}
	// What is left: one record in the closed segments, and the active
	// segment (never cleaned) of at most segment.bytes.
	if p.Size() > 16<<10+1024 || before < 10*p.Size() {
		t.Fatalf("__consumer_offsets partition %d bytes after cleaning, %d before", p.Size(), before)
	}
	t.Logf("__consumer_offsets partition after %d commits: %d bytes before cleaning, %d after", commits, before, p.Size())
	// The coordinator of a restarted broker loads the group from the
	// compacted partition (gaps, emptied batches) to the same offset.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.Listeners = []Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: portOf(t, addr)}}
	_, addr = startWithConfig(t, cfg)
	fo, err := newAdmin(t, addr).FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := fo.Lookup("in", 0); o.At != commits-1 {
		t.Fatalf("committed offset after cleaning and restart %d, want %d", o.At, commits-1)
	}
}

// TestConsumerOffsetsMillionCommits is the measurement, run by hand
// (STROM_OFFSETS_COMMITS=1000000 go test ./internal/server -run
// TestConsumerOffsetsMillionCommits -v): that many commits to one group
// from 8 committers, with Kafka's offsets.topic.segment.bytes (100 MiB);
// the group's __consumer_offsets partition is measured, then cleaned, then
// measured again. With STROM_OFFSETS_BACKGROUND=1 the background cleaner
// (ratio 0.5, backoff 1 s) runs during the commits too, and the largest
// size seen while committing is reported; STROM_OFFSETS_SEGMENT_BYTES
// sets offsets.topic.segment.bytes (the active segment is never cleaned).
func TestConsumerOffsetsMillionCommits(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("STROM_OFFSETS_COMMITS"))
	if n <= 0 {
		t.Skip("set STROM_OFFSETS_COMMITS to run")
	}
	background := os.Getenv("STROM_OFFSETS_BACKGROUND") == "1"
	segBytes, _ := strconv.ParseInt(os.Getenv("STROM_OFFSETS_SEGMENT_BYTES"), 10, 64)
	s, addr := startTestServer(t, func(c *Config) {
		c.Cleaner.Disable = !background
		c.Cleaner.Backoff = time.Second
		if segBytes > 0 {
			c.OffsetsTopicSegmentBytes = segBytes
		}
		c.Logger = nil
	})
	ctx := testCtx(t, time.Hour)
	adm := newAdmin(t, addr)
	if _, err := adm.CreateTopic(ctx, 8, 1, nil, "in"); err != nil {
		t.Fatal(err)
	}
	idx := s.groups.PartitionFor("g")
	p := s.replicas.Get("__consumer_offsets", idx)
	var largest atomic.Int64 // sampled while committing
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				largest.Store(max(largest.Load(), p.Size()))
			}
		}
	}()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := int32(0); w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(w); i < n; i += 8 {
				offs := kadm.Offsets{}
				offs.Add(kadm.Offset{Topic: "in", Partition: w, At: int64(i)})
				r, err := adm.CommitOffsets(ctx, "g", offs)
				if err == nil {
					err = r.Error()
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	<-sampled
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d commits in %v; __consumer_offsets-%d: log end offset %d, %d bytes, at most %d while committing (background cleaner: %v, segment.bytes %d)",
		n, time.Since(start).Round(time.Millisecond), idx, p.LogEndOffset(), p.Size(), largest.Load(), background, offsetsSegmentBytes(&s.cfg))
	before := p.Size()
	cs := time.Now()
	if err := s.replicas.CleanNow("__consumer_offsets", idx, 1<<62); err != nil {
		t.Fatal(err)
	}
	t.Logf("after a full clean (%v): %d bytes (was %d)", time.Since(cs).Round(time.Millisecond), p.Size(), before)
}

// TestConsumerOffsetsBecomesCompacted: a cluster whose __consumer_offsets
// was created before compaction (cleanup.policy=delete) gets it switched
// to compact when a broker starts.
func TestConsumerOffsetsBecomesCompacted(t *testing.T) {
	cfg := testConfig(t)
	s, addr := startWithConfig(t, cfg)
	ctx := testCtx(t, 30*time.Second)
	v := "delete"
	if err := s.meta.AlterTopicConfigs(ctx, offsetsTopic, []raftmeta.ConfigOp{{Key: "cleanup.policy", Value: &v}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.Listeners = []Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: portOf(t, addr)}}
	s2, _ := startWithConfig(t, cfg)
	if got := s2.meta.State().Topics[offsetsTopic].Configs["cleanup.policy"]; got != "compact" {
		t.Fatalf("__consumer_offsets cleanup.policy after restart %q, want compact", got)
	}
	if p := s2.replicas.Get(offsetsTopic, 0); p == nil || !p.Compacted() {
		t.Fatal("__consumer_offsets replica not compacted after restart")
	}
}
