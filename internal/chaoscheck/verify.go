package chaoscheck

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// VerifyOptions shape Verify. The zero value of a field means its default.
type VerifyOptions struct {
	// Forbidden lists values that must not be in the log, such as a write
	// sent straight to an isolated leader.
	Forbidden []string
	// ReadTimeout bounds reading the whole log back (default 60s).
	ReadTimeout time.Duration
	// ReaderWait bounds the wait for the Reader to see every acknowledged
	// record (default 60s).
	ReaderWait time.Duration
	// ClientOpts are added to the options of the fresh consumer.
	ClientOpts []kgo.Opt
}

// Verify reads the whole topic with a fresh consumer, checks it against what
// the producer was told (see Check), reports the figures, fails the test for
// each problem, and then checks that rd (if not nil) saw every acknowledged
// record. Call it after p.Stop, with the cluster serving clients.
func Verify(ctx context.Context, t testing.TB, seeds []string, topic string, p *Producer, rd *Reader, o VerifyOptions) *Result {
	t.Helper()
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 60 * time.Second
	}
	if o.ReaderWait <= 0 {
		o.ReaderWait = 60 * time.Second
	}
	records := ReadLog(ctx, t, seeds, topic, p.Partitions(), o.ReadTimeout, o.ClientOpts...)
	acks, failed, perrs := p.Outcome()
	res := Check(acks, records, o.Forbidden)
	Report(t, "acked %d, produce failures %d %v; log holds %d records (unparsable %d)", res.Acked, failed, perrs, res.Consumed, res.Unparsable)
	Report(t, "lost %d, at another offset %d, duplicates %d (of acknowledged records %d), out of order %d",
		res.Lost, res.WrongOffset, res.Duplicates, res.AckedDuplicates, res.OutOfOrder)
	for _, problem := range res.Problems() {
		t.Errorf("%s", problem)
	}
	if rd != nil {
		CheckReader(ctx, t, rd, res.AckedValues, o.ReaderWait)
	}
	return res
}

// CheckReader waits up to wait for rd to have seen every value of acked and
// fails the test if it has not. Verify calls it for its reader; a run with
// more readers checks the others with Verify's Result.AckedValues.
func CheckReader(ctx context.Context, t testing.TB, rd *Reader, acked []string, wait time.Duration) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for rd.Missing(acked) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	missing := rd.Missing(acked)
	distinct, redelivered, errs := rd.Stats()
	Report(t, "consumer: %d distinct values seen, %d redelivered, %d of %d acknowledged not seen; fetch errors %v",
		distinct, redelivered, missing, len(acked), errs)
	if missing > 0 {
		t.Errorf("the consumer never received %d acknowledged records", missing)
	}
}

// ReadLog reads partitions 0..partitions-1 of topic from the start up to
// the end offsets listed when it begins, with a fresh consumer, within
// timeout, failing the test if that does not happen. Fetch errors (retried
// by the client) are logged.
func ReadLog(ctx context.Context, t testing.TB, seeds []string, topic string, partitions int, timeout time.Duration, opts ...kgo.Opt) []Record {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	if err != nil {
		t.Fatalf("fresh consumer: %v", err)
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(rctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	next := make([]int64, partitions)
	caughtUp := func() bool {
		for p := range partitions {
			e, _ := ends.Lookup(topic, int32(p))
			if next[p] < e.Offset {
				return false
			}
		}
		return true
	}
	var records []Record
	for !caughtUp() {
		fs := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			t.Fatalf("fresh consumer: positions %v, end offsets %v: not reached in %v", next, fmt.Sprint(ends), timeout)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Logf("fresh consumer partition %d: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if int(r.Partition) < partitions {
				next[r.Partition] = r.Offset + 1
			}
			records = append(records, Record{Partition: r.Partition, Offset: r.Offset, Value: r.Value})
		})
	}
	return records
}
