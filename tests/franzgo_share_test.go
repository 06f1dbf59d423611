package tests

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/internal/sharetest"
)

// TestInteropFranzGoShareGroupSurvivesCrash runs the strom binary with the
// share-group flags, consumes half of a topic with franz-go's share
// consumer (kgo.ShareGroup), kills the broker (SIGKILL) and starts it
// again: a new member gets exactly the records that were not acknowledged.
func TestInteropFranzGoShareGroupSurvivesCrash(t *testing.T) {
	b := startBroker(t, "--share-auto-offset-reset", "earliest", "--share-coordinator-state-topic-num-partitions", "3",
		"--group-share-heartbeat-interval-ms", "200")
	const topic, n = "share-crash", 100
	createTopic(t, b.Addr(), topic, 1, nil)
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "%d", i)})
	}
	produceSync(t, b.Addr(), recs...)

	ctx := testCtx(t, 60*time.Second)
	consume := func(until func(map[string]int) bool) map[string]int {
		t.Helper()
		cl := newKgo(t, b.Addr(), kgo.ShareGroup("crash"), kgo.ConsumeTopics(topic), kgo.ShareMaxRecords(10), kgo.FetchMaxWait(200*time.Millisecond))
		defer cl.Close()
		return sharetest.Consume(t, ctx, cl, until)
	}
	before := consume(func(seen map[string]int) bool { return len(seen) >= n/2 })
	b.Kill()
	b.Start()
	after := consume(func(seen map[string]int) bool { return len(seen)+len(before) >= n })
	for v := range after {
		if before[v] > 0 {
			t.Errorf("record %s, acknowledged before the crash, was delivered again", v)
		}
	}
}
