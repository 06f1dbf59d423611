package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// The log cleaner is the one place storage looks inside a batch: it needs
// each record's key, offset delta and whether its value is null (a
// tombstone). Records of a v2 batch (after decompression) are
//
//	length varint, attributes int8, timestampDelta varlong,
//	offsetDelta varint, keyLength varint, key, valueLength varint, value,
//	headerCount varint, headers
//
// with zig-zag varints (encoding/binary's Varint). Every length is checked
// against the bytes present before it is used.

// Decompressor inflates the records section of a compressed batch (codec =
// attributes & 7: 1 gzip, 2 snappy, 3 lz4, 4 zstd). It must refuse output
// beyond limit bytes. Storage imports only the standard library, so the
// broker supplies it (CleanerConfig.Decompress); without one, compressed
// batches are kept whole and their keys do not enter the offset map.
// Called from cleaner goroutines, concurrently.
type Decompressor func(codec int, src []byte, limit int) ([]byte, error)

// errRecord marks a record section the cleaner cannot parse; the batch is
// then kept unchanged.
var errRecord = errors.New("storage: malformed record")

// maxCleanedBatch bounds what one batch may decompress to in the cleaner.
const maxCleanedBatch = 128 << 20

// cleanRecord is one record of a batch: its bytes (length prefix included)
// within the decompressed records section, and what the cleaner decides by.
type cleanRecord struct {
	start, end  int
	offsetDelta int32
	key         []byte
	hasKey      bool
	tombstone   bool
}

func readVarint(b []byte, p int) (int64, int, error) {
	v, n := binary.Varint(b[p:])
	if n <= 0 {
		return 0, 0, errRecord
	}
	return v, p + n, nil
}

// parseRecords splits a decompressed records section into its n records.
func parseRecords(b []byte, n int32) ([]cleanRecord, error) {
	out := make([]cleanRecord, 0, min(int(n), len(b)/minRecordSize+1))
	p := 0
	for i := int32(0); i < n; i++ {
		start := p
		l, q, err := readVarint(b, p)
		if err != nil || l < minRecordSize-1 || l > int64(len(b)-q) {
			return nil, errRecord
		}
		end := q + int(l)
		r, err := parseRecordBody(b[:end], q+1) // skip attributes
		if err != nil {
			return nil, err
		}
		r.start, r.end = start, end
		out = append(out, r)
		p = end
	}
	if p != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", errRecord, len(b)-p)
	}
	return out, nil
}

func parseRecordBody(b []byte, p int) (cleanRecord, error) {
	var r cleanRecord
	_, p, err := readVarint(b, p) // timestampDelta
	if err != nil {
		return r, err
	}
	od, p, err := readVarint(b, p)
	if err != nil {
		return r, err
	}
	r.offsetDelta = int32(od)
	kl, p, err := readVarint(b, p)
	if err != nil || kl > int64(len(b)-p) {
		return r, errRecord
	}
	if kl >= 0 {
		r.key, r.hasKey = b[p:p+int(kl)], true
		p += int(kl)
	}
	vl, _, err := readVarint(b, p)
	if err != nil {
		return r, err
	}
	r.tombstone = vl < 0
	return r, nil
}

// batchRecords returns the decompressed records section of a batch and
// whether it was compressed.
func batchRecords(raw []byte, h BatchHeader, dec Decompressor) ([]byte, bool, error) {
	body := raw[batchHeaderSize:]
	codec := int(h.Attributes & codecMask)
	if codec == 0 {
		return body, false, nil
	}
	if dec == nil {
		return nil, true, fmt.Errorf("%w: no decompressor for codec %d", errRecord, codec)
	}
	out, err := dec(codec, body, maxCleanedBatch)
	if err != nil {
		return nil, true, fmt.Errorf("%w: %w", errRecord, err)
	}
	return out, true, nil
}

// rebuildBatch writes a batch holding only keep (records of recs, a section
// decompressed from raw) into dst: the header is raw's with numRecords,
// batchLength and the CRC recomputed, and compression removed (the codecs
// other than gzip are not in the standard library; Kafka's cleaner
// recompresses, Strom writes the retained records uncompressed). baseOffset,
// lastOffsetDelta, timestamps, producer id, epoch and base sequence stay, as
// in Kafka's cleaner for v2 batches, so offsets and idempotent producer
// state read the same; keep may be empty (a header-only batch).
func rebuildBatch(dst, raw, recs []byte, keep []cleanRecord) []byte {
	start := len(dst)
	dst = append(dst, raw[:batchHeaderSize]...)
	for _, r := range keep {
		dst = append(dst, recs[r.start:r.end]...)
	}
	b := dst[start:]
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-batchLengthEnd))
	attrs := binary.BigEndian.Uint16(b[crcStart:]) &^ codecMask
	binary.BigEndian.PutUint16(b[crcStart:], attrs)
	binary.BigEndian.PutUint32(b[57:], uint32(len(keep)))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[crcStart:], castagnoli))
	return dst
}
