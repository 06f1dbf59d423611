package server

import (
	"context"
	"encoding/binary"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// keyedValues reads topic/0 from the start to end with a consumer of the
// given isolation level and returns each key's values in offset order.
func keyedValues(t *testing.T, addr, topic string, end int64, iso kgo.IsolationLevel) map[string][]string {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(iso))
	ctx := testCtx(t, 20*time.Second)
	out := map[string][]string{}
	for last := int64(-1); last < end-1; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed up to %d, not %d: %v", last, end-1, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			out[string(r.Key)] = append(out[string(r.Key)], string(r.Value))
			last = r.Offset
		})
	}
	return out
}

// controlBatches lists the base offsets of the control batches (markers)
// in this broker's replica of topic/0.
func controlBatches(t *testing.T, s *Server, topic string) []int64 {
	t.Helper()
	p := s.replicas.Get(topic, 0)
	var out []int64
	for off := int64(0); off < p.LogEndOffset(); {
		res, err := p.Fetch(off, 1<<20, true)
		if err != nil {
			t.Fatal(err)
		}
		data := res.Records
		if len(data) == 0 {
			break
		}
		for len(data) >= 61 {
			size := 12 + int(binary.BigEndian.Uint32(data[8:]))
			base := int64(binary.BigEndian.Uint64(data))
			if binary.BigEndian.Uint16(data[21:])&0x20 != 0 {
				out = append(out, base)
			}
			off = base + int64(binary.BigEndian.Uint32(data[23:])) + 1
			data = data[size:]
		}
	}
	return out
}

// txnRound runs one transaction of cl writing k0..k9 = r<round>-k<i> (and,
// when aborted, a key of its own), committing or aborting it.
func txnRound(ctx context.Context, t *testing.T, cl *kgo.Client, round int, commit bool) {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	var rs []*kgo.Record
	for k := 0; k < 10; k++ {
		rs = append(rs, &kgo.Record{Key: []byte(fmt.Sprintf("k%d", k)), Value: []byte(fmt.Sprintf("r%d-k%d", round, k))})
	}
	if !commit {
		rs = append(rs, &kgo.Record{Key: []byte(fmt.Sprintf("aborted%d", round)), Value: []byte("x")})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("round %d: end: %v", round, err)
	}
}

// TestCompactedTransactionsCleaned: a transactional producer writes keyed
// records to a compacted topic with small segments, committing some
// transactions and aborting others. An open transaction of a second
// producer stops cleaning at its first offset (what follows keeps its
// duplicates). Once it is aborted and the log cleaned, read_committed and
// read_uncommitted consumers from the start both read exactly the latest
// committed value of every key and no aborted record; the markers go
// once delete.retention.ms passed after their data was gone, except each
// producer's last batch; the cleaner's metrics show the passes.
func TestCompactedTransactionsCleaned(t *testing.T) {
	s, addr := startTestServer(t)
	ctx := testCtx(t, 60*time.Second)
	const topic = "cmptxn"
	if _, err := newAdmin(t, addr).CreateTopic(ctx, 1, 1, compactTopicConfigs("200"), topic); err != nil {
		t.Fatal(err)
	}
	opts := []kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner())}
	p1 := newClient(t, addr, append(opts, kgo.TransactionalID("cmp-t1"))...)
	p2 := newClient(t, addr, append(opts, kgo.TransactionalID("cmp-t2"))...)
	plain := newClient(t, addr, opts...)
	sentinel := func(key string) int64 {
		t.Helper()
		if err := plain.ProduceSync(ctx, &kgo.Record{Key: []byte(key), Value: []byte(key)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		return s.replicas.Get(topic, 0).LogEndOffset()
	}
	clean := func() {
		t.Helper()
		if err := s.replicas.CleanNow(topic, 0, 1<<62); err != nil {
			t.Fatal(err)
		}
	}
	for round := 0; round < 10; round++ {
		txnRound(ctx, t, p1, round, round%3 != 2)
	}
	if err := p2.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p2.ProduceSync(ctx, &kgo.Record{Key: []byte("open"), Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	txnRound(ctx, t, p1, 10, true)
	end := sentinel("~end1")
	clean()
	got := keyedValues(t, addr, topic, end, kgo.ReadUncommitted())
	for k := 0; k < 10; k++ { // r9 below the open transaction, cleaned; r10 above it, not
		if key := fmt.Sprintf("k%d", k); !reflect.DeepEqual(got[key], []string{fmt.Sprintf("r9-k%d", k), fmt.Sprintf("r10-k%d", k)}) {
			t.Fatalf("with a transaction open, %s read %q, want r9 (cleaned below it) then r10", key, got[key])
		}
	}
	if len(got) != 12 || got["open"][0] != "x" {
		t.Fatalf("with a transaction open, read_uncommitted read %v", got)
	}

	if err := p2.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	end = sentinel("~end2")
	clean()
	want := map[string][]string{"~end1": {"~end1"}, "~end2": {"~end2"}}
	for k := 0; k < 10; k++ {
		want[fmt.Sprintf("k%d", k)] = []string{fmt.Sprintf("r10-k%d", k)}
	}
	for _, iso := range []kgo.IsolationLevel{kgo.ReadCommitted(), kgo.ReadUncommitted()} {
		if got := keyedValues(t, addr, topic, end, iso); !reflect.DeepEqual(got, want) {
			t.Fatalf("after cleaning (%v):\n got %v\nwant %v", iso, got, want)
		}
	}

	// Markers: each new clean (new dirty data lets a pass run) removes
	// those stamped more than delete.retention.ms ago. What stays: round
	// 10's COMMIT (its data is live; also p1's last batch) and p2's ABORT
	// (p2's last batch, kept for its epoch as in Kafka).
	tick := 0
	waitUntil(t, 15*time.Second, "markers of cleaned transactions to go", func() bool {
		tick++
		end = sentinel("~tick")
		clean()
		return len(controlBatches(t, s, topic)) == 2
	})
	want["~tick"] = []string{"~tick"}
	for _, iso := range []kgo.IsolationLevel{kgo.ReadCommitted(), kgo.ReadUncommitted()} {
		if got := keyedValues(t, addr, topic, end, iso); !reflect.DeepEqual(got, want) {
			t.Fatalf("after the markers went (%v):\n got %v\nwant %v", iso, got, want)
		}
	}
	checkCleanerMetrics(t, s)
}

// checkCleanerMetrics: after CleanNow passes, the cleaner's gauges are
// exported with values from those passes.
func checkCleanerMetrics(t *testing.T, s *Server) {
	t.Helper()
	got := series(t, s.Metrics())
	for key, ok := range map[string]func(float64) bool{
		"kafka_log_logcleaner_max_clean_time_secs{}":                                                   func(v float64) bool { return v > 0 && v < 60 },
		"kafka_log_logcleaner_cleaner_recopy_percent{}":                                                func(v float64) bool { return v > 0 && v <= 100 },
		"kafka_log_logcleaner_max_buffer_utilization_percent{}":                                        func(v float64) bool { return v > 0 && v <= 100 },
		"kafka_log_logcleanermanager_max_dirty_percent{}":                                              func(v float64) bool { return v >= 0 && v <= 100 },
		"kafka_log_logcleanermanager_time_since_last_run_ms{}":                                         func(v float64) bool { return v >= 0 },
		"kafka_log_logcleanermanager_uncleanable_partitions_count{logDirectory=" + s.cfg.DataDir + "}": func(v float64) bool { return v == 0 },
	} {
		if v, present := got[key]; !present || !ok(v) {
			t.Errorf("%s = %v (present %v)", key, v, present)
		}
	}
}

// TestConsumerOffsetsTransactionalCompacted: offsets committed inside
// transactions (franz-go's GroupTransactSession, a few records per
// transaction) are compacted in __consumer_offsets like any other: after a
// clean, the group's partition holds one transactional offset record per
// committed input partition, and a restarted coordinator loads the same
// offsets from the cleaned log (markers whose data is gone, stamped).
func TestConsumerOffsetsTransactionalCompacted(t *testing.T) {
	cfg := testConfig(t)
	txnTestConfig(&cfg)
	cfg.OffsetsTopicSegmentBytes = 4 << 10
	cfg.Cleaner.Disable = true // cleaned below
	s, addr := startWithConfig(t, cfg)
	ctx := testCtx(t, 60*time.Second)
	for _, topic := range []string{"eosc-in", "eosc-out"} {
		if _, err := kadmCreate(ctx, t, addr, topic, 2); err != nil {
			t.Fatal(err)
		}
	}
	const n = 120
	in := newClient(t, addr, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	for i := 0; i < n; i++ {
		in.Produce(ctx, &kgo.Record{Topic: "eosc-in", Value: []byte(fmt.Sprint(i))}, nil)
	}
	if err := in.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(addr), kgo.TransactionalID("eosc"), kgo.ConsumerGroup("eosc-g"),
		kgo.ConsumeTopics("eosc-in"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DefaultProduceTopic("eosc-out"))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	txns := 0
	for done := 0; done < n; txns++ {
		fs := sess.PollRecords(ctx, 4)
		if err := ctx.Err(); err != nil {
			t.Fatalf("after %d records: %v", done, err)
		}
		if err := sess.Begin(); err != nil {
			t.Fatal(err)
		}
		count := 0
		fs.EachRecord(func(r *kgo.Record) {
			count++
			sess.Produce(ctx, &kgo.Record{Topic: "eosc-out", Value: r.Value}, nil)
		})
		if committed, err := sess.End(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		} else if committed {
			done += count
		}
	}
	idx := s.groups.PartitionFor("eosc-g")
	before := txnOffsetRecords(t, s, idx)
	if err := s.replicas.CleanNow(offsetsTopic, idx, 1<<62); err != nil {
		t.Fatal(err)
	}
	after := txnOffsetRecords(t, s, idx)
	t.Logf("%d transactions: %d transactional offset records before cleaning, %d after", txns, before, after)
	if before < txns || after != 2 {
		t.Fatalf("transactional offset records: %d before cleaning, %d after, want one per input partition (2)", before, after)
	}
	want, err := newAdmin(t, addr).FetchOffsets(ctx, "eosc-g")
	if err != nil {
		t.Fatal(err)
	}
	sess.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.Listeners = []Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: portOf(t, addr)}}
	_, addr = startWithConfig(t, cfg)
	got, err := newAdmin(t, addr).FetchOffsets(ctx, "eosc-g")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []int32{0, 1} {
		w, _ := want.Lookup("eosc-in", p)
		g, _ := got.Lookup("eosc-in", p)
		if w.At <= 0 || g.At != w.At {
			t.Errorf("eosc-in/%d committed offset %d after cleaning and restart, %d before", p, g.At, w.At)
		}
	}
}

// txnOffsetRecords counts the records of transactional data batches in
// this broker's __consumer_offsets partition idx.
func txnOffsetRecords(t *testing.T, s *Server, idx int32) int {
	t.Helper()
	p := s.replicas.Get(offsetsTopic, idx)
	n := 0
	for off := p.LogStartOffset(); off < p.LogEndOffset(); {
		res, err := p.Fetch(off, 1<<20, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Records) == 0 {
			break
		}
		for data := res.Records; len(data) >= 61; {
			size := 12 + int(binary.BigEndian.Uint32(data[8:]))
			if attrs := binary.BigEndian.Uint16(data[21:]); attrs&0x30 == 0x10 {
				n += int(binary.BigEndian.Uint32(data[57:]))
			}
			off = int64(binary.BigEndian.Uint64(data)) + int64(binary.BigEndian.Uint32(data[23:])) + 1
			data = data[size:]
		}
	}
	return n
}
