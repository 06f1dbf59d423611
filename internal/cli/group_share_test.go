package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupDescribeShare: `strom group describe` shows a share group with
// its members and share-partition start offsets.
func TestGroupDescribeShare(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "jobs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.SetGroupConfigs("sg", map[string]string{"share.auto.offset.reset": "earliest"})
	b := strings.Join(c.ListenAddrs(), ",")
	mustRun(t, b, "j0\nj1\nj2\n", "produce", "jobs")
	cl, err := kgo.NewClient(kgo.SeedBrokers(b), kgo.ShareGroup("sg"), kgo.ConsumeTopics("jobs"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for got := 0; got < 3; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of 3", got)
		}
		fs.EachRecord(func(r *kgo.Record) { r.Ack(kgo.AckAccept); got++ })
	}
	if err := cl.FlushAcks(ctx); err != nil {
		t.Fatal(err)
	}
	var g groupDescribed
	deadline := time.Now().Add(10 * time.Second)
	for {
		g = describeGroup(t, b, "sg")
		if len(g.Offsets) == 1 && g.Offsets[0].Committed == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // poll with a deadline: acknowledgements land asynchronously
	}
	if g.ProtocolType != "share" || len(g.Members) != 1 || len(g.Offsets) != 1 || g.Offsets[0].Committed != 3 || g.TotalLag != 0 {
		t.Fatalf("described %+v, want a share group, one member, start offset 3, no lag", g)
	}
	r := mustRun(t, b, "", "group", "describe", "sg")
	if !strings.Contains(r.stdout, "share") {
		t.Fatalf("describe table lacks the share protocol type:\n%s", r.stdout)
	}
}
