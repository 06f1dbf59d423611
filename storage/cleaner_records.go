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

// Compressor compresses a rebuilt batch's records section with codec (1
// gzip, 2 snappy, 3 lz4, 4 zstd), as the broker's codecs write it, so a
// cleaned batch keeps its source batch's compression as in Kafka. The
// broker supplies it (CleanerConfig.Compress) for the same reason as the
// Decompressor; without one, rebuilt batches are written uncompressed.
// Called from cleaner goroutines, concurrently.
type Compressor func(codec int, src []byte) ([]byte, error)

// rebuildOpts says how a rebuilt batch is written.
type rebuildOpts struct {
	codec   int        // the source batch's codec
	enc     Compressor // nil: the records are written uncompressed
	stamp   bool       // set the delete horizon (KIP-534) to horizon
	horizon int64
}

// rebuildBatch is rebuildInto for batches that need no restamping (an
// empty header-only batch in particular), which cannot fail.
func rebuildBatch(dst, raw, recs []byte, keep []cleanRecord, o rebuildOpts) []byte {
	o.stamp = false
	out, _ := rebuildInto(dst, raw, recs, keep, o)
	return out
}

// rebuildInto writes a batch holding only keep (records of recs, a section
// decompressed from raw) into dst: the header is raw's with numRecords,
// batchLength, attributes and the CRC recomputed, the records compressed
// again with the source codec (uncompressed if o.enc is nil or fails: a
// valid batch either way). With o.stamp, the delete-horizon attribute is
// set, firstTimestamp becomes the horizon and every record's timestamp
// delta is rewritten relative to it, so record timestamps read the same
// (Kafka 3.0+'s layout). baseOffset, lastOffsetDelta, maxTimestamp,
// producer id, epoch and base sequence stay, as in Kafka's cleaner, so
// offsets and idempotent producer state read the same; keep may be empty
// (a header-only batch).
func rebuildInto(dst, raw, recs []byte, keep []cleanRecord, o rebuildOpts) ([]byte, error) {
	var body []byte
	oldBase := int64(binary.BigEndian.Uint64(raw[27:]))
	for _, r := range keep {
		if !o.stamp {
			body = append(body, recs[r.start:r.end]...)
			continue
		}
		var err error
		if body, err = restampRecord(body, recs[r.start:r.end], oldBase, o.horizon); err != nil {
			return dst, err
		}
	}
	codec := 0
	if o.codec != 0 && len(keep) > 0 && o.enc != nil {
		if z, err := o.enc(o.codec, body); err == nil {
			body, codec = z, o.codec
		}
	}
	start := len(dst)
	dst = append(dst, raw[:batchHeaderSize]...)
	dst = append(dst, body...)
	b := dst[start:]
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-batchLengthEnd))
	attrs := binary.BigEndian.Uint16(b[crcStart:])&^codecMask | uint16(codec)
	if o.stamp {
		attrs |= attrDeleteHorizon
		binary.BigEndian.PutUint64(b[27:], uint64(o.horizon))
	}
	binary.BigEndian.PutUint16(b[crcStart:], attrs)
	binary.BigEndian.PutUint32(b[57:], uint32(len(keep)))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[crcStart:], castagnoli))
	return dst, nil
}

// restampRecord appends rec (one encoded record, length prefix included)
// to dst with its timestamp delta moved from base oldBase to newBase.
func restampRecord(dst, rec []byte, oldBase, newBase int64) ([]byte, error) {
	_, p, err := readVarint(rec, 0)
	if err != nil || p >= len(rec) {
		return dst, errRecord
	}
	attrs := rec[p]
	delta, q, err := readVarint(rec, p+1)
	if err != nil {
		return dst, err
	}
	rest := rec[q:]
	var tmp [binary.MaxVarintLen64]byte
	n := binary.PutVarint(tmp[:], oldBase+delta-newBase)
	dst = binary.AppendVarint(dst, int64(1+n+len(rest)))
	dst = append(dst, attrs)
	dst = append(dst, tmp[:n]...)
	return append(dst, rest...), nil
}
