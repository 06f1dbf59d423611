package chaoscheck

// Exactly-once checks for transactional pipelines (consume, transform,
// produce, commit the input offsets in the transaction): the output read
// with read_committed must hold every input value exactly once and
// nothing else, in particular no record of an aborted transaction.

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// sentinel is the value ReadCommitted writes to mark the end of a partition.
const sentinel = "chaoscheck-end-of-output"

// ReadCommitted returns every value of topic's partitions 0..partitions-1
// that a read_committed consumer sees. It first appends a plain record to
// each partition and reads until it has seen all of them: a sentinel is
// visible only once every transaction before it is decided, so nothing
// committed before it can be missed, and a trailing marker (which a
// consumer never sees) cannot hold the read up. Fails the test if that
// takes longer than timeout.
func ReadCommitted(ctx context.Context, t testing.TB, seeds []string, topic string, partitions int, timeout time.Duration) []string {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	w, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for p := range partitions {
		r := &kgo.Record{Topic: topic, Partition: int32(p), Value: []byte(sentinel)}
		if err := w.ProduceSync(rctx, r).FirstErr(); err != nil {
			t.Fatalf("write the end sentinel to %s/%d: %v", topic, p, err)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var values []string
	for ended := map[int32]bool{}; len(ended) < partitions; {
		fs := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			t.Fatalf("read_committed consumer of %s: end sentinels of %d of %d partitions seen in %v", topic, len(ended), partitions, timeout)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Value) == sentinel {
				ended[r.Partition] = true
				return
			}
			values = append(values, string(r.Value))
		})
	}
	return values
}

// CheckExactlyOnce compares an exactly-once pipeline's output (as read
// with read_committed) with its input and describes every difference:
// input values missing from the output, values in it more than once, and
// values that were never input (an aborted or foreign record). No
// problems: nil.
func CheckExactlyOnce(input, output []string) []string {
	want := make(map[string]int, len(input))
	for _, v := range input {
		want[v]++
	}
	got := make(map[string]int, len(output))
	for _, v := range output {
		got[v]++
	}
	var problems []string
	for v, n := range want {
		switch k := got[v]; {
		case k == 0:
			problems = append(problems, fmt.Sprintf("lost: input %q is not in the output", v))
		case k > n:
			problems = append(problems, fmt.Sprintf("duplicate: input %q is in the output %d times", v, k))
		}
	}
	for v := range got {
		if want[v] == 0 {
			problems = append(problems, fmt.Sprintf("foreign: %q is in the output but was never input (an aborted record?)", v))
		}
	}
	sort.Strings(problems)
	return problems
}
