package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// txnTestConfig keeps __transaction_state small in tests.
func txnTestConfig(c *Config) {
	c.TransactionStateLogPartitions = 4
	c.TransactionAbortInterval = 100 * time.Millisecond
}

// produceTxn runs one transaction of values on topic and ends it.
func produceTxn(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, commit bool, values ...string) {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatalf("begin: %v", err)
	}
	for _, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", v, err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("end transaction (commit=%v): %v", commit, err)
	}
}

// consumeUntil reads topic from the start at the given isolation level
// until it has seen last, and returns every value read.
func consumeUntil(t *testing.T, ctx context.Context, addr, topic string, iso kgo.IsolationLevel, last string) []string {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(iso),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: saw %v, never %q: %v", topic, got, last, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			got = append(got, string(r.Value))
			done = done || string(r.Value) == last
		})
		if done {
			return got
		}
	}
}

func TestTxnCommitAndAbort(t *testing.T) {
	_, addr := startTestServer(t, txnTestConfig)
	ctx := testCtx(t, 60*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "txn-out", 1); err != nil {
		t.Fatal(err)
	}
	p := newClient(t, addr, kgo.TransactionalID("tx-commit-abort"), kgo.DefaultProduceTopic("txn-out"))
	produceTxn(t, ctx, p, "txn-out", true, "c1", "c2", "c3")
	produceTxn(t, ctx, p, "txn-out", false, "a1", "a2")
	produceTxn(t, ctx, p, "txn-out", true, "c4")

	committed := consumeUntil(t, ctx, addr, "txn-out", kgo.ReadCommitted(), "c4")
	if fmt.Sprint(committed) != "[c1 c2 c3 c4]" {
		t.Fatalf("read_committed saw %v, want [c1 c2 c3 c4]", committed)
	}
	all := consumeUntil(t, ctx, addr, "txn-out", kgo.ReadUncommitted(), "c4")
	if fmt.Sprint(all) != "[c1 c2 c3 a1 a2 c4]" {
		t.Fatalf("read_uncommitted saw %v, want [c1 c2 c3 a1 a2 c4]", all)
	}
}

func TestTxnOpenTransactionHoldsLastStableOffset(t *testing.T) {
	s, addr := startTestServer(t, txnTestConfig)
	ctx := testCtx(t, 60*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "txn-lso", 1); err != nil {
		t.Fatal(err)
	}
	plain := newClient(t, addr)
	if err := plain.ProduceSync(ctx, &kgo.Record{Topic: "txn-lso", Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	p := newClient(t, addr, kgo.TransactionalID("tx-lso"))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Topic: "txn-lso", Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	part := s.replicas.Get("txn-lso", 0)
	if hw, lso := part.HighWatermark(), part.LastStableOffset(); hw != 2 || lso != 1 {
		t.Fatalf("open transaction: high watermark %d, last stable %d; want 2 and 1", hw, lso)
	}
	adm := newAdmin(t, addr)
	ends, err := adm.ListCommittedOffsets(ctx, "txn-lso")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("txn-lso", 0); o.Offset != 1 {
		t.Fatalf("ListOffsets read_committed latest = %d, want the last stable offset 1", o.Offset)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if lso := part.LastStableOffset(); lso != 3 {
		t.Fatalf("after commit: last stable %d, want 3 (data, marker)", lso)
	}
}

func TestTxnZombieFenced(t *testing.T) {
	_, addr := startTestServer(t, txnTestConfig)
	ctx := testCtx(t, 60*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "txn-zombie", 1); err != nil {
		t.Fatal(err)
	}
	old := newClient(t, addr, kgo.TransactionalID("tx-zombie"))
	if err := old.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := old.ProduceSync(ctx, &kgo.Record{Topic: "txn-zombie", Value: []byte("zombie")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// A new instance with the same id: its InitProducerId aborts the old
	// instance's transaction and bumps the epoch.
	fresh := newClient(t, addr, kgo.TransactionalID("tx-zombie"))
	produceTxn(t, ctx, fresh, "txn-zombie", true, "fresh")

	err := old.EndTransaction(ctx, kgo.TryCommit)
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("old instance's commit: %v, want PRODUCER_FENCED", err)
	}
	got := consumeUntil(t, ctx, addr, "txn-zombie", kgo.ReadCommitted(), "fresh")
	if fmt.Sprint(got) != "[fresh]" {
		t.Fatalf("read_committed saw %v, want [fresh]", got)
	}
}

func TestTxnTimeoutAborts(t *testing.T) {
	_, addr := startTestServer(t, txnTestConfig)
	ctx := testCtx(t, 60*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "txn-timeout", 1); err != nil {
		t.Fatal(err)
	}
	p := newClient(t, addr, kgo.TransactionalID("tx-timeout"), kgo.TransactionTimeout(200*time.Millisecond))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Topic: "txn-timeout", Value: []byte("expired")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// The coordinator aborts it and fences this producer: a later commit
	// fails, and a read_committed reader gets past it.
	plain := newClient(t, addr)
	if err := plain.ProduceSync(ctx, &kgo.Record{Topic: "txn-timeout", Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got := consumeUntil(t, ctx, addr, "txn-timeout", kgo.ReadCommitted(), "after")
	if fmt.Sprint(got) != "[after]" {
		t.Fatalf("read_committed saw %v, want [after]", got)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("commit of a timed out transaction succeeded")
	}
}

func TestTxnInvalidTimeout(t *testing.T) {
	_, addr := startTestServer(t, txnTestConfig, func(c *Config) { c.TransactionMaxTimeout = time.Second })
	ctx := testCtx(t, 30*time.Second)
	p := newClient(t, addr, kgo.TransactionalID("tx-too-long"), kgo.TransactionTimeout(time.Minute))
	// franz-go initialises its producer id when the client starts, so the
	// refusal shows at the first transactional call.
	err := p.BeginTransaction()
	if err == nil {
		err = p.ProduceSync(ctx, &kgo.Record{Topic: "whatever", Value: []byte("x")}).FirstErr()
	}
	if err == nil || !strings.Contains(err.Error(), kerr.InvalidTransactionTimeout.Message) {
		t.Fatalf("produce with transaction.timeout.ms above the max: %v, want INVALID_TRANSACTION_TIMEOUT", err)
	}
}

// TestTxnGroupTransactSession runs franz-go's exactly-once pattern:
// consume an input topic in a group, produce to an output topic and commit
// the input offsets in the same transaction, under both transaction
// versions (2: the broker adds partitions itself; 1: AddPartitionsToTxn,
// AddOffsetsToTxn and a verified TxnOffsetCommit).
func TestTxnGroupTransactSession(t *testing.T) {
	for _, tv := range []int16{2, 1} {
		t.Run(fmt.Sprintf("transaction.version=%d", tv), func(t *testing.T) { groupTransactSession(t, tv) })
	}
}

func groupTransactSession(t *testing.T, tv int16) {
	_, addr := startTestServer(t, txnTestConfig, func(c *Config) { c.TransactionVersion = tv })
	ctx := testCtx(t, 90*time.Second)
	for _, topic := range []string{"eos-in", "eos-out"} {
		if _, err := kadmCreate(ctx, t, addr, topic, 2); err != nil {
			t.Fatal(err)
		}
	}
	const n = 200
	in := newClient(t, addr)
	for i := 0; i < n; i++ {
		in.Produce(ctx, &kgo.Record{Topic: "eos-in", Value: []byte(strconv.Itoa(i))}, nil)
	}
	if err := in.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	runTransactSession(t, ctx, addr, "eos-in", "eos-out", "eos-group", n)
	assertExactlyOnce(t, ctx, addr, "eos-out", n)
}

// runTransactSession copies input to output with a GroupTransactSession
// until n records were committed.
func runTransactSession(t *testing.T, ctx context.Context, addr, input, output, group string, n int) {
	t.Helper()
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(addr),
		kgo.TransactionalID("eos-"+group),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(input),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DefaultProduceTopic(output),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	done := 0
	for done < n {
		fs := sess.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("after %d records: %v", done, err)
		}
		if err := sess.Begin(); err != nil {
			t.Fatal(err)
		}
		count := 0
		fs.EachRecord(func(r *kgo.Record) {
			count++
			sess.Produce(ctx, &kgo.Record{Topic: output, Value: r.Value}, nil)
		})
		committed, err := sess.End(ctx, kgo.TryCommit)
		if err != nil {
			t.Fatalf("end: %v", err)
		}
		if committed {
			done += count
		}
	}
}

// assertExactlyOnce reads topic with read_committed and checks it holds
// the values 0..n-1 once each.
func assertExactlyOnce(t *testing.T, ctx context.Context, addr, topic string, n int) {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := map[string]int{}
	total := 0
	for total < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records of %s: %v", total, n, topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)]++
			total++
		})
	}
	for i := 0; i < n; i++ {
		if c := seen[strconv.Itoa(i)]; c != 1 {
			t.Errorf("value %d seen %d times", i, c)
		}
	}
	if total != n {
		t.Errorf("%d records in %s, want %d", total, topic, n)
	}
}

// TestTxnVersions runs the same transactions with transaction.version 2
// announced (franz-go then skips AddPartitionsToTxn, the broker adds the
// partitions itself, and each EndTxn bumps the epoch) and with 1 (the
// classic protocol, one epoch for the producer's life).
func TestTxnVersions(t *testing.T) {
	for _, tc := range []struct {
		version   int16
		wantEpoch int16
	}{{2, 3}, {1, 0}} {
		t.Run(fmt.Sprintf("transaction.version=%d", tc.version), func(t *testing.T) {
			_, addr := startTestServer(t, txnTestConfig, func(c *Config) { c.TransactionVersion = tc.version })
			ctx := testCtx(t, 60*time.Second)
			if _, err := kadmCreate(ctx, t, addr, "txn-tv", 2); err != nil {
				t.Fatal(err)
			}
			p := newClient(t, addr, kgo.TransactionalID("tx-tv"), kgo.DefaultProduceTopic("txn-tv"))
			produceTxn(t, ctx, p, "txn-tv", true, "c1", "c2")
			produceTxn(t, ctx, p, "txn-tv", false, "a1")
			produceTxn(t, ctx, p, "txn-tv", true, "c3")
			d, err := newAdmin(t, addr).DescribeTransactions(ctx, "tx-tv")
			if err != nil {
				t.Fatal(err)
			}
			if e := d["tx-tv"].ProducerEpoch; e != tc.wantEpoch {
				t.Errorf("producer epoch after three transactions: %d, want %d", e, tc.wantEpoch)
			}
			got := map[string]bool{}
			for _, v := range consumeUntilCount(t, ctx, addr, "txn-tv", 3) {
				got[v] = true
			}
			if len(got) != 3 || !got["c1"] || !got["c2"] || !got["c3"] {
				t.Errorf("read_committed saw %v, want c1 c2 c3", got)
			}
		})
	}
}

// consumeUntilCount reads topic from the start with read_committed until
// it has n records.
func consumeUntilCount(t *testing.T, ctx context.Context, addr, topic string, n int) []string {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: saw %v: %v", topic, got, err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

// TestTxnSurvivesRestart: a broker stopped with a transaction open comes
// back with the transaction state replayed from __transaction_state (even
// when restarted with another transaction.state.log.num.partitions, as ids
// map by the topic's real partition count) and the partition's open
// transaction rebuilt from its log: a new instance of the producer aborts
// it, and read_committed readers get past it.
func TestTxnSurvivesRestart(t *testing.T) {
	c := testConfig(t)
	txnTestConfig(&c)
	s, addr := startWithConfig(t, c)
	ctx := testCtx(t, 60*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "txn-restart", 1); err != nil {
		t.Fatal(err)
	}
	old := newClient(t, addr, kgo.TransactionalID("tx-restart"))
	if err := old.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := old.ProduceSync(ctx, &kgo.Record{Topic: "txn-restart", Value: []byte("left open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	old.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	c.TransactionStateLogPartitions = 7
	s2, addr2 := startWithConfig(t, c)
	if lso, hw := s2.replicas.Get("txn-restart", 0).LastStableOffset(), s2.replicas.Get("txn-restart", 0).HighWatermark(); lso != 0 || hw != 1 {
		t.Fatalf("after the restart: last stable %d, high watermark %d; want the open transaction rebuilt (0, 1)", lso, hw)
	}
	fresh := newClient(t, addr2, kgo.TransactionalID("tx-restart"))
	produceTxn(t, ctx, fresh, "txn-restart", true, "after restart")
	got := consumeUntil(t, ctx, addr2, "txn-restart", kgo.ReadCommitted(), "after restart")
	if fmt.Sprint(got) != "[after restart]" {
		t.Fatalf("read_committed saw %v, want [after restart]", got)
	}
}
