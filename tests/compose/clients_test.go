package compose

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireClient skips the test when a Debian Kafka client is missing locally
// and fails it under CI=true, where .ci/run installs them.
func requireClient(t *testing.T, name string, args ...string) {
	t.Helper()
	if err := exec.Command(name, args...).Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true (.ci/run installs kcat, python3-kafka): %v", name, err)
		}
		t.Skipf("%s not usable here (%v); install kcat python3-kafka to run this check", name, err)
	}
}

// hostClients checks the quickstart from the README on the host: kcat and
// the classic kafka-python producer/consumer against localhost:<host port>,
// which only works if the EXTERNAL listener advertises reachable addresses.
func hostClients(ctx context.Context, t *testing.T, seed string) {
	t.Helper()
	t.Run("kcat", func(t *testing.T) {
		requireClient(t, "kcat", "-V")
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(cctx, "kcat", "-b", seed, "-L", "-J").Output()
		if err != nil {
			t.Fatalf("kcat -L: %v", err)
		}
		var md struct {
			Brokers []struct {
				ID   int    `json:"id"`
				Name string `json:"name"`
			} `json:"brokers"`
		}
		if err := json.Unmarshal(out, &md); err != nil {
			t.Fatalf("kcat -L -J output: %v\n%s", err, out)
		}
		if len(md.Brokers) != 3 {
			t.Fatalf("kcat sees %d brokers, want 3: %+v", len(md.Brokers), md.Brokers)
		}
		for _, b := range md.Brokers {
			if !strings.HasPrefix(b.Name, "localhost:") {
				t.Fatalf("broker %d advertised to the host as %q, want localhost:<port>", b.ID, b.Name)
			}
		}
		produce := exec.CommandContext(cctx, "kcat", "-b", seed, "-t", "compose-kcat", "-P", "-X", "acks=all")
		produce.Stdin = strings.NewReader("one\ntwo\nthree\n")
		if out, err := produce.CombinedOutput(); err != nil {
			t.Fatalf("kcat -P: %v\n%s", err, out)
		}
		got, err := exec.CommandContext(cctx, "kcat", "-b", seed, "-t", "compose-kcat", "-C", "-o", "beginning", "-e", "-q").Output()
		if err != nil {
			t.Fatalf("kcat -C: %v", err)
		}
		if strings.Fields(string(got)) == nil || strings.Join(strings.Fields(string(got)), ",") != "one,two,three" {
			t.Fatalf("kcat consumed %q", got)
		}
	})
	t.Run("kafka-python", func(t *testing.T) {
		requireClient(t, "/usr/bin/python3", "-c", "import kafka")
		script := filepath.Join(repoRoot(t), "tests", "python", "kafka_python_client.py")
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(cctx, "/usr/bin/python3", script, "produce", seed, "test", "Hello World").CombinedOutput(); err != nil {
			t.Fatalf("kafka-python produce: %v\n%s", err, out)
		}
		out, err := exec.CommandContext(cctx, "/usr/bin/python3", script, "consume", seed, "test", "1").CombinedOutput()
		if err != nil {
			t.Fatalf("kafka-python consume: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "Hello World") {
			t.Fatalf("kafka-python did not read back Hello World:\n%s", out)
		}
	})
}
