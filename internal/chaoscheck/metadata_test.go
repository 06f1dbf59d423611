package chaoscheck

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestMetadataFromAndFullISR(t *testing.T) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(startFake(t, "t")...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_, parts, err := MetadataFrom(ctx, cl, 0, "t")
	if err != nil || len(parts) != 2 {
		t.Fatalf("MetadataFrom = %+v, %v; want 2 partitions", parts, err)
	}
	for p, ps := range parts {
		if ps.Err != nil || len(ps.ISR) != 1 || ps.Leader != ps.ISR[0] {
			t.Errorf("partition %d: %+v", p, ps)
		}
	}
	if _, _, err := MetadataFrom(ctx, cl, 0, "missing"); err == nil {
		t.Errorf("MetadataFrom of a missing topic: no error")
	}
	// kfake numbers its node 0, which FullISR (Kafka node ids start at 1
	// in Strom) does not accept as a leader.
	for _, tc := range []struct {
		partitions, size int
		want             string
	}{
		{3, 1, "broker 0: 2 partitions, want 3"},
		{2, 3, "broker 0: partition 0: leader 0 ISR [0]"},
	} {
		if err := FullISR(ctx, cl, "t", tc.partitions, []int32{0}, tc.size); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("FullISR(%d partitions, size %d) = %v, want %q", tc.partitions, tc.size, err, tc.want)
		}
	}
	if err := FullISR(ctx, cl, "t", 2, nil, 1); err != nil {
		t.Errorf("FullISR asking no broker = %v", err)
	}
}
