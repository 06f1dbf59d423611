package replica

import (
	"errors"
	"fmt"
	"testing"
)

// txnBatch is batch with the transactional attribute set.
func txnBatch(pid int64, epoch int16, seq int32, values ...string) []byte {
	b := batch(pid, epoch, seq, values...)
	b[22] |= 0x10
	fixCRC(b)
	return b
}

// abortedTxns is Partition.AbortedTxns, failing the test on error.
func abortedTxns(t *testing.T, p *Partition, from, upTo int64) []AbortedTxn {
	t.Helper()
	out, err := p.AbortedTxns(from, upTo)
	if err != nil {
		t.Fatalf("aborted transactions of [%d, %d): %v", from, upTo, err)
	}
	return out
}

// TestPartitionTxnLastStableAndAbortedIndex follows two producers'
// transactions through a partition: the last stable offset stops at the
// first open transaction, a commit and an abort release it, the abort is
// indexed (producer, first offset, marker offset) for read_committed
// fetches, and a reopened partition rebuilds the same state from the log.
func TestPartitionTxnLastStableAndAbortedIndex(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, dir)
	p := openLeader(t, m, "txn", testSettings())
	ctx := testCtx(t)

	produce(t, p, 1, plain("x"))                  // 0
	produce(t, p, 1, txnBatch(7, 0, 0, "a", "b")) // 1-2: producer 7 opens
	produce(t, p, 1, txnBatch(8, 0, 0, "c"))      // 3: producer 8 opens
	produce(t, p, 1, plain("y"))                  // 4
	if lso := p.LastStableOffset(); lso != 1 {
		t.Fatalf("two open transactions: last stable %d, want 1", lso)
	}
	if off, err := p.WriteTxnMarker(ctx, 7, 0, false, 0); err != nil || off != 5 {
		t.Fatalf("abort marker: offset %d, %v; want 5", off, err)
	}
	if lso := p.LastStableOffset(); lso != 3 {
		t.Fatalf("producer 7 aborted, 8 open: last stable %d, want 3", lso)
	}
	if off, err := p.WriteTxnMarker(ctx, 8, 0, true, 0); err != nil || off != 6 {
		t.Fatalf("commit marker: offset %d, %v; want 6", off, err)
	}
	if lso, hw := p.LastStableOffset(), p.HighWatermark(); lso != hw || hw != 7 {
		t.Fatalf("all decided: last stable %d, high watermark %d, want both 7", lso, hw)
	}
	want := "[{7 1 5 3}]"
	if got := fmt.Sprint(abortedTxns(t, p, 0, 7)); got != want {
		t.Fatalf("aborted index %s, want %s", got, want)
	}
	if got := abortedTxns(t, p, 6, 7); len(got) != 0 {
		t.Fatalf("aborted transactions overlapping [6, 7): %v, want none", got)
	}
	res, err := p.FetchCommitted(0, 1<<20)
	if err != nil || res.LastStable != 7 || len(res.Records) == 0 {
		t.Fatalf("read_committed fetch: %+v, %v", res, err)
	}

	// A marker from an epoch older than the producer's latest (a
	// superseded coordinator) is refused.
	produce(t, p, 1, txnBatch(7, 1, 0, "d"))
	if _, err := p.WriteTxnMarker(ctx, 7, 0, true, 0); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("marker at an old epoch: %v, want ErrInvalidProducerEpoch", err)
	}
	if lso := p.LastStableOffset(); lso != 7 {
		t.Fatalf("producer 7's second transaction open: last stable %d, want 7", lso)
	}

	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	p2 := openLeader(t, newManager(t, dir), "txn", testSettings())
	if got := fmt.Sprint(abortedTxns(t, p2, 0, 100)); got != want {
		t.Fatalf("after reopening: aborted index %s, want %s", got, want)
	}
	if lso := p2.LastStableOffset(); lso != 7 {
		t.Fatalf("after reopening: last stable %d, want 7 (producer 7's open transaction)", lso)
	}
}

// TestPartitionTxnFollowerRebuildsState copies a leader's log, markers
// included, to a follower: it derives the same aborted index and open
// transactions.
func TestPartitionTxnFollowerRebuildsState(t *testing.T) {
	m := newManager(t, "")
	leader := openLeader(t, m, "txn-l", testSettings())
	ctx := testCtx(t)
	produce(t, leader, 1, txnBatch(3, 0, 0, "a"))
	if _, err := leader.WriteTxnMarker(ctx, 3, 0, false, 0); err != nil {
		t.Fatal(err)
	}
	produce(t, leader, 1, txnBatch(4, 0, 0, "b"))

	f, err := m.Open("txn-f", 0, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	f.BecomeFollower(1)
	all, err := leader.Fetch(0, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.appendAsFollower(1, all.Records); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(abortedTxns(t, f, 0, 100)), fmt.Sprint(abortedTxns(t, leader, 0, 100)); got != want {
		t.Fatalf("follower aborted index %s, leader's %s", got, want)
	}
	if got := f.OngoingTxns(); len(got) != 1 || got[4] != 2 {
		t.Fatalf("follower open transactions %v, want producer 4 from offset 2", got)
	}
}

// TestPartitionTxnMarkerFromOlderCoordinator: once a producer's marker
// came from coordinator epoch 5, a marker from epoch 3 (a deposed
// coordinator's late retry) is refused, also after a reopen.
func TestPartitionTxnMarkerFromOlderCoordinator(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, dir)
	p := openLeader(t, m, "txn-ce", testSettings())
	ctx := testCtx(t)
	produce(t, p, 1, txnBatch(9, 0, 0, "a"))
	if _, err := p.WriteTxnMarker(ctx, 9, 0, true, 5); err != nil {
		t.Fatal(err)
	}
	produce(t, p, 1, txnBatch(9, 0, 1, "b"))
	if _, err := p.WriteTxnMarker(ctx, 9, 0, true, 3); !errors.Is(err, ErrCoordinatorFenced) {
		t.Fatalf("marker from an older coordinator: %v, want ErrCoordinatorFenced", err)
	}
	if lso := p.LastStableOffset(); lso != 2 {
		t.Fatalf("the second transaction was decided by the stale marker: last stable %d, want 2", lso)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	p2 := openLeader(t, newManager(t, dir), "txn-ce", testSettings())
	if _, err := p2.WriteTxnMarker(ctx, 9, 0, false, 4); !errors.Is(err, ErrCoordinatorFenced) {
		t.Fatalf("after reopening, a marker from epoch 4: %v, want ErrCoordinatorFenced", err)
	}
	if _, err := p2.WriteTxnMarker(ctx, 9, 0, false, 5); err != nil {
		t.Fatalf("a marker from the current coordinator: %v", err)
	}
}

// TestPartitionTxnNextEpochNeedsVerification: under transaction version 2
// every transaction has a new producer epoch. A batch of the producer's
// next transaction (epoch 1) that arrives while this partition still has
// its previous one (epoch 0) open, its marker not yet written, must be
// verified with the coordinator rather than slip into the open
// transaction; a batch of the open transaction's own epoch needs none.
func TestPartitionTxnNextEpochNeedsVerification(t *testing.T) {
	m := newManager(t, t.TempDir())
	s := testSettings()
	s.VerifyTransactions = true
	p := openLeader(t, m, "txnv", s)
	if _, _, need := p.TxnToVerify(txnBatch(7, 0, 0, "a")); !need {
		t.Fatal("a first transactional batch needs verification")
	}
	p.MarkTxnVerified(7, 0)
	produce(t, p, 1, txnBatch(7, 0, 0, "a"))
	if _, _, need := p.TxnToVerify(txnBatch(7, 0, 1, "b")); need {
		t.Fatal("a batch of the open transaction's epoch needs no verification")
	}
	if _, _, need := p.TxnToVerify(txnBatch(7, 1, 0, "c")); !need {
		t.Fatal("a batch at the next epoch slipped into the open transaction of the previous one")
	}
	if _, _, err := p.ProduceAsync(txnBatch(7, 1, 0, "c"), 1); !errors.Is(err, ErrTxnNotVerified) {
		t.Fatalf("unverified batch at the next epoch: %v, want ErrTxnNotVerified", err)
	}
}
