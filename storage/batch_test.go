package storage

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestParseBatchesFranzGo(t *testing.T) {
	b1 := makeBatch(t, batchSpec{values: [][]byte{[]byte("a"), []byte("bb"), nil}, timestamp: 1000, producerID: 7})
	b2 := makeBatch(t, batchSpec{values: [][]byte{[]byte("c")}, timestamp: 2000})
	hs, err := ParseBatches(append(append([]byte{}, b1...), b2...), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 {
		t.Fatalf("got %d headers", len(hs))
	}
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b1); err != nil {
		t.Fatal(err)
	}
	h := hs[0]
	if h.Size() != len(b1) || h.BatchLength != rb.Length || h.Magic != 2 || h.CRC != uint32(rb.CRC) ||
		h.LastOffsetDelta != 2 || h.NumRecords != 3 || h.FirstTimestamp != 1000 || h.MaxTimestamp != 1002 ||
		h.ProducerID != 7 || h.ProducerEpoch != -1 || h.BaseSequence != -1 || h.PartitionLeaderEpoch != -1 {
		t.Fatalf("header mismatch: %+v vs kmsg %+v", h, rb)
	}
	if h.LastOffset() != 2 || h.IsControl() || h.IsTransactional() {
		t.Fatalf("derived fields wrong: %+v", h)
	}
	if hs[1].Size() != len(b2) || hs[1].NumRecords != 1 {
		t.Fatalf("second header wrong: %+v", hs[1])
	}
	if hs, err := ParseBatches(nil, 100); err != nil || hs != nil {
		t.Fatalf("empty input: %v %v", hs, err)
	}
}

func TestParseBatchesCompressed(t *testing.T) {
	// A gzip batch: the record count cannot be checked against the body.
	plain := makeBatch(t, batchSpec{values: [][]byte{[]byte("x"), []byte("y")}})
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write(plain[batchHeaderSize:])
	_ = zw.Close()
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(plain); err != nil {
		t.Fatal(err)
	}
	rb.Attributes = 1
	rb.Records = z.Bytes()
	rb.Length = int32(minBatchLength + z.Len())
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[crcStart:], castagnoli))
	hs, err := ParseBatches(b, 0)
	if err != nil || len(hs) != 1 || hs[0].Attributes != 1 {
		t.Fatalf("gzip batch: %v %+v", err, hs)
	}
}

func TestParseBatchesRejects(t *testing.T) {
	good := makeBatch(t, batchSpec{values: [][]byte{[]byte("hello"), []byte("world")}, timestamp: 5})
	mutate := func(f func(b []byte) []byte) []byte {
		b := append([]byte{}, good...)
		return f(b)
	}
	recrc := func(b []byte) []byte {
		binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[crcStart:], castagnoli))
		return b
	}
	cases := []struct {
		name string
		in   []byte
		max  int32
		want error
	}{
		{"short", good[:40], 0, ErrCorruptBatch},
		{"truncated", good[:len(good)-1], 0, ErrCorruptBatch},
		{"trailing garbage", append(append([]byte{}, good...), 1, 2, 3), 0, ErrCorruptBatch},
		{"crc", mutate(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), 0, ErrCorruptBatch},
		{"magic 1", mutate(func(b []byte) []byte { b[offMagic] = 1; return b }), 0, ErrCorruptBatch},
		{"length too small", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 10); return b }), 0, ErrCorruptBatch},
		{"length negative", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 0xffffffff); return b }), 0, ErrCorruptBatch},
		{"length beyond buffer", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 1<<30); return b }), 0, ErrCorruptBatch},
		{"too large", good, int32(len(good) - 1), ErrMessageTooLarge},
		{"count mismatch", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[57:], 1); return recrc(b) }), 0, ErrCorruptBatch},
		{"zero records", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[57:], 0); return recrc(b) }), 0, ErrCorruptBatch},
		{"too many records for body", mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[offLastDelta:], 999)
			binary.BigEndian.PutUint32(b[57:], 1000)
			return recrc(b)
		}), 0, ErrCorruptBatch},
		{"bad codec", mutate(func(b []byte) []byte { b[crcStart+1] = 7; return recrc(b) }), 0, ErrCorruptBatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs, err := ParseBatches(tc.in, tc.max)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v (%d headers), want %v", err, len(hs), tc.want)
			}
		})
	}
	if _, err := ParseBatches(good, int32(len(good))); err != nil {
		t.Fatalf("batch exactly at the limit rejected: %v", err)
	}
}

func TestParseBatchesLenientAllowsEmptyCompactedBatch(t *testing.T) {
	b := makeBatch(t, batchSpec{values: [][]byte{[]byte("a"), []byte("b")}})
	// Keep lastOffsetDelta 1 but drop the records, as compaction does.
	b = b[:batchHeaderSize]
	binary.BigEndian.PutUint32(b[8:], minBatchLength)
	binary.BigEndian.PutUint32(b[57:], 0)
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[crcStart:], castagnoli))
	if _, err := ParseBatches(b, 0); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("strict parse accepted an empty batch: %v", err)
	}
	if hs, err := parseBatches(b, 0, false); err != nil || hs[0].LastOffset() != 1 {
		t.Fatalf("lenient parse: %v %+v", err, hs)
	}
}

// TestCheckBatchSizesMatchesParse: the limit applied to ParseBatches(b, 0)'s
// headers refuses exactly what ParseBatches(b, limit) refuses, with the same
// error.
func TestCheckBatchSizesMatchesParse(t *testing.T) {
	var b []byte
	for _, n := range []int{1, 5, 40} {
		vals := make([][]byte, n)
		for i := range vals {
			vals[i] = []byte("value")
		}
		b = append(b, makeBatch(t, batchSpec{values: vals})...)
	}
	hs, err := ParseBatches(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	for limit := int32(-1); limit <= int32(len(b)); limit++ {
		_, want := ParseBatches(b, limit)
		got := CheckBatchSizes(hs, limit)
		if (want == nil) != (got == nil) || (want != nil && want.Error() != got.Error()) {
			t.Fatalf("limit %d: CheckBatchSizes %v, ParseBatches %v", limit, got, want)
		}
	}
}
