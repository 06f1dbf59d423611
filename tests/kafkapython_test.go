package tests

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// pyRecord is one record as the Python scripts print it.
type pyRecord struct {
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
	Key       *string `json:"key"`
	Value     string  `json:"value"`
}

// TestInteropKafkaPythonQuickstart is the kafka-python README example: send
// b'Hello World' to topic "test", which does not exist yet (kafka-python
// sends Metadata v1, so the topic is auto-created), then read it back from the
// beginning. franz-go must see the same record.
func TestInteropKafkaPythonQuickstart(t *testing.T) {
	requireTool(t, "python:kafka")
	b := startBroker(t)

	var sent struct {
		Sent []struct {
			Partition int32 `json:"partition"`
			Offset    int64 `json:"offset"`
		} `json:"sent"`
	}
	decodeJSON(t, runPython(t, 60*time.Second, "kafka_python_client.py", "produce", b.Addr(), "test", "Hello World"), &sent)
	if len(sent.Sent) != 1 || sent.Sent[0].Offset != 0 {
		t.Fatalf("kafka-python send: got %+v, want one record at offset 0", sent.Sent)
	}

	var got struct{ Records []pyRecord }
	decodeJSON(t, runPython(t, 60*time.Second, "kafka_python_client.py", "consume", b.Addr(), "test", "1"), &got)
	if len(got.Records) != 1 || got.Records[0].Value != "Hello World" || got.Records[0].Offset != 0 {
		t.Fatalf("kafka-python consumer read %+v, want Hello World at offset 0", got.Records)
	}

	recs := consumeAll(t, b.Addr(), "test", 1)
	if string(recs[0].Value) != "Hello World" {
		t.Fatalf("franz-go read %q from kafka-python's record, want Hello World", recs[0].Value)
	}
}

// TestInteropKafkaPythonConsumerGroup commits with a kafka-python consumer
// group, starts a new consumer in the same group and checks it continues at
// the committed offset; kadm must report the same committed offsets.
func TestInteropKafkaPythonConsumerGroup(t *testing.T) {
	requireTool(t, "python:kafka")
	b := startBroker(t)
	const topic, group = "py-group", "py-readers"
	createTopic(t, b.Addr(), topic, 1, nil)
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte("m" + strconv.Itoa(i))})
	}
	produceSync(t, b.Addr(), recs...)

	readAndCommit := func(n int) []pyRecord {
		t.Helper()
		var out struct{ Records []pyRecord }
		decodeJSON(t, runPython(t, 90*time.Second, "kafka_python_client.py", "consume", b.Addr(), topic,
			strconv.Itoa(n), "--group", group, "--commit"), &out)
		return out.Records
	}
	checkCommitted := func(want int64) {
		t.Helper()
		ctx := testCtx(t, 20*time.Second)
		offs, err := newAdmin(t, b.Addr()).FetchOffsets(ctx, group)
		if err != nil {
			t.Fatalf("fetch committed offsets of %s: %v", group, err)
		}
		o, ok := offs.Lookup(topic, 0)
		if !ok || o.Err != nil || o.At != want {
			t.Fatalf("committed offset of %s %s/0: got %+v (found %v), want %d", group, topic, o, ok, want)
		}
	}

	first := readAndCommit(4)
	checkSeq(t, first, 0, 4)
	checkCommitted(4)

	second := readAndCommit(6)
	checkSeq(t, second, 4, 6)
	checkCommitted(10)
}

// checkSeq checks that recs are offsets from, from+1, ... with values m<offset>.
func checkSeq(t *testing.T, recs []pyRecord, from int64, n int) {
	t.Helper()
	if len(recs) != n {
		t.Fatalf("got %d records %+v, want %d starting at offset %d", len(recs), recs, n, from)
	}
	for i, r := range recs {
		want := from + int64(i)
		if r.Offset != want || r.Value != fmt.Sprintf("m%d", want) {
			t.Fatalf("record %d: got offset %d value %q, want offset %d value m%d", i, r.Offset, r.Value, want, want)
		}
	}
}
