package tests

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCompactedTopicKcatKafkaGo is issue 11's compaction check on the built
// broker with its background cleaner: a compacted topic with repeated keys
// and tombstones, small segments (segment.bytes=1024, segment.ms=100) and
// min.cleanable.dirty.ratio=0.01, read from the beginning once the cleaner
// ran, returns exactly the latest value of every live key and nothing of a
// deleted key, to kcat and to segmentio/kafka-go's Reader.
//
// Progress is observed, not waited for: each filler record is large enough
// to roll a segment of its own, so everything before it is cleanable, and
// the test polls the partition's cleaner-offset-checkpoint until the
// cleaner reached it. Tombstones (delete.retention.ms=0) are stamped with
// their delete horizon by the first pass that keeps them and go at the
// next one (KIP-534), hence more than one filler.
//
// The first topic is written with franz-go's default codec (snappy): the
// batches the cleaner rebuilds keep it, as in Kafka, and kcat reads them.
// segmentio/kafka-go (v0.4.51) cannot read past a compressed batch whose
// last records were compacted away (kafka-go issue 1416, still open; Kafka's
// own cleaner writes such batches too), so it reads a second topic written
// uncompressed.
func TestCompactedTopicKcatKafkaGo(t *testing.T) {
	requireTool(t, "kcat")
	b := startBroker(t, "--log-cleaner-backoff-ms", "50")
	want, _ := fillCompacted(t, b, "compacted", kgo.SnappyCompression())
	checkLatest(t, "kcat", readCompactedKcat(t, b, "compacted"), want)

	want, end := fillCompacted(t, b, "compacted-plain", kgo.NoCompression())
	checkLatest(t, "kcat", readCompactedKcat(t, b, "compacted-plain"), want)
	ctx := testCtx(t, 60*time.Second)
	rd := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.Addr()}, Topic: "compacted-plain", Partition: 0, MaxWait: 100 * time.Millisecond})
	t.Cleanup(func() { rd.Close() })
	got := map[string]string{}
	for {
		m, err := rd.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("kafka-go read after %d records: %v", len(got), err)
		}
		key, val := string(m.Key), string(m.Value)
		var vp *string
		if m.Value != nil {
			vp = &val
		}
		checkCompactedRecord(t, "kafka-go", got, &key, vp)
		if m.Offset == end-1 {
			break
		}
	}
	checkLatest(t, "kafka-go", got, want)
}

// fillCompacted creates a compacted topic, writes it (with codec) and
// waits until the cleaner passed three fillers; it returns the latest
// value of every live key and the end offset.
func fillCompacted(t *testing.T, b *broker, topic string, codec kgo.CompressionCodec) (map[string]string, int64) {
	t.Helper()
	createTopic(t, b.Addr(), topic, 1, map[string]*string{
		"cleanup.policy": kmsg.StringPtr("compact"), "segment.bytes": kmsg.StringPtr("1024"),
		"segment.ms": kmsg.StringPtr("100"), "min.cleanable.dirty.ratio": kmsg.StringPtr("0.01"),
		"delete.retention.ms": kmsg.StringPtr("0"),
	})
	t0 := time.Now().Add(-time.Hour)
	want := map[string]string{}
	var recs []*kgo.Record
	for round := 0; round < 15; round++ {
		for k := 0; k < 40; k++ {
			key, v := fmt.Sprintf("key-%02d", k), fmt.Sprintf("v%d-%d", round, k)
			recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(v), Timestamp: t0})
			want[key] = v
		}
	}
	for k := 0; k < 40; k += 4 {
		key := fmt.Sprintf("key-%02d", k)
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(key), Timestamp: t0.Add(time.Second)})
		delete(want, key)
	}
	ctx := testCtx(t, 60*time.Second)
	if err := newKgo(t, b.Addr(), kgo.ProducerBatchCompression(codec)).ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	fillers := newKgo(t, b.Addr(), kgo.ProducerBatchCompression(kgo.NoCompression()))
	for i := 0; i < 3; i++ {
		key := fmt.Sprintf("~filler-%d", i)
		val := strings.Repeat(strconv.Itoa(i), 1100)
		r := &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(val), Timestamp: t0.Add(time.Duration(i+1) * time.Minute)}
		if err := fillers.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		want[key] = val
		waitCleanedTo(t, filepath.Join(b.dataDir, topic+"-0"), r.Offset)
	}
	return want, int64(len(recs) + 3)
}

// readCompactedKcat reads topic with kcat (librdkafka) from the beginning
// to the end of the partition, failing on a key read twice or a tombstone.
func readCompactedKcat(t *testing.T, b *broker, topic string) map[string]string {
	t.Helper()
	out := runTool(t, 60*time.Second, nil, "kcat", "-b", b.Addr(), "-t", topic, "-C", "-o", "beginning", "-e", "-J")
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var m kcatMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("kcat line %q: %v", line, err)
		}
		checkCompactedRecord(t, "kcat", got, m.Key, m.Payload)
	}
	return got
}

// waitCleanedTo polls a partition's cleaner-offset-checkpoint (the first
// offset the cleaner has not cleaned) until it reaches off.
func waitCleanedTo(t *testing.T, dir string, off int64) {
	t.Helper()
	waitFor(t, 30*time.Second, "log cleaner up to offset "+strconv.FormatInt(off, 10), func() error {
		b, err := os.ReadFile(filepath.Join(dir, "cleaner-offset-checkpoint"))
		if err != nil {
			return err
		}
		lines := strings.Fields(string(b))
		if len(lines) != 3 {
			return fmt.Errorf("checkpoint %q", b)
		}
		n, err := strconv.ParseInt(lines[2], 10, 64)
		if err != nil || n < off {
			return fmt.Errorf("cleaned to %d (%v)", n, err)
		}
		return nil
	})
}

// checkCompactedRecord records one record read after compaction, failing on
// a key read twice or a tombstone (all of them are past delete.retention.ms).
func checkCompactedRecord(t *testing.T, who string, got map[string]string, key, val *string) {
	t.Helper()
	if key == nil {
		t.Fatalf("%s: a record without a key", who)
	}
	if _, dup := got[*key]; dup {
		t.Errorf("%s: key %s read twice after cleaning", who, *key)
	}
	if val == nil {
		t.Errorf("%s: tombstone of %s still there", who, *key)
		return
	}
	got[*key] = *val
}

func checkLatest(t *testing.T, who string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d keys, want %d", who, len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %.20q, want %.20q", who, k, got[k], v)
		}
	}
}

// TestCompactedEmptyBatchKcatKafkaGo: an idempotent producer's last batch
// whose records were all superseded stays in the log with no records (so
// the producer's sequence state survives compaction, as in Kafka); kcat
// and segmentio/kafka-go must read past it.
func TestCompactedEmptyBatchKcatKafkaGo(t *testing.T) {
	requireTool(t, "kcat")
	b := startBroker(t, "--log-cleaner-backoff-ms", "50")
	const topic = "compacted-empty"
	createTopic(t, b.Addr(), topic, 1, map[string]*string{
		"cleanup.policy": kmsg.StringPtr("compact"), "segment.bytes": kmsg.StringPtr("1024"),
		"min.cleanable.dirty.ratio": kmsg.StringPtr("0.01"),
	})
	ctx := testCtx(t, 60*time.Second)
	idem := newKgo(t, b.Addr(), kgo.DefaultProduceTopic(topic)) // idempotent: franz-go's default
	other := newKgo(t, b.Addr(), kgo.DefaultProduceTopic(topic), kgo.DisableIdempotentWrite(),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	for _, step := range []struct {
		cl   *kgo.Client
		k, v string
	}{{idem, "a", "1"}, {idem, "b", "1"}, {other, "a", "2"}, {other, "b", "2"}} {
		if err := step.cl.ProduceSync(ctx, &kgo.Record{Key: []byte(step.k), Value: []byte(step.v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	filler := &kgo.Record{Key: []byte("~filler"), Value: []byte(strings.Repeat("x", 1100))}
	if err := other.ProduceSync(ctx, filler).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitCleanedTo(t, filepath.Join(b.dataDir, topic+"-0"), filler.Offset)
	want := map[string]string{"a": "2", "b": "2", "~filler": string(filler.Value)}
	if n := emptyBatches(t, filepath.Join(b.dataDir, topic+"-0")); n != 1 {
		t.Fatalf("%d empty batches on disk, want 1 (the idempotent producer's last)", n)
	}

	out := runTool(t, 60*time.Second, nil, "kcat", "-b", b.Addr(), "-t", topic, "-C", "-o", "beginning", "-e", "-J")
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var m kcatMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("kcat line %q: %v", line, err)
		}
		checkCompactedRecord(t, "kcat", got, m.Key, m.Payload)
	}
	checkLatest(t, "kcat", got, want)

	rd := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.Addr()}, Topic: topic, Partition: 0, MaxWait: 100 * time.Millisecond})
	t.Cleanup(func() { rd.Close() })
	got = map[string]string{}
	for {
		m, err := rd.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("kafka-go read after %d records: %v", len(got), err)
		}
		key, val := string(m.Key), string(m.Value)
		checkCompactedRecord(t, "kafka-go", got, &key, &val)
		if m.Offset == filler.Offset {
			break
		}
	}
	checkLatest(t, "kafka-go", got, want)
}

// emptyBatches counts the record batches with numRecords 0 in the .log
// files of a partition directory (headers only: the broker vouches for
// the framing).
func emptyBatches(t *testing.T, dir string) int {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range logs {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for len(data) >= 61 {
			size := 12 + int(binary.BigEndian.Uint32(data[8:]))
			if binary.BigEndian.Uint32(data[57:]) == 0 {
				n++
			}
			data = data[min(size, len(data)):]
		}
	}
	return n
}
