package server

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTxnAdminAPIs describes an open transaction with kadm's
// ListTransactions, DescribeTransactions and DescribeProducers, then again
// once it committed.
func TestTxnAdminAPIs(t *testing.T) {
	_, addr := startTestServer(t, txnTestConfig)
	ctx := testCtx(t, 60*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "txn-admin", 1); err != nil {
		t.Fatal(err)
	}
	p := newClient(t, addr, kgo.TransactionalID("tx-admin"))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Topic: "txn-admin", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := newAdmin(t, addr)
	listed, err := adm.ListTransactions(ctx, nil, []string{"Ongoing"})
	if err != nil {
		t.Fatal(err)
	}
	if ids := listed.TransactionalIDs(); len(ids) != 1 || ids[0] != "tx-admin" {
		t.Fatalf("ListTransactions(Ongoing): %v, want [tx-admin]", ids)
	}
	described, err := adm.DescribeTransactions(ctx, "tx-admin")
	if err != nil {
		t.Fatal(err)
	}
	d := described["tx-admin"]
	if d.Err != nil || d.State != "Ongoing" || d.StartTimestamp <= 0 || len(d.Topics["txn-admin"]) != 1 {
		t.Fatalf("DescribeTransactions: %+v", d)
	}
	producers, err := adm.DescribeProducers(ctx, kadm.TopicsSet{"txn-admin": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	ps := producers.SortedProducers()
	if len(ps) != 1 || ps[0].ProducerID != d.ProducerID || ps[0].CurrentTxnStartOffset != 0 || ps[0].LastSequence != 0 ||
		ps[0].LastTimestamp <= 0 || ps[0].CoordinatorEpoch != -1 {
		t.Fatalf("DescribeProducers: %+v, want producer %d in a transaction from offset 0, a last timestamp and no marker's coordinator epoch", ps, d.ProducerID)
	}

	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	described, err = adm.DescribeTransactions(ctx, "tx-admin")
	if err != nil {
		t.Fatal(err)
	}
	if d := described["tx-admin"]; d.State != "CompleteCommit" || len(d.Topics) != 0 {
		t.Fatalf("after commit: %+v, want CompleteCommit with no partitions", d)
	}
	if listed, err = adm.ListTransactions(ctx, nil, []string{"Ongoing"}); err != nil || len(listed) != 0 {
		t.Fatalf("ListTransactions(Ongoing) after commit: %v, %v", listed.TransactionalIDs(), err)
	}
	producers, err = adm.DescribeProducers(ctx, kadm.TopicsSet{"txn-admin": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if ps := producers.SortedProducers(); len(ps) != 1 || ps[0].CurrentTxnStartOffset != -1 || ps[0].CoordinatorEpoch < 0 {
		t.Fatalf("DescribeProducers after commit: %+v, want no open transaction and the marker's coordinator epoch", ps)
	}
}

// TestTxnStateTopicProtected: __transaction_state is compacted and cannot be
// deleted, grown or have records deleted, as __consumer_offsets.
func TestTxnStateTopicProtected(t *testing.T) {
	s, addr := startTestServer(t, txnTestConfig)
	ctx := testCtx(t, 30*time.Second)
	if err := s.ensureTxnTopic(ctx); err != nil {
		t.Fatal(err)
	}
	adm := newAdmin(t, addr)
	if r, err := adm.DeleteTopics(ctx, txnTopic); err == nil && r[txnTopic].Err == nil {
		t.Error("deleted __transaction_state")
	}
	if r, err := adm.CreatePartitions(ctx, 2, txnTopic); err == nil && r[txnTopic].Err == nil {
		t.Error("grew __transaction_state")
	}
	if _, err := s.deleteRecords(txnTopic, 0, 0); err == nil {
		t.Error("deleted records of __transaction_state")
	}
	if st := s.meta.State().Topics[txnTopic]; st == nil || len(st.Partitions) != 4 || st.Configs["cleanup.policy"] != "compact" {
		t.Fatalf("__transaction_state after the attempts: %+v, want 4 compacted partitions", st)
	}
}
