package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strombroker/strom/internal/chaoscheck"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// tryTool runs an external program like runTool, but returns a failed run
// as an error (with what the program printed) instead of failing the test:
// for clients that may need a few attempts while a cluster fails over.
func tryTool(t *testing.T, timeout time.Duration, stdin []byte, name string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w\nstdout:\n%s\nstderr:\n%s", name, err, stdout.Bytes(), limitLines(stderr.String(), 20))
	}
	noProtocolErrors(t, name+" "+strings.Join(args, " "), stderr.String())
	return stdout.Bytes(), nil
}

// retryUntil calls attempt until it succeeds or timeout passes (failing the
// test with the last error), and returns how long it took and the attempts.
func retryUntil(t *testing.T, timeout time.Duration, what string, attempt func() error) (time.Duration, int) {
	t.Helper()
	start := time.Now()
	for n := 1; ; n++ {
		err := attempt()
		if err == nil {
			return time.Since(start), n
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: still failing after %v and %d attempts: %v", what, timeout, n, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestInteropClusterLeaderKilled drives kafka-python, kcat and franz-go
// against a 3-broker cluster (one partition, replication factor 3,
// min.insync.replicas=2), SIGKILLs the partition's leader, and checks that
// each client still produces (acks=all, possibly after retries) and that
// each reads every record all of them wrote, before and after the kill.
func TestInteropClusterLeaderKilled(t *testing.T) {
	requireTool(t, "python:kafka")
	requireTool(t, "kcat")
	c := startCluster(t, 3)
	const topic = "interop-cluster"
	two := "2"
	c.createTopic(topic, 1, 3, map[string]*string{"min.insync.replicas": &two})
	meta := c.client()
	c.waitFullISR(meta, topic, 1, 30*time.Second)
	boot := c.bootstrap()
	prod := c.client(kgo.RequiredAcks(kgo.AllISRAcks()))

	produceAll := func(phase string) {
		t.Helper()
		d, n := retryUntil(t, 60*time.Second, "kafka-python produce "+phase, func() error {
			_, err := tryTool(t, 60*time.Second, nil, pythonBin, filepath.Join("python", "kafka_python_client.py"),
				"produce", boot, topic, "py-"+phase, "--acks", "all", "--retries", "5")
			return err
		})
		chaoscheck.Report(t, "kafka-python produced py-%s in %v (%d attempts)", phase, d.Round(time.Millisecond), n)
		d, n = retryUntil(t, 60*time.Second, "kcat produce "+phase, func() error {
			_, err := tryTool(t, 60*time.Second, []byte("kcat-"+phase+"\n"), "kcat", "-b", boot, "-t", topic, "-P", "-X", "acks=all")
			return err
		})
		chaoscheck.Report(t, "kcat produced kcat-%s in %v (%d attempts)", phase, d.Round(time.Millisecond), n)
		d, n = retryUntil(t, 60*time.Second, "franz-go produce "+phase, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("go-" + phase)}).FirstErr()
		})
		chaoscheck.Report(t, "franz-go produced go-%s in %v (%d attempts)", phase, d.Round(time.Millisecond), n)
	}

	produceAll("before")
	leader := c.leaderOf(meta, topic, 0)
	c.broker(leader).Kill()
	chaoscheck.Report(t, "SIGKILLed broker %d, the leader of %s/0", leader, topic)
	produceAll("after")

	want := []string{"go-after", "go-before", "kcat-after", "kcat-before", "py-after", "py-before"}
	ctx := testCtx(t, 30*time.Second)
	ends, err := kadm.NewClient(meta).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	end, _ := ends.Lookup(topic, 0)
	n := int(end.Offset) // retries of non-idempotent clients may have written a record twice
	check := func(client string, values []string) {
		t.Helper()
		var missing []string
		for _, w := range want {
			if !slices.Contains(values, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s read %q; missing %q", client, values, missing)
		}
	}

	var py struct{ Records []pyRecord }
	retryUntil(t, 60*time.Second, "kafka-python consume", func() error {
		out, err := tryTool(t, 60*time.Second, nil, pythonBin, filepath.Join("python", "kafka_python_client.py"),
			"consume", boot, topic, fmt.Sprint(n))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(out, &py); err != nil {
			return fmt.Errorf("decode %s: %w", out, err)
		}
		if len(py.Records) < n {
			return fmt.Errorf("read %d of %d records", len(py.Records), n)
		}
		return nil
	})
	var pyValues []string
	for _, r := range py.Records {
		pyValues = append(pyValues, r.Value)
	}
	check("kafka-python", pyValues)

	var kcatValues []string
	retryUntil(t, 60*time.Second, "kcat consume", func() error {
		out, err := tryTool(t, 60*time.Second, nil, "kcat", "-b", boot, "-t", topic, "-C", "-o", "beginning", "-e", "-J")
		if err != nil {
			return err
		}
		kcatValues = kcatValues[:0]
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			var m kcatMessage
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				return fmt.Errorf("kcat -C -J line %q: %w", sc.Text(), err)
			}
			if m.Payload != nil {
				kcatValues = append(kcatValues, *m.Payload)
			}
		}
		if len(kcatValues) < n {
			return fmt.Errorf("read %d of %d records", len(kcatValues), n)
		}
		return nil
	})
	check("kcat", kcatValues)

	var goValues []string
	for _, r := range consumeAll(t, boot, topic, n) {
		goValues = append(goValues, string(r.Value))
	}
	check("franz-go", goValues)
	chaoscheck.Report(t, "after killing leader %d: %d records; kafka-python, kcat and franz-go each read all 6 values", leader, n)

	// The killed broker returns and catches up.
	c.broker(leader).Start()
	c.waitFullISR(meta, topic, 1, 60*time.Second)
}
