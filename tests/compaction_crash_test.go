package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCrashCompactionKill9 SIGKILLs the broker while its log cleaner is
// busy (a 10 ms backoff, min.cleanable.dirty.ratio=0.01, 4 KiB segments:
// a pass runs after almost every produce) and restarts it on the same data
// directory, several times. Wherever each kill lands (writing .cleaned
// files, mid-swap, between passes), the restarted broker must serve every
// key's latest acknowledged value and keep compacting, and once stopped
// no cleaner file may be left. The in-process test storage.TestCleanCrashAtEachStep stops
// at each step deterministically; this one checks the real process.
func TestCrashCompactionKill9(t *testing.T) {
	b := startBroker(t, "--log-cleaner-backoff-ms", "10")
	const topic, keys = "compacted-crash", 50
	createTopic(t, b.Addr(), topic, 1, map[string]*string{
		"cleanup.policy": kmsg.StringPtr("compact"), "segment.bytes": kmsg.StringPtr("4096"),
		"min.cleanable.dirty.ratio": kmsg.StringPtr("0.01"),
	})
	want := map[string]string{}
	var end int64
	for kill := 0; kill < 3; kill++ {
		cl := newKgo(t, b.Addr(), kgo.DefaultProduceTopic(topic))
		ctx := testCtx(t, 60*time.Second)
		for round := 0; round < 30; round++ {
			var rs []*kgo.Record
			for k := 0; k < keys; k++ {
				key, v := fmt.Sprintf("k%02d", k), fmt.Sprintf("kill%d-round%d", kill, round)
				rs = append(rs, &kgo.Record{Key: []byte(key), Value: []byte(v)})
				want[key] = v
			}
			if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
			end = rs[len(rs)-1].Offset + 1
		}
		cl.Close()
		b.Kill()
		t.Logf("kill -9 #%d left cleaner files: %v", kill, cleanerFiles(t, filepath.Join(b.dataDir, topic+"-0")))
		b.Start()
		checkCompactedLatest(t, b.Addr(), topic, end, want)
	}
	// Still compacting after the restarts: the closed segments shrink to
	// about one record per key.
	waitFor(t, 30*time.Second, "compaction after the restarts", func() error {
		n := len(consumeFromStart(t, b.Addr(), topic, end))
		if n > 3*keys+1000 {
			return fmt.Errorf("%d records for %d keys", n, keys)
		}
		return nil
	})
	// A graceful stop abandons a pass in progress and deletes its files;
	// what a kill left was removed or completed by the restarts.
	b.Stop()
	if left := cleanerFiles(t, filepath.Join(b.dataDir, topic+"-0")); len(left) > 0 {
		t.Errorf("leftover cleaner files after a graceful stop: %v", left)
	}
}

// cleanerFiles lists the log cleaner's temporary files in a partition directory.
func cleanerFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".cleaned") || strings.HasSuffix(e.Name(), ".swap") {
			out = append(out, e.Name())
		}
	}
	return out
}

// consumeFromStart reads topic/0 with franz-go from the beginning up to end.
func consumeFromStart(t *testing.T, addr, topic string, end int64) []*kgo.Record {
	t.Helper()
	cl := newKgo(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	ctx := testCtx(t, 30*time.Second)
	var out []*kgo.Record
	for len(out) == 0 || out[len(out)-1].Offset < end-1 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume %s: %d records, not up to offset %d", topic, len(out), end)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("consume %s: %v", topic, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

// checkCompactedLatest reads the topic from the start and checks each key's
// last value read is the latest acknowledged one.
func checkCompactedLatest(t *testing.T, addr, topic string, end int64, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, r := range consumeFromStart(t, addr, topic, end) {
		got[string(r.Key)] = string(r.Value)
	}
	if len(got) != len(want) {
		t.Fatalf("%d keys read, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("key %s = %q, want the latest acknowledged %q", k, got[k], v)
		}
	}
}
