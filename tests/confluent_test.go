package tests

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestInteropConfluentProduceConsumeGroup produces with confluent-kafka
// (librdkafka, acks=all, delivery callbacks) into a 3-partition topic,
// consumes everything with a consumer group, commits, and checks the commit
// with a second consumer in the group (which must find nothing left) and with
// kadm.
func TestInteropConfluentProduceConsumeGroup(t *testing.T) {
	requireTool(t, "python:confluent_kafka")
	b := startBroker(t)
	const topic, group, n = "confluent-test", "confluent-readers", 30
	createTopic(t, b.Addr(), topic, 3, nil)

	var prod struct {
		Delivered []struct {
			Key       string `json:"key"`
			Partition int32  `json:"partition"`
			Offset    int64  `json:"offset"`
		} `json:"delivered"`
		Errors      []string `json:"errors"`
		Undelivered int      `json:"undelivered"`
	}
	decodeJSON(t, runPython(t, 60*time.Second, "confluent_client.py", "produce", b.Addr(), topic, fmt.Sprint(n)), &prod)
	if len(prod.Errors) != 0 || prod.Undelivered != 0 || len(prod.Delivered) != n {
		t.Fatalf("confluent produce: %d delivered, %d undelivered, errors %v; want %d delivered", len(prod.Delivered), prod.Undelivered, prod.Errors, n)
	}
	ends := map[int32]int64{} // next offset per partition as the delivery reports tell it
	for _, d := range prod.Delivered {
		if d.Offset != ends[d.Partition] {
			t.Fatalf("delivery report %+v: want offset %d in partition %d (reports arrive in order per partition)", d, ends[d.Partition], d.Partition)
		}
		ends[d.Partition]++
	}

	type consumed struct {
		Records []struct {
			Key, Value string
			Partition  int32
			Offset     int64
		} `json:"records"`
		Committed []struct {
			Partition int32 `json:"partition"`
			Offset    int64 `json:"offset"`
		} `json:"committed"`
	}
	var got consumed
	decodeJSON(t, runPython(t, 90*time.Second, "confluent_client.py", "consume", b.Addr(), topic, group, fmt.Sprint(n)), &got)
	var keys []string
	for _, r := range got.Records {
		if "v"+r.Key[1:] != r.Value {
			t.Errorf("record %+v: key and value do not match", r)
		}
		keys = append(keys, r.Key)
	}
	slices.Sort(keys)
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("k%d", i))
	}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("confluent consumer read keys %v, want %v", keys, want)
	}
	for _, c := range got.Committed {
		if c.Offset != ends[c.Partition] {
			t.Errorf("librdkafka reports committed offset %d for partition %d, want %d", c.Offset, c.Partition, ends[c.Partition])
		}
	}

	ctx := testCtx(t, 20*time.Second)
	offs, err := newAdmin(t, b.Addr()).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("kadm fetch offsets of %s: %v", group, err)
	}
	for p, end := range ends {
		if o, ok := offs.Lookup(topic, p); !ok || o.Err != nil || o.At != end {
			t.Errorf("kadm: committed offset of %s/%d is %+v (found %v), want %d", topic, p, o, ok, end)
		}
	}

	// A new member of the group starts at the commits: nothing is left.
	var again consumed
	decodeJSON(t, runPython(t, 60*time.Second, "confluent_client.py", "consume", b.Addr(), topic, group, "1", "--timeout", "5"), &again)
	if len(again.Records) != 0 {
		t.Fatalf("second consumer in %s re-read %d records after the commit: %+v", group, len(again.Records), again.Records)
	}
}

// TestInteropConfluentAdmin creates a topic with a config through the
// confluent-kafka AdminClient, lists it, deletes it and checks it is gone.
func TestInteropConfluentAdmin(t *testing.T) {
	requireTool(t, "python:confluent_kafka")
	b := startBroker(t)
	var out struct {
		Brokers           []string `json:"brokers"`
		ListedAfterCreate bool     `json:"listed_after_create"`
		Partitions        int      `json:"partitions"`
		ListedAfterDelete bool     `json:"listed_after_delete"`
	}
	decodeJSON(t, runPython(t, 90*time.Second, "confluent_client.py", "admin", b.Addr(), "confluent-admin"), &out)
	if !slices.Equal(out.Brokers, []string{b.Addr()}) {
		t.Errorf("list_topics brokers: %v, want [%s]", out.Brokers, b.Addr())
	}
	if !out.ListedAfterCreate || out.Partitions != 3 {
		t.Errorf("after create_topics: listed=%v partitions=%d, want listed with 3 partitions", out.ListedAfterCreate, out.Partitions)
	}
	if out.ListedAfterDelete {
		t.Errorf("topic still listed after delete_topics")
	}

	ctx := testCtx(t, 20*time.Second)
	td, err := newAdmin(t, b.Addr()).ListTopics(ctx)
	if err != nil {
		t.Fatalf("kadm list topics: %v", err)
	}
	if td.Has("confluent-admin") {
		t.Errorf("kadm still lists confluent-admin after delete_topics")
	}
}
