package cluster

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/internal/server"
)

// txnOpts keeps __transaction_state small and timeouts short.
func txnOpts(c *server.Config) {
	c.TransactionStateLogPartitions = 3
	c.TransactionAbortInterval = 200 * time.Millisecond
}

// TestClusterTxnExactlyOnceWithBrokerStopped runs franz-go's
// GroupTransactSession (consume, produce, commit the offsets in the
// transaction) on 3 brokers with replication factor 3 everywhere, and
// stops the transaction coordinator's broker a third of the way, inside a
// transaction (records produced, not yet committed): the output read with
// read_committed holds every input record exactly once.
func TestClusterTxnExactlyOnceWithBrokerStopped(t *testing.T) {
	for _, tv := range []int16{2, 1} {
		t.Run(fmt.Sprintf("transaction.version=%d", tv), func(t *testing.T) {
			exactlyOnceWithBrokerStopped(t, func(c *server.Config) { txnOpts(c); c.TransactionVersion = tv })
		})
	}
}

// exactlyOnceWithBrokerStopped is TestClusterTxnExactlyOnceWithBrokerStopped
// on a cluster configured by opts: under transaction version 1 the
// partition leaders verify with a coordinator on another broker, under 2
// they add the partitions there.
func exactlyOnceWithBrokerStopped(t *testing.T, opts Option) {
	c := New(t, 3, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, topic := range []string{"eos-in", "eos-out"} {
		if _, err := c.Admin().CreateTopic(ctx, 2, 3, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	const n = 400
	in := c.Client()
	for i := 0; i < n; i++ { // a batch per record: many small transactions below
		if err := in.ProduceSync(ctx, &kgo.Record{Topic: "eos-in", Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	const txnID = "eos-cluster"
	stopped := false
	transact(t, ctx, c, txnID, n, func(done int) {
		if stopped || done < n/3 {
			return
		}
		stopped = true
		co := c.Admin().FindTxnCoordinators(ctx, txnID)
		r, ok := co[txnID]
		if !ok || r.Err != nil {
			t.Fatalf("find coordinator of %s: %v", txnID, r.Err)
		}
		t.Logf("stopping broker %d, the transaction coordinator, after %d records", r.NodeID, done)
		c.Stop(r.NodeID)
	})
	checkExactlyOnce(t, ctx, c, "eos-out", n)
}

// transact copies eos-in to eos-out in transactions until n records were
// committed, calling before with the count committed so far before each
// commit.
func transact(t *testing.T, ctx context.Context, c *Cluster, txnID string, n int, before func(done int)) {
	t.Helper()
	seeds := make([]string, 0, len(c.Brokers))
	for _, b := range c.Brokers {
		seeds = append(seeds, b.Addr())
	}
	newSession := func() *kgo.GroupTransactSession {
		sess, err := kgo.NewGroupTransactSession(
			kgo.SeedBrokers(seeds...),
			kgo.Dialer(c.Net.Dialer(100)),
			kgo.TransactionalID(txnID),
			kgo.ConsumerGroup("eos-group"),
			kgo.ConsumeTopics("eos-in"),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxPartitionBytes(1), // a batch per partition: many small transactions
			kgo.RequiredAcks(kgo.AllISRAcks()),
		)
		if err != nil {
			t.Fatal(err)
		}
		return sess
	}
	sess := newSession()
	defer func() { sess.Close() }()
	done := 0
	for done < n {
		fs := sess.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("after %d records: %v", done, err)
		}
		if err := sess.Begin(); err != nil {
			// A client whose producer id hit an error it deems fatal
			// (franz-go: a coordinator it no longer finds in metadata
			// while the stopped broker leaves it) is restarted, as an
			// exactly-once application restarts its instance: the new
			// one fences the old and aborts what it left open, and
			// exactly-once must still hold below.
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
		before(done)
		committed, err := sess.End(ctx, kgo.TryCommit)
		if err != nil {
			t.Logf("end of transaction: %v (the session aborts and rewinds)", err)
		}
		if committed {
			done += count
		}
	}
}

// checkExactlyOnce reads topic with read_committed and checks it holds the
// values 0..n-1 once each.
func checkExactlyOnce(t *testing.T, ctx context.Context, c *Cluster, topic string, n int) {
	t.Helper()
	cl := c.Client(kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
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
		if k := seen[strconv.Itoa(i)]; k != 1 {
			t.Errorf("value %d seen %d times", i, k)
		}
	}
	if total != n {
		t.Errorf("%d records in %s, want %d", total, topic, n)
	}
}
