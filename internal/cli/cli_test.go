package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// testCluster starts a one-broker kfake cluster seeded with topics (one
// partition each) and returns its address.
func testCluster(t *testing.T, topics ...string) string {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(1, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

type result struct {
	code           int
	stdout, stderr string
}

// run executes one subcommand against brokers (passed through STROM_BROKERS,
// which also exercises the env default) with stdin as input.
func run(t *testing.T, brokers, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	e := &env{ctx: ctx, stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(k string) string {
		if k == "STROM_BROKERS" {
			return brokers
		}
		return ""
	}}
	code := mainEnv(e, args)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// mustRun runs and fails the test unless the exit code is 0.
func mustRun(t *testing.T, brokers, stdin string, args ...string) result {
	t.Helper()
	r := run(t, brokers, stdin, args...)
	if r.code != 0 {
		t.Fatalf("strom %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("output is not JSON of %T: %v\n%s", v, err, s)
	}
	return v
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestCommandsAndUsage(t *testing.T) {
	got := strings.Join(Commands(), ",")
	if got != "topic,produce,consume,group,bench,cluster,quota,leader,health,certs,acl,user,txn,feature,token" {
		t.Fatalf("Commands() = %s", got)
	}
	var b bytes.Buffer
	Usage(&b)
	for _, c := range Commands() {
		if !strings.Contains(b.String(), "  "+c+" ") {
			t.Errorf("Usage does not mention %s:\n%s", c, b.String())
		}
	}
	if strings.Contains(b.String(), "kfake") {
		t.Errorf("Usage lists the hidden bench kfake:\n%s", b.String())
	}
}

func TestMainPublicEntryPoint(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"health", "--brokers", closedAddr(t), "--timeout", "1s"}, strings.NewReader(""), &out, &errb)
	if code != exitFail {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitFail, errb.String())
	}
}

func TestUsageErrors(t *testing.T) {
	brokers := closedAddr(t) // never dialled: usage is checked first
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "Kafka client commands"},
		{[]string{"nope"}, `unknown command "nope"`},
		{[]string{"topic"}, "missing topic subcommand"},
		{[]string{"topic", "frob"}, `unknown topic subcommand "frob"`},
		{[]string{"topic", "create"}, "needs a topic name"},
		{[]string{"topic", "create", "x", "--config", "novalue"}, "is not key=value"},
		{[]string{"topic", "alter", "x"}, "needs --partitions N"},
		{[]string{"produce"}, "exactly one topic"},
		{[]string{"produce", "t", "--acks", "2"}, `--acks "2"`},
		{[]string{"consume", "t", "--offset", "5"}, "--offset needs --partition"},
		{[]string{"consume", "t", "--partition", "0", "--group", "g"}, "cannot be combined"},
		{[]string{"consume", "t", "--partition", "0", "--offset", "soon"}, "use earliest, latest"},
		{[]string{"group", "reset-offsets", "g", "--topic", "t"}, "exactly one of --to-earliest"},
		{[]string{"group", "reset-offsets", "g", "--to-latest"}, "needs --topic"},
		{[]string{"bench", "produce", "--records", "0"}, "--records must be positive"},
		{[]string{"bench", "produce", "--compression", "rar"}, "--compression"},
		{[]string{"topic", "list", "--bogus"}, "flag provided but not defined"},
	} {
		r := run(t, brokers, "", tc.args...)
		if r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.args, r.code, exitUsage, r.stderr)
		}
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: stderr %q does not contain %q", tc.args, r.stderr, tc.want)
		}
	}
}

func TestHelpExitsZero(t *testing.T) {
	r := run(t, closedAddr(t), "", "produce", "-h")
	if r.code != exitOK || !strings.Contains(r.stderr, "--key-separator") && !strings.Contains(r.stderr, "-key-separator") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestParseInterspersed(t *testing.T) {
	e := &env{stderr: io.Discard, getenv: func(string) string { return "" }}
	fs, o := newFlags(e, "x", "x", time.Second, "")
	n := fs.Int("n", 0, "")
	pos, err := parse(fs, []string{"a", "--n", "3", "b", "--json", "--", "--c"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(pos, " ") != "a b --c" || *n != 3 || !o.json {
		t.Fatalf("pos %q n %d json %v", pos, *n, o.json)
	}
}

func TestSeeds(t *testing.T) {
	o := &common{brokers: " a:1, b ,,[::1]:9 "}
	if got := strings.Join(o.seeds(), " "); got != "a:1 b:9092 [::1]:9" {
		t.Fatalf("seeds = %q", got)
	}
}
