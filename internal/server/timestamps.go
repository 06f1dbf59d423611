package server

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/replica"
)

// decompressor is franz-go's; it bounds output size against decompression bombs.
var decompressor = kgo.DefaultDecompressor()

// exactTimestampOffset narrows a batch-granular timestamp lookup to the first
// record in the batch at batchOffset whose timestamp is >= target, which is
// what Kafka's ListOffsets returns. Storage indexes timestamps per batch only,
// so this decodes just that one batch (decompressing it if needed). On any
// decoding trouble it keeps the batch-level answer, which is never later than
// the right one.
func exactTimestampOffset(part *replica.Partition, batchOffset, batchTS, target int64) (int64, int64) {
	res, err := part.Fetch(batchOffset, 1, false)
	if err != nil || len(res.Records) < 61 {
		return batchOffset, batchTS
	}
	raw := res.Records
	length := int(int32(binary.BigEndian.Uint32(raw[8:12])))
	if length < 49 || 12+length > len(raw) {
		return batchOffset, batchTS
	}
	var b kmsg.RecordBatch
	if err := b.ReadFrom(raw[:12+length]); err != nil {
		return batchOffset, batchTS
	}
	data := b.Records
	if codec := kgo.CompressionCodecType(b.Attributes & 0x7); codec != 0 {
		if data, err = decompressor.Decompress(data, codec); err != nil {
			return batchOffset, batchTS
		}
	}
	for i := int32(0); i < b.NumRecords && len(data) > 0; i++ {
		n, sz := binary.Varint(data)
		if sz <= 0 || n < 0 || int64(len(data)-sz) < n {
			break
		}
		end := sz + int(n)
		var r kmsg.Record
		if err := r.ReadFrom(data[:end]); err != nil {
			break
		}
		data = data[end:]
		off := b.FirstOffset + int64(r.OffsetDelta)
		ts := b.FirstTimestamp + r.TimestampDelta64
		if off >= batchOffset && ts >= target {
			return off, ts
		}
	}
	return batchOffset, batchTS
}
