package server

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/raftmeta"
)

// ReplicaInfo is this broker's view of one hosted replica, for operators
// (strom cluster status) and cluster tests.
type ReplicaInfo struct {
	Leader         bool
	LeaderEpoch    int32
	LogStartOffset int64
	LogEndOffset   int64
	HighWatermark  int64
}

// LocalReplica reports the replica of topic/partition hosted here.
func (s *Server) LocalReplica(topic string, partition int32) (ReplicaInfo, bool) {
	p := s.replicas.Get(topic, partition)
	if p == nil {
		return ReplicaInfo{}, false
	}
	return ReplicaInfo{
		Leader:         p.IsLeader(),
		LeaderEpoch:    p.LeaderEpoch(),
		LogStartOffset: p.LogStartOffset(),
		LogEndOffset:   p.LogEndOffset(),
		HighWatermark:  p.HighWatermark(),
	}, true
}

// LocalChecksum is a CRC-32C of the replica's batches with base offsets in
// [from, upTo), hashed exactly as stored (leader epochs included, since
// replicas must agree on them too). Replicas whose checksums match over the
// same range hold identical logs.
func (s *Server) LocalChecksum(topic string, partition int32, from, upTo int64) (uint32, bool, error) {
	return s.hashReplica(topic, partition, from, upTo, hashBatchBytes)
}

// hashBatchBytes hashes the batches of data as stored (see LocalChecksum)
// and returns the offset after the last, or -1 when a batch at or past
// upTo ended the walk.
func hashBatchBytes(h io.Writer, data []byte, upTo int64) (int64, error) {
	next := int64(-1)
	for len(data) >= 61 {
		base := int64(binary.BigEndian.Uint64(data))
		size := 12 + int(binary.BigEndian.Uint32(data[8:]))
		if size > len(data) || base >= upTo {
			return -1, nil
		}
		h.Write(data[:size])
		next = base + int64(binary.BigEndian.Uint32(data[23:])) + 1 // lastOffsetDelta
		data = data[size:]
	}
	return next, nil
}

// hashReplica walks the replica's batches with base offsets in [from,
// upTo), handing each fetched chunk to hash (which returns the offset to
// fetch next, or -1 to stop), and returns the CRC-32C of what hash wrote;
// false when this broker has no replica of the partition.
func (s *Server) hashReplica(topic string, partition int32, from, upTo int64, hash func(io.Writer, []byte, int64) (int64, error)) (uint32, bool, error) {
	p := s.replicas.Get(topic, partition)
	if p == nil {
		return 0, false, nil
	}
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	for off := from; off < upTo; {
		res, err := p.Fetch(off, 1<<20, true)
		if err != nil {
			return 0, true, err
		}
		if len(res.Records) == 0 {
			break
		}
		next, err := hash(h, res.Records, upTo)
		if err != nil {
			return 0, true, err
		}
		if next < 0 {
			break
		}
		off = next
	}
	return h.Sum32(), true, nil
}

// LocalRecordsChecksum is a CRC-32C of the replica's batches with base
// offsets in [from, upTo) as records: each batch's offsets, producer id,
// epoch and sequence, leader epoch, attributes and max timestamp, and each
// record's offset, timestamp, key, value and headers, after decompression.
// It leaves out only what the log cleaner writes from its own clock, the
// KIP-534 delete horizon (its attribute bit, the first timestamp field
// holding it, and the record timestamp deltas rebased on it), and the
// compressed bytes (the codec is compared). Replicas cleaned to the same offset hold the same
// records but, as in Kafka, not the same bytes once a pass on each stamped
// a tombstone or marker at its own time; this compares what they hold.
func (s *Server) LocalRecordsChecksum(topic string, partition int32, from, upTo int64) (uint32, bool, error) {
	return s.hashReplica(topic, partition, from, upTo, hashBatchRecords)
}

// hashBatchRecords hashes the batches of data (see LocalRecordsChecksum)
// and returns the offset after the last, or -1 when a batch at or past
// upTo ended the walk.
func hashBatchRecords(h io.Writer, data []byte, upTo int64) (int64, error) {
	next := int64(-1)
	for len(data) >= batchRecordsOffset {
		size := 12 + int(binary.BigEndian.Uint32(data[8:]))
		var b kmsg.RecordBatch
		if size > len(data) || b.ReadFrom(data[:size]) != nil {
			return 0, fmt.Errorf("unreadable batch at offset %d", int64(binary.BigEndian.Uint64(data)))
		}
		data = data[size:]
		if b.FirstOffset >= upTo {
			return -1, nil
		}
		recs, err := decompressBatch(int(b.Attributes&0x07), b.Records, maxDecompressedBatch)
		if b.Attributes&0x07 == 0 {
			recs, err = b.Records, nil
		}
		if err != nil {
			return 0, err
		}
		_ = binary.Write(h, binary.BigEndian, []int64{b.FirstOffset, int64(b.LastOffsetDelta), int64(b.PartitionLeaderEpoch),
			int64(b.Attributes &^ 0x40), b.MaxTimestamp, b.ProducerID, int64(b.ProducerEpoch), int64(b.FirstSequence), int64(b.NumRecords)})
		if b.Attributes&0x40 == 0 {
			_ = binary.Write(h, binary.BigEndian, b.FirstTimestamp)
		}
		for i := int32(0); i < b.NumRecords; i++ {
			l, n := binary.Varint(recs)
			var r kmsg.Record
			if n <= 0 || l < 0 || int(l) > len(recs)-n || r.ReadFrom(recs[:n+int(l)]) != nil {
				return 0, fmt.Errorf("unreadable record in batch at offset %d", b.FirstOffset)
			}
			recs = recs[n+int(l):]
			_ = binary.Write(h, binary.BigEndian, []int64{int64(r.OffsetDelta), b.FirstTimestamp + r.TimestampDelta64, int64(len(r.Key)), int64(len(r.Value))})
			fmt.Fprintf(h, "%v%v%q%q", r.Key == nil, r.Value == nil, r.Key, r.Value)
			for _, hd := range r.Headers {
				fmt.Fprintf(h, "%q%q", hd.Key, hd.Value)
			}
		}
		next = b.FirstOffset + int64(b.LastOffsetDelta) + 1
	}
	return next, nil
}

// Metadata returns the broker's current copy of the cluster metadata.
func (s *Server) Metadata() *raftmeta.State { return s.meta.State() }

// IsController reports whether this broker is the active controller.
func (s *Server) IsController() bool { return s.meta.IsController() }
