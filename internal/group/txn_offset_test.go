package group

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnLog is a memLog that takes transactional batches, as the server's
// offsets log does.
type txnLog struct{ *memLog }

func (l txnLog) AppendTxn(ctx context.Context, b []byte) (int64, error) { return l.Append(ctx, b) }

// appendMarker appends producer pid's COMMIT or ABORT marker.
func appendMarker(t *testing.T, l *memLog, pid int64, commit bool) {
	t.Helper()
	key := []byte{0, 0, 0, 0}
	if commit {
		key[3] = 1
	}
	rec := kmsg.Record{Key: key, Value: []byte{0, 0, 0, 0, 0, 0}}
	rec.Length = int32(len(rec.AppendTo(nil)) - 1)
	body := rec.AppendTo(nil)
	b := kmsg.RecordBatch{Length: int32(49 + len(body)), Magic: 2, Attributes: 0x30, ProducerID: pid,
		FirstSequence: -1, NumRecords: 1, Records: body}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[17:21], crc32.Checksum(raw[21:], castagnoli))
	if _, err := l.Append(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
}

func txnCommit(t *testing.T, c *Coordinator, pid int64, offset int64) {
	t.Helper()
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.Version, req.Group, req.ProducerID, req.ProducerEpoch = 3, "g", pid, 0
	req.Generation = -1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = "in"
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Offset = offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	for _, r := range c.TxnOffsetCommit(context.Background(), req) {
		if r.Err != nil {
			t.Fatalf("TxnOffsetCommit: %v", r.Err)
		}
	}
}

// TestTxnOffsetCommit: offsets committed in a transaction show only once
// its COMMIT marker is in the log (an abort drops them; require_stable
// fetches see them as unstable meanwhile), and a reload replays the same
// rule, keeping an undecided transaction's offsets pending.
func TestTxnOffsetCommit(t *testing.T) {
	log := txnLog{&memLog{}}
	c := New(testConfig())
	t.Cleanup(c.Close)
	if err := c.LoadPartition(context.Background(), 0, log); err != nil {
		t.Fatal(err)
	}
	in0 := tp{"in", 0}
	txnCommit(t, c, 5, 10)
	if got := fetchAll(t, c, "g"); len(got) != 0 {
		t.Fatalf("before the marker: %v, want nothing committed", got)
	}
	fts, err := c.OffsetFetch(context.Background(), "g", []FetchTopic{{Topic: "in", Partitions: []int32{0}}}, true)
	if err != nil || !errors.Is(fts[0].Partitions[0].Err, ErrUnstableOffsetCommit) {
		t.Fatalf("require_stable fetch of a pending offset: %+v, %v", fts, err)
	}
	appendMarker(t, log.memLog, 5, true)
	c.CompleteTxn(0, 5, true)
	if got := fetchAll(t, c, "g")[in0]; got != 10 {
		t.Fatalf("after COMMIT: offset %d, want 10", got)
	}
	txnCommit(t, c, 6, 20)
	appendMarker(t, log.memLog, 6, false)
	c.CompleteTxn(0, 6, false)
	if got := fetchAll(t, c, "g")[in0]; got != 10 {
		t.Fatalf("after ABORT: offset %d, want 10", got)
	}
	txnCommit(t, c, 7, 30) // left undecided

	c2 := New(testConfig())
	t.Cleanup(c2.Close)
	if err := c2.LoadPartition(context.Background(), 0, log); err != nil {
		t.Fatal(err)
	}
	if got := fetchAll(t, c2, "g")[in0]; got != 10 {
		t.Fatalf("reloaded: offset %d, want 10", got)
	}
	appendMarker(t, log.memLog, 7, true)
	c2.CompleteTxn(0, 7, true)
	if got := fetchAll(t, c2, "g")[in0]; got != 30 {
		t.Fatalf("reloaded, then COMMIT of the open transaction: offset %d, want 30", got)
	}
}
