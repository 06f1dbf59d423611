package tests

import (
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestInteropRawFetchEmptyPartitionRecords pins down, without needing
// librdkafka installed, what librdkafka (kcat, confluent-kafka) trips over:
// a Fetch answer for a partition with nothing to return must carry an empty
// records field (length 0), as Kafka sends, not a null one (length -1).
// librdkafka 2.0.2 rejects null with "invalid MessageSetSize -1" and never
// reaches the end of the partition, so `kcat -C -e` hangs.
func TestInteropRawFetchEmptyPartitionRecords(t *testing.T) {
	b := startBroker(t)
	const topic = "empty"
	createTopic(t, b.Addr(), topic, 1, nil)

	for _, version := range []int16{4, 11} { // kafka-python and librdkafka 2.0.2 use these
		conn := dialRaw(t, b.Addr())
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(version)
		req.ReplicaID = -1
		req.MaxWaitMillis = 0
		req.MaxBytes = 1 << 20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = 0
		rp.FetchOffset = 0
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)

		payload := req.AppendTo(requestHeader(req.Key(), version, 42, "raw"))
		if _, err := conn.Write(withLength(uint32(len(payload)), payload)); err != nil {
			t.Fatalf("Fetch v%d: write: %v", version, err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		var hdr [8]byte
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			t.Fatalf("Fetch v%d: read response: %v", version, err)
		}
		if corr := binary.BigEndian.Uint32(hdr[4:]); corr != 42 {
			t.Fatalf("Fetch v%d: correlation id %d, want 42", version, corr)
		}
		body := make([]byte, binary.BigEndian.Uint32(hdr[:4])-4)
		if _, err := io.ReadFull(conn, body); err != nil {
			t.Fatalf("Fetch v%d: read response body: %v", version, err)
		}
		resp := kmsg.NewPtrFetchResponse()
		resp.SetVersion(version)
		if err := resp.ReadFrom(body); err != nil {
			t.Fatalf("Fetch v%d: decode response: %v", version, err)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("Fetch v%d: response has %d topics, want 1 with 1 partition", version, len(resp.Topics))
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.HighWatermark != 0 {
			t.Fatalf("Fetch v%d: partition error %d, high watermark %d; want 0, 0", version, p.ErrorCode, p.HighWatermark)
		}
		if p.RecordBatches == nil {
			t.Errorf("Fetch v%d: records field of an empty partition is null (length -1); Kafka sends an empty one and librdkafka rejects null", version)
		}
	}
}
