package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestTopicLifecycle(t *testing.T) {
	b := testCluster(t)

	r := mustRun(t, b, "", "topic", "create", "orders", "--partitions", "3", "--config", "retention.ms=1000")
	if !strings.Contains(r.stdout, "created topic orders (partitions 3") {
		t.Fatalf("create output: %q", r.stdout)
	}
	r = run(t, b, "", "topic", "create", "orders")
	if r.code != exitFail || !strings.Contains(r.stderr, "already exists — see it with `strom topic describe orders`") {
		t.Fatalf("second create: exit %d stderr %q", r.code, r.stderr)
	}

	listed := decodeJSON[[]topicListed](t, mustRun(t, b, "", "topic", "list", "--json").stdout)
	if len(listed) != 1 || listed[0].Topic != "orders" || listed[0].Partitions != 3 || listed[0].ReplicationFactor != 1 {
		t.Fatalf("list: %+v", listed)
	}
	r = mustRun(t, b, "", "topic", "list")
	if !strings.Contains(r.stdout, "TOPIC") || !strings.Contains(r.stdout, "orders") {
		t.Fatalf("list table: %q", r.stdout)
	}

	mustRun(t, b, "a\nb\nc\n", "produce", "orders", "--partition", "1")
	desc := decodeJSON[[]topicDescribed](t, mustRun(t, b, "", "topic", "describe", "orders", "--json").stdout)
	if len(desc) != 1 || len(desc[0].Partitions) != 3 {
		t.Fatalf("describe: %+v", desc)
	}
	if desc[0].Configs["retention.ms"] != "1000" {
		t.Errorf("configs set on the topic: %v", desc[0].Configs)
	}
	for _, p := range desc[0].Partitions {
		wantEnd := int64(0)
		if p.Partition == 1 {
			wantEnd = 3
		}
		if p.Leader != 0 || len(p.Replicas) != 1 || len(p.ISR) != 1 || p.LogStartOffset != 0 || p.LogEndOffset != wantEnd {
			t.Errorf("partition %+v, want leader 0, one replica/ISR, offsets 0..%d", p, wantEnd)
		}
	}
	r = mustRun(t, b, "", "topic", "describe", "orders")
	for _, want := range []string{"Topic: orders", "Configs: retention.ms=1000", "PARTITION", "LOG-END"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("describe table lacks %q:\n%s", want, r.stdout)
		}
	}

	mustRun(t, b, "", "topic", "alter", "orders", "--partitions", "5", "--config", "cleanup.policy=compact", "--delete-config", "retention.ms")
	desc = decodeJSON[[]topicDescribed](t, mustRun(t, b, "", "topic", "describe", "--json", "orders").stdout)
	if len(desc[0].Partitions) != 5 {
		t.Errorf("after alter: %d partitions, want 5", len(desc[0].Partitions))
	}
	if _, ok := desc[0].Configs["retention.ms"]; ok || desc[0].Configs["cleanup.policy"] != "compact" {
		t.Errorf("after alter configs = %v, want only cleanup.policy=compact", desc[0].Configs)
	}
	r = run(t, b, "", "topic", "alter", "orders", "--partitions", "2")
	if r.code != exitFail || !strings.Contains(r.stderr, "partitions") {
		t.Errorf("shrinking partitions: exit %d stderr %q", r.code, r.stderr)
	}

	r = mustRun(t, b, "", "topic", "delete", "orders")
	if !strings.Contains(r.stdout, "deleted topic orders") {
		t.Fatalf("delete: %q", r.stdout)
	}
	listed = decodeJSON[[]topicListed](t, mustRun(t, b, "", "topic", "list", "--json").stdout)
	if len(listed) != 0 {
		t.Fatalf("after delete: %+v", listed)
	}
	r = run(t, b, "", "topic", "describe", "orders")
	if r.code != exitFail || !strings.Contains(r.stderr, "topic orders does not exist — create it with `strom topic create orders`") {
		t.Fatalf("describe missing: exit %d stderr %q", r.code, r.stderr)
	}
	r = run(t, b, "", "topic", "delete", "orders")
	if r.code != exitFail || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("delete missing: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestProduceConsume(t *testing.T) {
	b := testCluster(t, "t1")
	r := mustRun(t, b, "plain\nk1:v1\nk2:v:2\n\n", "produce", "t1", "--key-separator", ":")
	if !strings.Contains(r.stderr, "produced 4 records to t1 (0 failed)") {
		t.Fatalf("produce summary: %q", r.stderr)
	}

	r = mustRun(t, b, "", "consume", "t1", "--from-beginning", "-n", "4", "--print-key", "--print-offset")
	want := "0:0\tnull\tplain\n0:1\tk1\tv1\n0:2\tk2\tv:2\n0:3\tnull\t\n"
	if r.stdout != want {
		t.Fatalf("consume output\n got %q\nwant %q", r.stdout, want)
	}
	if !strings.Contains(r.stderr, "consumed 4 records") {
		t.Errorf("consume summary: %q", r.stderr)
	}

	r = mustRun(t, b, "", "consume", "t1", "--from-beginning", "-n", "2")
	if r.stdout != "plain\nv1\n" {
		t.Fatalf("-n 2 output %q", r.stdout)
	}

	r = mustRun(t, b, "", "consume", "t1", "--partition", "0", "--offset", "2", "-n", "1", "--json")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 1 {
		t.Fatalf("json lines: %q", r.stdout)
	}
	rec := decodeJSON[map[string]any](t, lines[0])
	if rec["topic"] != "t1" || rec["partition"] != float64(0) || rec["offset"] != float64(2) || rec["key"] != "k2" || rec["value"] != "v:2" {
		t.Fatalf("json record: %v", rec)
	}
	if ts, ok := rec["timestamp"].(float64); !ok || ts <= 0 {
		t.Fatalf("json timestamp: %v", rec["timestamp"])
	}

	// Nothing new arrives: the idle timeout ends the consumer cleanly.
	r = mustRun(t, b, "", "consume", "t1", "--timeout", "300ms")
	if r.stdout != "" || !strings.Contains(r.stderr, "consumed 0 records") {
		t.Fatalf("idle consume: %+v", r)
	}

	// --acks 1 and --json summary.
	r = mustRun(t, b, "x\ny\n", "produce", "t1", "--acks", "1", "--json")
	sum := decodeJSON[produceSummary](t, r.stdout)
	if sum.Records != 2 || sum.Failed != 0 || sum.Topic != "t1" {
		t.Fatalf("json summary: %+v", sum)
	}
}

func TestConsumeUnknownTopicAndPartition(t *testing.T) {
	b := testCluster(t, "t1")
	r := run(t, b, "", "consume", "missing", "-n", "1")
	if r.code != exitFail || !strings.Contains(r.stderr, "topic missing does not exist — create it with `strom topic create missing`") {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
	r = run(t, b, "", "consume", "t1", "--partition", "7")
	if r.code != exitUsage || !strings.Contains(r.stderr, "has 1 partitions") {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
}

func TestProduceToPartitionOutOfRange(t *testing.T) {
	b := testCluster(t, "t1")
	r := run(t, b, "a\n", "produce", "t1", "--partition", "9", "--timeout", "2s")
	if r.code != exitFail || !strings.Contains(r.stderr, "1 of 1 records failed") {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
}

func TestGroupLagAndReset(t *testing.T) {
	b := testCluster(t, "events")
	const n = 5
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "e%d\n", i)
	}
	mustRun(t, b, in.String(), "produce", "events")
	r := mustRun(t, b, "", "consume", "events", "--group", "g1", "--from-beginning", "-n", fmt.Sprint(n))
	if strings.Count(r.stdout, "\n") != n {
		t.Fatalf("group consume printed %q", r.stdout)
	}

	groups := decodeJSON[[]groupListed](t, mustRun(t, b, "", "group", "list", "--json").stdout)
	if len(groups) != 1 || groups[0].Group != "g1" {
		t.Fatalf("group list: %+v", groups)
	}

	g := describeGroup(t, b, "g1")
	if g.State != "Empty" || g.TotalLag != 0 || len(g.Offsets) != 1 || g.Offsets[0].Committed != n || g.Offsets[0].LogEnd != n || g.Offsets[0].Lag != 0 {
		t.Fatalf("after consuming everything: %+v", g)
	}
	r = mustRun(t, b, "", "group", "describe", "g1")
	for _, want := range []string{"GROUP", "Empty", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("describe table lacks %q:\n%s", want, r.stdout)
		}
	}

	// Dry run changes nothing.
	r = mustRun(t, b, "", "group", "reset-offsets", "g1", "--topic", "events", "--to-earliest")
	if !strings.Contains(r.stderr, "dry run") || !strings.Contains(r.stdout, "NEW-OFFSET") {
		t.Fatalf("dry run output: %+v", r)
	}
	if g := describeGroup(t, b, "g1"); g.TotalLag != 0 {
		t.Fatalf("dry run changed lag to %d", g.TotalLag)
	}

	res := decodeJSON[resetResult](t, mustRun(t, b, "", "group", "reset-offsets", "g1", "--topic", "events", "--to-earliest", "--execute", "--json").stdout)
	if !res.Executed || len(res.Offsets) != 1 || res.Offsets[0].Current != n || res.Offsets[0].New != 0 {
		t.Fatalf("reset result: %+v", res)
	}
	if g := describeGroup(t, b, "g1"); g.TotalLag != n || g.Offsets[0].Committed != 0 {
		t.Fatalf("after reset to earliest: %+v", g)
	}

	mustRun(t, b, "", "group", "reset-offsets", "g1", "--topic", "events", "--to-offset", "99", "--execute")
	if g := describeGroup(t, b, "g1"); g.Offsets[0].Committed != n {
		t.Fatalf("--to-offset beyond the end should clamp to %d: %+v", n, g)
	}

	// The group resumes from its commit: after resetting to 3, it reads 2.
	mustRun(t, b, "", "group", "reset-offsets", "g1", "--topic", "events", "--to-offset", "3", "--execute")
	r = mustRun(t, b, "", "consume", "events", "--group", "g1", "-n", "2")
	if r.stdout != "e3\ne4\n" {
		t.Fatalf("resumed group read %q", r.stdout)
	}

	r = mustRun(t, b, "", "group", "delete", "g1")
	if !strings.Contains(r.stdout, "deleted group g1") {
		t.Fatalf("delete: %q", r.stdout)
	}
	r = run(t, b, "", "group", "describe", "g1")
	if r.code != exitFail || !strings.Contains(r.stderr, "group g1 does not exist") {
		t.Fatalf("describe deleted: exit %d stderr %q", r.code, r.stderr)
	}
}

func describeGroup(t *testing.T, brokers, group string) groupDescribed {
	t.Helper()
	gs := decodeJSON[[]groupDescribed](t, mustRun(t, brokers, "", "group", "describe", group, "--json").stdout)
	if len(gs) != 1 {
		t.Fatalf("describe %s: %+v", group, gs)
	}
	return gs[0]
}

func TestHealth(t *testing.T) {
	b := testCluster(t)
	r := mustRun(t, b, "", "health")
	if !strings.HasPrefix(r.stdout, "ok: ") || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("health output %q", r.stdout)
	}
	h := decodeJSON[healthResult](t, mustRun(t, b, "", "health", "--json").stdout)
	if !h.OK || h.Brokers != 1 || h.APIKeys == 0 {
		t.Fatalf("health json %+v", h)
	}

	addr := closedAddr(t)
	r = run(t, b, "", "health", "--brokers", addr)
	want := "cannot reach " + addr + ": connection refused — is a broker running? start one with `strom broker` or set --brokers/STROM_BROKERS"
	if r.code != exitFail || !strings.Contains(r.stderr, want) {
		t.Fatalf("closed port: exit %d stderr %q, want %q", r.code, r.stderr, want)
	}
}

func TestUnreachableBrokerMessage(t *testing.T) {
	addr := closedAddr(t)
	for _, args := range [][]string{
		{"topic", "list"},
		{"produce", "t"},
		{"consume", "t"},
		{"group", "list"},
		{"bench", "produce", "--records", "1"},
	} {
		r := run(t, addr, "x\n", args...)
		if r.code != exitFail || !strings.Contains(r.stderr, "connection refused — is a broker running?") {
			t.Errorf("%v: exit %d stderr %q", args, r.code, r.stderr)
		}
	}
}

func TestConsumeInterruptCommits(t *testing.T) {
	b := testCluster(t, "live")
	mustRun(t, b, "a\nb\nc\n", "produce", "live")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	e := &env{ctx: ctx, stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return b }}
	done := make(chan int, 1)
	go func() { done <- mainEnv(e, []string{"consume", "live", "--group", "g2", "--from-beginning"}) }()

	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(out.String(), "\n") < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if out.String() != "a\nb\nc\n" {
		t.Fatalf("consumed %q before interrupt", out.String())
	}
	// While it runs, the member shows up with its assignment.
	live := describeGroup(t, b, "g2")
	if len(live.Members) != 1 || live.Members[0].ClientID != "strom-cli" || len(live.Members[0].Assigned["live"]) != 1 || live.Offsets[0].MemberID != live.Members[0].MemberID {
		t.Fatalf("live group: %+v", live)
	}
	r := run(t, b, "", "group", "reset-offsets", "g2", "--topic", "live", "--to-earliest", "--execute")
	if r.code != exitFail || !strings.Contains(r.stderr, "stop its consumers first") {
		t.Fatalf("reset of a live group: exit %d stderr %q", r.code, r.stderr)
	}
	cancel() // Ctrl-C
	if code := <-done; code != exitOK {
		t.Fatalf("interrupted consume exit %d, stderr %q", code, errb.String())
	}
	if g := describeGroup(t, b, "g2"); g.TotalLag != 0 || len(g.Offsets) != 1 || g.Offsets[0].Committed != 3 {
		t.Fatalf("after interrupt: %+v", g)
	}
}
