package storage

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

// FuzzParseBatches checks that arbitrary input never panics, that accepted
// input is exactly covered by the returned headers with valid CRCs, and
// that errors are always one of the two sentinels. Seeds live in
// testdata/fuzz/FuzzParseBatches.
func FuzzParseBatches(f *testing.F) {
	f.Add(seqBatch(f, 0, 3, 20, 1), int32(0))
	f.Add(append(seqBatch(f, 0, 1, 1, 1), seqBatch(f, 1, 2, 5, 2)...), int32(200))
	f.Fuzz(func(t *testing.T, b []byte, max int32) {
		hs, err := ParseBatches(b, max)
		if err != nil {
			if !errors.Is(err, ErrCorruptBatch) && !errors.Is(err, ErrMessageTooLarge) {
				t.Fatalf("unexpected error type: %v", err)
			}
			if hs != nil {
				t.Fatal("headers returned with an error")
			}
			return
		}
		total := 0
		for _, h := range hs {
			if h.Size() < batchHeaderSize || (max > 0 && h.Size() > int(max)) {
				t.Fatalf("accepted batch of size %d (max %d)", h.Size(), max)
			}
			raw := b[total : total+h.Size()]
			if crc32.Checksum(raw[crcStart:], castagnoli) != h.CRC || binary.BigEndian.Uint32(raw[offCRC:]) != h.CRC {
				t.Fatal("accepted batch with bad crc")
			}
			if h.NumRecords <= 0 || int64(h.LastOffsetDelta)+1 != int64(h.NumRecords) {
				t.Fatalf("accepted bad record count %+v", h)
			}
			total += h.Size()
		}
		if total != len(b) {
			t.Fatalf("headers cover %d of %d bytes", total, len(b))
		}
		// The lenient parser accepts everything the strict one does.
		if _, err := parseBatches(b, max, false); err != nil {
			t.Fatalf("lenient parse rejected strict-valid input: %v", err)
		}
	})
}
