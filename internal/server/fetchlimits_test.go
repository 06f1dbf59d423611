package server

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/wire"
)

// fillPartitions creates topic with n partitions and produces records of
// size bytes to each, one batch per record.
func fillPartitions(t *testing.T, addr, topic string, n int32, records, size int) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	if _, err := kadmCreate(ctx, t, addr, topic, n); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MaxBufferedRecords(1), kgo.ProducerBatchCompression(kgo.NoCompression()))
	for p := range n {
		for range records {
			r := &kgo.Record{Topic: topic, Partition: p, Value: bytes.Repeat([]byte{'v'}, size)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce to %d: %v", p, err)
			}
		}
	}
}

// rawFetch builds a v12 consumer Fetch of every partition of topic from
// offset 0.
func rawFetch(topic string, parts []int32, maxBytes, partMax int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(12)
	req.ReplicaID = -1
	req.MaxBytes = maxBytes
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	for _, p := range parts {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = p
		rp.PartitionMaxBytes = partMax
		rp.CurrentLeaderEpoch = -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

func upTo(n int32) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(i)
	}
	return out
}

func fetchRecordBytes(resp *kmsg.FetchResponse) (total, withData int) {
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			total += len(p.RecordBatches)
			if len(p.RecordBatches) > 0 {
				withData++
			}
		}
	}
	return total, withData
}

// TestFetchMaxBytesCapsResponse: a Fetch asking for 100 MB gets at most
// fetch.max.bytes (plus KIP-74's first batch), and no partition after the
// first exceeds its PartitionMaxBytes.
func TestFetchMaxBytesCapsResponse(t *testing.T) {
	const fetchMax = 64 << 10
	_, addr := startTestServer(t, func(c *Config) { c.FetchMaxBytes = fetchMax })
	fillPartitions(t, addr, "big", 8, 4, 8<<10) // 8 x 32 KiB
	c := dialRaw(t, addr)
	ctx := testCtx(t, 10*time.Second)

	resp, err := c.Request(ctx, rawFetch("big", upTo(8), 100<<20, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	total, with := fetchRecordBytes(resp.(*kmsg.FetchResponse))
	t.Logf("MaxBytes 100 MB: %d record bytes from %d partitions", total, with)
	if total > fetchMax+(9<<10) || total == 0 {
		t.Fatalf("Fetch returned %d record bytes, fetch.max.bytes is %d", total, fetchMax)
	}

	// PartitionMaxBytes of 1: only the first partition's first batch may
	// come back (KIP-74), not one batch per partition.
	resp, err = c.Request(ctx, rawFetch("big", upTo(8), 100<<20, 1))
	if err != nil {
		t.Fatal(err)
	}
	if total, with := fetchRecordBytes(resp.(*kmsg.FetchResponse)); with != 1 || total > 9<<10 {
		t.Fatalf("PartitionMaxBytes=1: %d bytes from %d partitions, want one batch from one", total, with)
	}
}

// TestFetchDuplicatePartitions: a partition named 500 times is answered
// once, as Kafka's map-keyed fetch does, not read 500 times.
func TestFetchDuplicatePartitions(t *testing.T) {
	_, addr := startTestServer(t)
	fillPartitions(t, addr, "dup", 2, 1, 100)
	parts := []int32{1}
	for range 500 {
		parts = append(parts, 0)
	}
	resp, err := dialRaw(t, addr).Request(testCtx(t, 10*time.Second), rawFetch("dup", parts, 100<<20, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	fr := resp.(*kmsg.FetchResponse)
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 2 {
		n := 0
		for _, ft := range fr.Topics {
			n += len(ft.Partitions)
		}
		t.Fatalf("response has %d topics, %d partitions; want one topic with partitions 1 and 0 once each", len(fr.Topics), n)
	}
	if _, with := fetchRecordBytes(fr); with != 2 {
		t.Fatalf("%d partitions with records, want 2", with)
	}
}

// TestFetchBoundsOpenFiles: a Fetch over many partitions with data keeps at
// most fetchMaxFiles segment files open for its response.
func TestFetchBoundsOpenFiles(t *testing.T) {
	s, addr := startTestServer(t)
	const n = 3 * fetchMaxFiles
	fillPartitions(t, addr, "files", n, 1, 10)
	r := rawFetch("files", upTo(n), 100<<20, 1<<20)
	before := openFiles(t)
	req := &wire.Request{Key: 1, Version: 12, Body: r}
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	total, anyErr := s.fillFetch(req, resp, r, false, 100<<20, -1)
	opened := openFiles(t) - before
	req.DropSplices()
	if anyErr {
		t.Fatalf("fetch errors: %+v", resp.Topics)
	}
	if _, with := fetchRecordBytes(resp); with != n || total == 0 {
		t.Fatalf("%d of %d partitions carry records", with, n)
	}
	if opened > fetchMaxFiles+8 {
		t.Fatalf("one Fetch holds %d files open for %d partitions, cap %d", opened, n, fetchMaxFiles)
	}
}

func openFiles(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(ents)
}
