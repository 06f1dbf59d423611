package coordlog

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Reader is the read side of a coordinator's partition: Read returns whole
// batches from offset on (the first may begin before it), up to about
// maxBytes. Called from one goroutine at a time.
type Reader interface {
	Read(offset int64, maxBytes int) ([]byte, error)
	LogStartOffset() int64
	LogEndOffset() int64
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Batch is one uncompressed v2 batch of one record (nil value: a
// tombstone), base offset 0, no producer, its CRC set.
func Batch(key, value []byte, nowMs int64) []byte {
	rec := kmsg.Record{Key: key, Value: value}
	rec.Length = int32(len(rec.AppendTo(nil)) - 1)
	body := rec.AppendTo(nil)
	b := kmsg.RecordBatch{
		Length: int32(49 + len(body)), PartitionLeaderEpoch: -1, Magic: 2,
		FirstTimestamp: nowMs, MaxTimestamp: nowMs,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: 1, Records: body,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[17:21], crc32.Checksum(out[21:], castagnoli))
	return out
}

// Replay reads log from its start offset to its end offset and hands each
// record to apply in offset order, stopping at apply's first error. A batch
// or record that does not decode, or a read that makes no progress, is an
// error wrapping corrupt (the caller's sentinel).
func Replay(ctx context.Context, log Reader, corrupt error, apply func(r *kmsg.Record) error) error {
	off, end := log.LogStartOffset(), log.LogEndOffset()
	for off < end {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := log.Read(off, 1<<20)
		if err != nil {
			return fmt.Errorf("read offset %d: %w", off, err)
		}
		if len(data) == 0 {
			break
		}
		next, err := Batches(data, off, corrupt, apply)
		if err != nil {
			return err
		}
		if next <= off {
			return fmt.Errorf("%w: no progress at offset %d", corrupt, off)
		}
		off = next
	}
	return nil
}

// Batches hands apply the records at or after from in data (whole batches)
// and returns the offset after the last batch (-1 for none). Control and
// compressed batches are not a coordinator's and are skipped. A batch or
// record that does not decode is an error wrapping corrupt.
func Batches(data []byte, from int64, corrupt error, apply func(r *kmsg.Record) error) (int64, error) {
	next := int64(-1)
	for len(data) > 0 {
		if len(data) < 12 {
			return next, fmt.Errorf("%w: %d trailing bytes", corrupt, len(data))
		}
		total := 12 + int64(int32(binary.BigEndian.Uint32(data[8:12])))
		if total < 61 || total > int64(len(data)) {
			return next, fmt.Errorf("%w: batch of %d bytes with %d left", corrupt, total, len(data))
		}
		var b kmsg.RecordBatch
		if err := b.ReadFrom(data[:total]); err != nil {
			return next, fmt.Errorf("%w: %v", corrupt, err)
		}
		data = data[total:]
		next = b.FirstOffset + int64(b.LastOffsetDelta) + 1
		if b.Attributes&0x27 != 0 { // control or compressed: not ours
			continue
		}
		if err := records(&b, from, corrupt, apply); err != nil {
			return next, err
		}
	}
	return next, nil
}

// records hands apply the records of b at or after from.
func records(b *kmsg.RecordBatch, from int64, corrupt error, apply func(r *kmsg.Record) error) error {
	recs := b.Records
	for i := int32(0); i < b.NumRecords; i++ {
		l, n := binary.Varint(recs)
		if n <= 0 || l < 0 || l > int64(len(recs)-n) {
			return fmt.Errorf("%w: record %d of batch at %d", corrupt, i, b.FirstOffset)
		}
		var r kmsg.Record
		if err := r.ReadFrom(recs[:n+int(l)]); err != nil {
			return fmt.Errorf("%w: %v", corrupt, err)
		}
		recs = recs[n+int(l):]
		if b.FirstOffset+int64(r.OffsetDelta) < from {
			continue
		}
		if err := apply(&r); err != nil {
			return err
		}
	}
	return nil
}
