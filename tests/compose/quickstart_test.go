package compose

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestComposeQuickstartFresh runs the kafka-python README quickstart with
// default settings (retries=0) as the very first client of a freshly
// started compose cluster: the first send auto-creates topic "test", and
// must succeed although its leader may be a broker that has only just
// learnt of the topic. STROM_COMPOSE_QUICKSTART_RUNS sets how many fresh
// clusters (default 1; the closing note of issue 8 used more).
func TestComposeQuickstartFresh(t *testing.T) {
	runs := 1
	if v := os.Getenv("STROM_COMPOSE_QUICKSTART_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("STROM_COMPOSE_QUICKSTART_RUNS=%q: want a positive count", v)
		}
		runs = n
	}
	requireClient(t, "/usr/bin/python3", "-c", "import kafka")
	ok := 0
	for i := range runs {
		t.Run(fmt.Sprintf("fresh-%d", i+1), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testBudget)
			defer cancel()
			cl := startCompose(ctx, t, project)
			seed := cl.seeds[i%len(cl.seeds)]
			script := filepath.Join(repoRoot(t), "tests", "python", "kafka_python_client.py")
			cctx, ccancel := context.WithTimeout(ctx, 60*time.Second)
			defer ccancel()
			if out, err := exec.CommandContext(cctx, "/usr/bin/python3", script, "produce", seed, "test", "Hello World").CombinedOutput(); err != nil {
				cl.logs()
				t.Fatalf("kafka-python quickstart send on a fresh compose cluster via %s: %v\n%s", seed, err, out)
			}
			if out, err := exec.CommandContext(cctx, "/usr/bin/python3", script, "consume", seed, "test", "1").CombinedOutput(); err != nil {
				t.Fatalf("kafka-python quickstart consume: %v\n%s", err, out)
			}
			ok++
		})
	}
	t.Logf("kafka-python quickstart on fresh compose clusters: %d of %d succeeded", ok, runs)
}
