package group

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record schema versions written, the ones Kafka 2.3+ writes (see doc.go).
const (
	offsetKeyVersion     = 1 // OffsetCommitKey
	groupKeyVersion      = 2 // GroupMetadataKey
	offsetValueVersion   = 3 // OffsetCommitValue without an explicit expiry
	offsetValueExpiryVer = 1 // OffsetCommitValue with ExpireTimestamp (OffsetCommit v2-v4 retention)
	groupValueVersion    = 3 // GroupMetadataValue
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// kv is one record of a batch; a nil value is a tombstone.
type kv struct{ key, value []byte }

func offsetKey(group, topic string, partition int32) []byte {
	k := kmsg.OffsetCommitKey{Version: offsetKeyVersion, Group: group, Topic: topic, Partition: partition}
	return k.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: groupKeyVersion, Group: group}
	return k.AppendTo(nil)
}

func offsetValue(o offsetEntry) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueVersion
	if o.expireTime >= 0 {
		v.Version = offsetValueExpiryVer
		v.ExpireTimestamp = o.expireTime
	}
	v.Offset = o.offset
	v.LeaderEpoch = o.leaderEpoch
	v.Metadata = o.metadata
	v.CommitTimestamp = o.commitTime
	return v.AppendTo(nil)
}

// buildBatch encodes records as one uncompressed v2 batch with base offset 0;
// the log assigns the real offsets (the CRC does not cover the base offset).
func buildBatch(nowMs int64, recs []kv) []byte {
	var body []byte
	for i, r := range recs {
		rec := kmsg.Record{OffsetDelta: int32(i), Key: r.key, Value: r.value}
		probe := rec.AppendTo(nil) // Length 0 encodes as a single byte
		rec.Length = int32(len(probe) - 1)
		body = rec.AppendTo(body)
	}
	b := kmsg.RecordBatch{
		FirstOffset:          0,
		Length:               int32(49 + len(body)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       nowMs,
		MaxTimestamp:         nowMs,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(recs)),
		Records:              body,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[17:21], crc32.Checksum(out[21:], castagnoli))
	return out
}

// decodedRecord is a record read back from the log with its absolute offset.
type decodedRecord struct {
	offset     int64
	key, value []byte
	// txn: a record of producer pid's transaction (txn_offset.go);
	// control: pid's marker, commit or abort.
	txn, control, commit bool
	pid                  int64
}

// batch header layout (see storage/doc.go and KAFKA-NOTES): baseOffset(8)
// length(4) partitionLeaderEpoch(4) magic(1) crc(4) then the CRC'd region.
const (
	batchHeaderLen    = 61
	attrCompression   = 0x07
	attrControl       = 0x20
	attrTransactional = 0x10
)

// decodeBatches parses whole batches from data, calling fn for each record of
// each data batch and once for each transaction marker (decodeMarker). It
// returns the offset after the last complete batch (-1 if data held none).
func decodeBatches(data []byte, fn func(decodedRecord) error) (next int64, err error) {
	next = -1
	for len(data) > 0 {
		if len(data) < batchHeaderLen {
			return next, fmt.Errorf("%w: %d trailing bytes", ErrCorruptBatch, len(data))
		}
		length := int64(int32(binary.BigEndian.Uint32(data[8:12])))
		total := 12 + length
		if length < batchHeaderLen-12 || total > int64(len(data)) {
			return next, fmt.Errorf("%w: batch length %d with %d bytes left", ErrCorruptBatch, length, len(data))
		}
		raw := data[:total]
		data = data[total:]
		if raw[16] != 2 {
			return next, fmt.Errorf("%w: magic %d", ErrCorruptBatch, raw[16])
		}
		if want, got := binary.BigEndian.Uint32(raw[17:21]), crc32.Checksum(raw[21:], castagnoli); want != got {
			return next, fmt.Errorf("%w: crc %08x, computed %08x", ErrCorruptBatch, want, got)
		}
		var b kmsg.RecordBatch
		if err := b.ReadFrom(raw); err != nil {
			return next, fmt.Errorf("%w: %v", ErrCorruptBatch, err)
		}
		next = b.FirstOffset + int64(b.LastOffsetDelta) + 1
		txn := b.Attributes&attrTransactional != 0
		if b.Attributes&attrControl != 0 {
			if err := decodeMarker(b, fn); err != nil {
				return next, err
			}
			continue
		}
		if b.Attributes&attrCompression != 0 {
			return next, fmt.Errorf("%w: codec %d at offset %d", ErrCompressedBatch, b.Attributes&attrCompression, b.FirstOffset)
		}
		recs := b.Records
		for i := int32(0); i < b.NumRecords; i++ {
			l, n := binary.Varint(recs)
			if n <= 0 || l < 0 || l > int64(len(recs)-n) {
				return next, fmt.Errorf("%w: record %d of batch at %d", ErrCorruptBatch, i, b.FirstOffset)
			}
			var r kmsg.Record
			if err := r.ReadFrom(recs[:n+int(l)]); err != nil {
				return next, fmt.Errorf("%w: record %d of batch at %d: %v", ErrCorruptBatch, i, b.FirstOffset, err)
			}
			recs = recs[n+int(l):]
			if err := fn(decodedRecord{offset: b.FirstOffset + int64(r.OffsetDelta), key: r.Key, value: r.Value, txn: txn, pid: b.ProducerID}); err != nil {
				return next, err
			}
		}
	}
	return next, nil
}

// decodeMarker reports a transactional control batch's marker to fn as a
// record with control set; other control batches are skipped.
func decodeMarker(b kmsg.RecordBatch, fn func(decodedRecord) error) error {
	if b.Attributes&attrTransactional == 0 || b.NumRecords < 1 || b.Attributes&attrCompression != 0 {
		return nil
	}
	l, n := binary.Varint(b.Records)
	if n <= 0 || l < 0 || l > int64(len(b.Records)-n) {
		return fmt.Errorf("%w: marker at %d", ErrCorruptBatch, b.FirstOffset)
	}
	var r kmsg.Record
	if err := r.ReadFrom(b.Records[:n+int(l)]); err != nil || len(r.Key) < 4 {
		return fmt.Errorf("%w: marker at %d", ErrCorruptBatch, b.FirstOffset)
	}
	commit := binary.BigEndian.Uint16(r.Key[2:]) == 1
	return fn(decodedRecord{offset: b.FirstOffset, control: true, commit: commit, txn: true, pid: b.ProducerID})
}
