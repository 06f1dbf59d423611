package tests

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestInteropKcatReadCommitted: kcat (librdkafka) reads a topic holding a
// committed, an aborted and a committed franz-go transaction to its end
// (-e): read_committed prints only the committed records, read_uncommitted
// all of them; neither hangs at the trailing marker.
func TestInteropKcatReadCommitted(t *testing.T) {
	requireTool(t, "kcat")
	b := startBroker(t, "--transaction-state-log-num-partitions", "4")
	const topic = "kcat-txn"
	createTopic(t, b.Addr(), topic, 1, nil)
	p := newKgo(t, b.Addr(), kgo.TransactionalID("kcat-txn-id"), kgo.DefaultProduceTopic(topic))
	ctx := testCtx(t, 30*time.Second)
	for _, tx := range []struct {
		values []string
		commit bool
	}{{[]string{"c1", "c2"}, true}, {[]string{"a1"}, false}, {[]string{"c3"}, true}} {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range tx.values {
			if err := p.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(tx.commit)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ isolation, want string }{
		{"read_committed", "c1 c2 c3"},
		{"read_uncommitted", "c1 c2 a1 c3"},
	} {
		out := runTool(t, 30*time.Second, nil, "kcat", "-b", b.Addr(), "-t", topic, "-C", "-o", "beginning", "-e",
			"-X", "isolation.level="+tc.isolation)
		if got := strings.Join(strings.Fields(string(out)), " "); got != tc.want {
			t.Errorf("kcat %s: %q, want %q", tc.isolation, got, tc.want)
		}
	}
}
