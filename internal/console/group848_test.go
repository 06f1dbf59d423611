package console_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestConsoleConsumerProtocolGroup: a KIP-848 group (which DescribeGroups
// answers as Dead, or from v6 as not a classic group) is listed and shown
// with its state, members and assignment from ConsumerGroupDescribe, and
// the lag of what it committed.
func TestConsoleConsumerProtocolGroup(t *testing.T) {
	c := oneBroker(t)
	hs := serve(t, c, false)
	produce(t, c, &kgo.Record{Topic: "t", Value: []byte("x")})
	cl := c.Client(kgo.ConsumerGroup("g848"), kgo.ConsumeTopics("t"), kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer()))
	defer cl.Close()
	ctx := ctxFor(t, 20*time.Second)
	for n := 0; n < 1 && ctx.Err() == nil; {
		n += cl.PollFetches(ctx).NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	const lagRow = `<td>t</td><td>0</td><td></td><td>1</td><td>1</td><td class="lag">0</td>`
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for {
		var code int
		code, body = get(t, hs, "/console/groups/g848")
		if code == http.StatusOK && strings.Contains(body, "Stable") && strings.Contains(body, "t: 0") && strings.Contains(body, lagRow) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group page: %d\n%s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, list := get(t, hs, "/console/groups"); !strings.Contains(list, "g848") || !strings.Contains(list, "Stable") {
		t.Fatalf("groups page:\n%s", list)
	}
}
