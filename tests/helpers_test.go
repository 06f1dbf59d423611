package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// stromBin is the broker binary TestMain builds once for the whole package.
var stromBin string

// pythonBin is the interpreter Debian's python3-kafka and
// python3-confluent-kafka are installed for.
const pythonBin = "/usr/bin/python3"

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "strom-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests:", err)
		return 1
	}
	stromBin = filepath.Join(dir, "strom")
	args := []string{"build", "-o", stromBin}
	// STROM_TEST_RACE=1 runs the broker under the race detector too.
	if os.Getenv("STROM_TEST_RACE") == "1" {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "./cmd/strom")...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "tests: go build ./cmd/strom failed: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// moduleRoot is the directory of go.mod (the tests run in tests/).
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil {
		if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
			return filepath.Dir(gomod), nil
		}
	}
	if _, err := os.Stat(filepath.Join("..", "go.mod")); err != nil {
		return "", fmt.Errorf("cannot find the module root (go env GOMOD, ../go.mod): %w", err)
	}
	return filepath.Abs("..")
}

// inCI reports whether missing tools must fail tests instead of skipping them.
func inCI() bool { return os.Getenv("CI") == "true" }

// requireTool skips the test (fails it under CI=true) unless tool is usable.
// tool is "kcat" or "python:<module>" for a module importable by /usr/bin/python3.
func requireTool(t *testing.T, tool string) {
	t.Helper()
	var err error
	if mod, ok := strings.CutPrefix(tool, "python:"); ok {
		var out []byte
		out, err = exec.Command(pythonBin, "-c", "import "+mod).CombinedOutput()
		if err != nil {
			err = fmt.Errorf("%s cannot import %s: %v: %s", pythonBin, mod, err, bytes.TrimSpace(out))
		}
	} else {
		_, err = exec.LookPath(tool)
	}
	if err == nil {
		return
	}
	msg := fmt.Sprintf("%s is needed by this test and is not available (%v); install it with: apt-get install kcat python3-kafka python3-confluent-kafka", tool, err)
	if inCI() {
		t.Fatal(msg)
	}
	t.Skip("SKIPPED: " + msg)
}

// testCtx returns a context that is cancelled after d or when the test ends.
func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it returns nil, failing the test with the last
// error if that has not happened within timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not done within %v: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// newKgo returns a franz-go client seeded with addr (host:port, or several
// comma-separated as for a cluster), closed when the test ends.
func newKgo(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(addr, ",")...)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// newAdmin returns a kadm client on its own franz-go client.
func newAdmin(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	return kadm.NewClient(newKgo(t, addr))
}

// createTopic creates topic with the given partitions (replication factor 1)
// and fails the test if the broker refuses.
func createTopic(t *testing.T, addr, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	resp, err := newAdmin(t, addr).CreateTopic(ctx, partitions, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s (%d partitions): %v (%s)", topic, partitions, err, resp.ErrMessage)
	}
}

// produceSync produces recs with franz-go (acks=all, idempotent) and fails
// the test on any error. It returns the records with offsets filled in.
func produceSync(t *testing.T, addr string, recs ...*kgo.Record) []*kgo.Record {
	t.Helper()
	cl := newKgo(t, addr)
	ctx := testCtx(t, 30*time.Second)
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce %d records: %v", len(recs), err)
	}
	return recs
}

// consumeAll reads topic from the beginning with franz-go, without a group,
// until it has n records; it fails the test if they do not arrive.
func consumeAll(t *testing.T, addr, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := newKgo(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := testCtx(t, 30*time.Second)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume %s: got %d of %d records before timeout", topic, len(out), n)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Errorf("consume %s/%d: %v", topic, p, err)
		})
		out = append(out, fs.Records()...)
	}
	return out
}

// runPython runs tests/python/<script> with /usr/bin/python3 and returns its
// stdout; a non-zero exit fails the test with everything the script printed.
// librdkafka protocol errors on stderr fail the test too (see noProtocolErrors).
func runPython(t *testing.T, timeout time.Duration, script string, args ...string) []byte {
	t.Helper()
	return runTool(t, timeout, nil, pythonBin, append([]string{filepath.Join("python", script)}, args...)...)
}

// runTool runs an external program with stdin and returns its stdout. A
// non-zero exit, or a protocol error the client logged, fails the test.
func runTool(t *testing.T, timeout time.Duration, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	ctx := testCtx(t, timeout)
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v after %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err,
			time.Since(start).Round(time.Millisecond), stdout.Bytes(), limitLines(stderr.String(), 40))
	}
	noProtocolErrors(t, name+" "+strings.Join(args, " "), stderr.String())
	return stdout.Bytes()
}

// protocolErrorMarks are what clients log when they cannot parse a broker
// response: librdkafka's PROTOERR lines ("Protocol parse failure for Fetch
// v11 ...") and kafka-python's decode errors. A client that works around such
// a response by retrying still means the broker sent something malformed.
var protocolErrorMarks = []string{"PROTOERR", "Protocol parse failure", "CorrelationIdError", "Unable to decode"}

// noProtocolErrors fails the test if a client's log shows a protocol error.
func noProtocolErrors(t *testing.T, what, log string) {
	t.Helper()
	for _, mark := range protocolErrorMarks {
		if strings.Contains(log, mark) {
			t.Errorf("%s: the client logged protocol errors (%q):\n%s", what, mark, limitLines(log, 20))
			return
		}
	}
}

// limitLines keeps the first n lines of s.
func limitLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) <= n {
		return s
	}
	return strings.Join(lines[:n], "") + fmt.Sprintf("[... %d more lines]\n", len(lines)-n)
}

// decodeJSON decodes out into v or fails the test showing out.
func decodeJSON(t *testing.T, out []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("decode JSON output: %v\n%s", err, out)
	}
}
