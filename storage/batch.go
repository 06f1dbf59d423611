package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Layout of the fixed v2 record batch header (see doc.go). All integers are
// big-endian.
const (
	batchHeaderSize = 61 // bytes up to and including numRecords
	batchLengthEnd  = 12 // baseOffset(8) + batchLength(4): bytes not counted by batchLength
	minBatchLength  = batchHeaderSize - batchLengthEnd
	offEpoch        = 12 // partitionLeaderEpoch
	offMagic        = 16
	offCRC          = 17
	crcStart        = 21 // attributes: first byte covered by the CRC
	offLastDelta    = 23
	offMaxTimestamp = 35
	// minRecordSize is the smallest possible encoded record: length,
	// attributes, timestampDelta, offsetDelta, keyLength(-1), valueLength(-1)
	// and headerCount, one byte each.
	minRecordSize = 7
	codecMask     = 0x07
	maxCodec      = 4 // zstd
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchHeader is the fixed 61-byte header of a v2 record batch.
type BatchHeader struct {
	BaseOffset           int64
	BatchLength          int32 // bytes after the length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Size is the total size of the batch on the wire / on disk.
func (h BatchHeader) Size() int { return int(h.BatchLength) + batchLengthEnd }

// LastOffset is the offset of the last record in the batch.
func (h BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// IsTransactional reports the transactional attribute bit.
func (h BatchHeader) IsTransactional() bool { return h.Attributes&0x10 != 0 }

// IsControl reports the control-batch attribute bit.
func (h BatchHeader) IsControl() bool { return h.Attributes&0x20 != 0 }

// decodeHeader reads the fixed header fields. b must hold at least
// batchHeaderSize bytes; nothing is validated.
func decodeHeader(b []byte) BatchHeader {
	_ = b[batchHeaderSize-1]
	be := binary.BigEndian
	return BatchHeader{
		BaseOffset:           int64(be.Uint64(b[0:])),
		BatchLength:          int32(be.Uint32(b[8:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[12:])),
		Magic:                int8(b[16]),
		CRC:                  be.Uint32(b[17:]),
		Attributes:           int16(be.Uint16(b[21:])),
		LastOffsetDelta:      int32(be.Uint32(b[23:])),
		FirstTimestamp:       int64(be.Uint64(b[27:])),
		MaxTimestamp:         int64(be.Uint64(b[35:])),
		ProducerID:           int64(be.Uint64(b[43:])),
		ProducerEpoch:        int16(be.Uint16(b[51:])),
		BaseSequence:         int32(be.Uint32(b[53:])),
		NumRecords:           int32(be.Uint32(b[57:])),
	}
}

// check validates everything in the header that does not need the body.
//
// strict applies Kafka's produce-time rule for magic 2 (numRecords > 0 and
// lastOffsetDelta+1 == numRecords). Non-strict mode is used for replicated
// data and recovery, where Kafka allows batches emptied by compaction
// (numRecords 0, lastOffsetDelta kept), so only numRecords <=
// lastOffsetDelta+1 is required.
func (h BatchHeader) check(strict bool) error {
	if h.BatchLength < minBatchLength {
		return fmt.Errorf("%w: batch length %d below header size", ErrCorruptBatch, h.BatchLength)
	}
	if h.Magic != 2 {
		return fmt.Errorf("%w: magic %d, want 2", ErrCorruptBatch, h.Magic)
	}
	if h.Attributes&codecMask > maxCodec {
		return fmt.Errorf("%w: unknown compression codec %d", ErrCorruptBatch, h.Attributes&codecMask)
	}
	if h.LastOffsetDelta < 0 || h.NumRecords < 0 {
		return fmt.Errorf("%w: negative lastOffsetDelta %d or record count %d", ErrCorruptBatch, h.LastOffsetDelta, h.NumRecords)
	}
	if strict && (h.NumRecords == 0 || int64(h.LastOffsetDelta)+1 != int64(h.NumRecords)) {
		return fmt.Errorf("%w: %d records but lastOffsetDelta %d", ErrCorruptBatch, h.NumRecords, h.LastOffsetDelta)
	}
	if int64(h.NumRecords) > int64(h.LastOffsetDelta)+1 {
		return fmt.Errorf("%w: %d records but lastOffsetDelta %d", ErrCorruptBatch, h.NumRecords, h.LastOffsetDelta)
	}
	if h.Attributes&codecMask == 0 && int64(h.NumRecords)*minRecordSize > int64(h.BatchLength)-minBatchLength {
		return fmt.Errorf("%w: %d records cannot fit in %d bytes", ErrCorruptBatch, h.NumRecords, h.BatchLength)
	}
	return nil
}

// ParseBatches validates one or more concatenated v2 batches (magic 2, lengths,
// CRC-32C, record count sanity, size <= maxBatchBytes) and returns their
// headers. It never panics on arbitrary input and allocates at most one
// header per 61 input bytes.
//
// It applies Kafka's produce rules (see BatchHeader.check): every batch must
// hold at least one record and numRecords == lastOffsetDelta+1. A
// maxBatchBytes <= 0 disables the size limit. Empty input returns (nil, nil).
// A batch whose declared size exceeds maxBatchBytes yields ErrMessageTooLarge
// when it is otherwise complete, ErrCorruptBatch when it is truncated.
func ParseBatches(b []byte, maxBatchBytes int32) ([]BatchHeader, error) {
	return parseBatches(b, maxBatchBytes, true)
}

// CheckBatchSizes applies ParseBatches' size limit to the headers
// ParseBatches(b, 0) returned, with the same error, so that a caller can
// parse (and checksum) once and learn the limit later. A maxBatchBytes <= 0
// disables it.
func CheckBatchSizes(hs []BatchHeader, maxBatchBytes int32) error {
	if maxBatchBytes <= 0 {
		return nil
	}
	pos := 0
	for _, h := range hs {
		if size := h.Size(); int64(size) > int64(maxBatchBytes) {
			return fmt.Errorf("%w: batch at byte %d is %d bytes, limit %d", ErrMessageTooLarge, pos, size, maxBatchBytes)
		}
		pos += h.Size()
	}
	return nil
}

func parseBatches(b []byte, maxBatchBytes int32, strict bool) ([]BatchHeader, error) {
	var hs []BatchHeader
	for pos := 0; pos < len(b); {
		rest := b[pos:]
		if len(rest) < batchHeaderSize {
			return nil, fmt.Errorf("%w: %d trailing bytes at %d, shorter than a batch header", ErrCorruptBatch, len(rest), pos)
		}
		h := decodeHeader(rest)
		if err := h.check(strict); err != nil {
			return nil, fmt.Errorf("batch at byte %d: %w", pos, err)
		}
		size := int64(h.BatchLength) + batchLengthEnd
		if size > int64(len(rest)) {
			return nil, fmt.Errorf("%w: batch at byte %d declares %d bytes, only %d present", ErrCorruptBatch, pos, size, len(rest))
		}
		if maxBatchBytes > 0 && size > int64(maxBatchBytes) {
			return nil, fmt.Errorf("%w: batch at byte %d is %d bytes, limit %d", ErrMessageTooLarge, pos, size, maxBatchBytes)
		}
		if crc := crc32.Checksum(rest[crcStart:size], castagnoli); crc != h.CRC {
			return nil, fmt.Errorf("%w: batch at byte %d: crc %08x, computed %08x", ErrCorruptBatch, pos, h.CRC, crc)
		}
		hs = append(hs, h)
		pos += int(size)
	}
	return hs, nil
}

// setBaseOffset and setLeaderEpoch rewrite fields that precede the CRC-covered
// region, so the CRC stays valid.
func setBaseOffset(b []byte, off int64) { binary.BigEndian.PutUint64(b[0:8], uint64(off)) }

func setLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[offEpoch:offEpoch+4], uint32(epoch))
}
