package tests

import (
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/internal/chaoscheck"
)

// TestClusterTxnExactlyOnceCoordinatorKilled runs franz-go's
// GroupTransactSession (consume, produce, commit the input offsets in the
// transaction) against 3 broker processes and SIGKILLs the transaction
// coordinator's broker inside a transaction, a third of the way through.
// The output, read with read_committed, holds every input record exactly
// once: the new coordinator finishes or aborts what the killed one left,
// and the committed offsets only move with committed output.
func TestClusterTxnExactlyOnceCoordinatorKilled(t *testing.T) {
	c := startCluster(t, 3, "--transaction-state-log-num-partitions", "3",
		"--transaction-abort-timed-out-transaction-cleanup-interval-ms", "500")
	two := "2"
	for _, topic := range []string{"eos-in", "eos-out"} {
		c.createTopic(topic, 2, 3, map[string]*string{"min.insync.replicas": &two})
	}
	meta := c.client()
	c.waitFullISR(meta, "eos-in", 2, 30*time.Second)
	c.waitFullISR(meta, "eos-out", 2, 30*time.Second)
	ctx := testCtx(t, 3*time.Minute)
	const n = 300
	in := c.client(kgo.RequiredAcks(kgo.AllISRAcks()))
	for i := 0; i < n; i++ { // a batch per record: many small transactions below
		if err := in.ProduceSync(ctx, &kgo.Record{Topic: "eos-in", Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	const txnID = "eos-killed"
	newSession := func() *kgo.GroupTransactSession {
		sess, err := kgo.NewGroupTransactSession(
			kgo.SeedBrokers(c.addrs()...),
			kgo.TransactionalID(txnID),
			kgo.TransactionTimeout(10*time.Second),
			kgo.ConsumerGroup("eos-killed-group"),
			kgo.ConsumeTopics("eos-in"),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxPartitionBytes(1),
			kgo.RequiredAcks(kgo.AllISRAcks()),
		)
		if err != nil {
			t.Fatal(err)
		}
		return sess
	}
	sess := newSession()
	defer func() { sess.Close() }()
	killed := false
	for done := 0; done < n; {
		fs := sess.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("after %d records: %v", done, err)
		}
		if err := sess.Begin(); err != nil {
			// franz-go can deem its producer id fatally failed when the
			// killed broker leaves its metadata mid-transaction; an
			// exactly-once application restarts its instance then (the new
			// one fences the old), and exactly-once must still hold.
			t.Logf("after %d records, restarting the transactional client: %v", done, err)
			sess.Close()
			sess = newSession()
			continue
		}
		count := 0
		fs.EachRecord(func(r *kgo.Record) {
			count++
			sess.Produce(ctx, &kgo.Record{Topic: "eos-out", Value: r.Value}, nil)
		})
		if !killed && done >= n/3 {
			killed = true
			co := kadm.NewClient(meta).FindTxnCoordinators(ctx, txnID)[txnID]
			if co.Err != nil {
				t.Fatalf("find the coordinator of %s: %v", txnID, co.Err)
			}
			c.broker(co.NodeID).Kill()
			chaoscheck.Report(t, "SIGKILLed broker %d, the transaction coordinator, inside a transaction after %d records", co.NodeID, done)
		}
		committed, err := sess.End(ctx, kgo.TryCommit)
		if err != nil {
			t.Logf("end of transaction: %v (the session aborts and rewinds)", err)
		}
		if committed {
			done += count
		}
	}
	input := make([]string, n)
	for i := range input {
		input[i] = strconv.Itoa(i)
	}
	output := chaoscheck.ReadCommitted(ctx, t, c.addrs(), "eos-out", 2, time.Minute)
	for _, p := range chaoscheck.CheckExactlyOnce(input, output) {
		t.Error(p)
	}
	chaoscheck.Report(t, "read_committed output: %d records for %d input records", len(output), n)
}
