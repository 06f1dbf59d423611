package chaoscheck

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestWorkloadAgainstKfake runs the producer, a group reader and Verify
// against franz-go's in-memory fake cluster, which loses nothing: every
// check must pass and the figures must add up.
func TestWorkloadAgainstKfake(t *testing.T) {
	seeds := startFake(t, "chaos")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	prod := StartProducer(t, seeds, "chaos", Options{Partitions: 2, Pace: time.Millisecond})
	rd := StartReader(t, seeds, "chaos", kgo.ConsumerGroup("chaoscheck-test"))
	prod.WaitAcks(ctx, t, 50, 20*time.Second, "acknowledgements from kfake")
	t0 := time.Now()
	prod.WaitAcks(ctx, t, 10, 20*time.Second, "acknowledgements after t0")
	prod.Stop(t, 10*time.Second)
	for p, gap := range prod.FirstAckAfter(t0) {
		if gap < 0 {
			t.Errorf("partition %d: nothing produced after t0 acknowledged", p)
		}
	}

	res := Verify(ctx, t, seeds, "chaos", prod, rd, VerifyOptions{Forbidden: []string{"never-written"}, ReaderWait: 20 * time.Second})
	if res.Acked != prod.AckCount() || res.Acked < 60 || res.Consumed < res.Acked {
		t.Errorf("acked %d (producer says %d), consumed %d", res.Acked, prod.AckCount(), res.Consumed)
	}
	if p := res.Problems(); p != nil {
		t.Errorf("problems against a fake that loses nothing: %q", p)
	}
	rd.Stop()
	rd.Stop() // idempotent
	if distinct, _, _ := rd.Stats(); distinct < res.Acked {
		t.Errorf("reader saw %d distinct values, want at least %d", distinct, res.Acked)
	}
}

// startFake starts a one-broker kfake cluster holding topic with two
// partitions, closed at test end, and returns its addresses.
func startFake(t *testing.T, topic string) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}
