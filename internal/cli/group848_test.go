package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/internal/cluster"
	"github.com/strombroker/strom/internal/server"
)

// TestGroupDescribeConsumerProtocol: `group list` and `group describe`
// show a KIP-848 group with its type, epochs and member assignments, on a
// Strom broker (kfake leaves topic names out of ConsumerGroupDescribe).
func TestGroupDescribeConsumerProtocol(t *testing.T) {
	c := cluster.New(t, 1, func(cfg *server.Config) { cfg.GroupConsumerHeartbeatInterval = 100 * time.Millisecond })
	b := strings.Join(c.Seeds(), ",")
	mustRun(t, b, "", "topic", "create", "events", "--partitions", "1")
	mustRun(t, b, "e0\ne1\n", "produce", "events")
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(b, ",")...), kgo.ConsumerGroup("g848"), kgo.ConsumeTopics("events"),
		kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := 0
	for got < 2 && ctx.Err() == nil {
		got += cl.PollFetches(ctx).NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	groups := decodeJSON[[]groupListed](t, mustRun(t, b, "", "group", "list", "--json").stdout)
	if len(groups) != 1 || groups[0].Type != "consumer" {
		t.Fatalf("group list: %+v", groups)
	}
	g := describeGroup(t, b, "g848")
	if g.Type != "consumer" || g.GroupEpoch == nil || *g.GroupEpoch < 1 || len(g.Members) != 1 ||
		g.Members[0].MemberEpoch == nil || len(g.Members[0].Assigned["events"]) != 1 || len(g.Offsets) != 1 || g.Offsets[0].MemberID != g.Members[0].MemberID {
		t.Fatalf("described %+v", g)
	}
	r := mustRun(t, b, "", "group", "describe", "g848")
	t.Logf("group describe:\n%s", r.stdout)
	for _, want := range []string{"GROUP-EPOCH", "MEMBER-EPOCH", "events:0", "CURRENT-OFFSET"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("describe table lacks %q:\n%s", want, r.stdout)
		}
	}
}
