package server

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"log/slog"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/storage"
)

// codecBatch encodes a v2 batch of keyed records (a nil value is a
// tombstone) at timestamp ts, its records compressed with codec.
func codecBatch(t *testing.T, codec int, ts int64, kvs ...[2]*string) []byte {
	t.Helper()
	var recs []byte
	for i, kv := range kvs {
		r := kmsg.Record{TimestampDelta64: int64(i) * 7, OffsetDelta: int32(i), Key: []byte(*kv[0])}
		if kv[1] != nil {
			r.Value = []byte(*kv[1])
		}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	body, err := compressBatch(codec, recs)
	if err != nil {
		t.Fatal(err)
	}
	n := int32(len(kvs))
	rb := kmsg.RecordBatch{Length: int32(49 + len(body)), PartitionLeaderEpoch: -1, Magic: 2, Attributes: int16(codec),
		LastOffsetDelta: n - 1, FirstTimestamp: ts, MaxTimestamp: ts + int64(n-1)*7, ProducerID: -1, ProducerEpoch: -1,
		FirstSequence: -1, NumRecords: n, Records: body}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// TestCleanerCodecsRoundTrip: for every codec, a compressed batch the
// cleaner rebuilds (a record superseded; a tombstone's batch stamped with
// its delete horizon) keeps its codec, and franz-go's decompressor reads
// the kept records back with their timestamps.
func TestCleanerCodecsRoundTrip(t *testing.T) {
	s := func(v string) *string { return &v }
	for codec, name := range map[int]string{codecGzip: "gzip", codecSnappy: "snappy", codecLZ4: "lz4", codecZstd: "zstd"} {
		t.Run(name, func(t *testing.T) {
			cfg := storage.DefaultConfig()
			cfg.Compact = true
			l, err := storage.Open(t.TempDir(), cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			big := string(bytes.Repeat([]byte("v"), 100<<10)) // more than one xerial block
			for _, b := range [][]byte{
				codecBatch(t, codec, 1000, [2]*string{s("a"), s("1")}, [2]*string{s("b"), s(big)}, [2]*string{s("c"), s("1")}),
				codecBatch(t, codec, 2000, [2]*string{s("a"), s("2")}, [2]*string{s("c"), nil}),
			} {
				if _, err := l.Append(b, 0); err != nil {
					t.Fatal(err)
				}
			}
			end := l.LogEndOffset()
			if err := l.RollFor(end); err != nil {
				t.Fatal(err)
			}
			c := storage.NewCleaner(storage.CleanerConfig{Decompress: decompressBatch, Compress: compressBatch}, nil)
			defer c.Close()
			if err := c.CleanNow(l, end); err != nil {
				t.Fatal(err)
			}
			data, err := l.Read(0, 1<<20, end)
			if err != nil {
				t.Fatal(err)
			}
			got := readCodecBatches(t, data, codec)
			want := []string{fmt.Sprintf("1@1007:b=%d bytes", len(big)), "3@2000:a=2", "4@2007:c=<nil>"}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("after cleaning: %q, want %q", got, want)
			}
		})
	}
}

// readCodecBatches decodes batches with franz-go, checking each has codec,
// as "offset@timestamp:key=value".
func readCodecBatches(t *testing.T, data []byte, codec int) []string {
	t.Helper()
	dec := kgo.DefaultDecompressor()
	var out []string
	for len(data) > 0 {
		size := int(binary.BigEndian.Uint32(data[8:])) + 12
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(data[:size]); err != nil {
			t.Fatal(err)
		}
		data = data[size:]
		if int(rb.Attributes&7) != codec {
			t.Fatalf("batch at %d has codec %d, want %d", rb.FirstOffset, rb.Attributes&7, codec)
		}
		recs, err := dec.Decompress(rb.Records, kgo.CompressionCodecType(codec))
		if err != nil {
			t.Fatalf("franz-go cannot decompress the cleaned batch at %d: %v", rb.FirstOffset, err)
		}
		for i := int32(0); i < rb.NumRecords; i++ {
			l, n := binary.Varint(recs)
			var r kmsg.Record
			if err := r.ReadFrom(recs[:n+int(l)]); err != nil {
				t.Fatal(err)
			}
			recs = recs[n+int(l):]
			v := "<nil>"
			if r.Value != nil {
				v = string(r.Value)
				if len(v) > 100 {
					v = fmt.Sprintf("%d bytes", len(v))
				}
			}
			out = append(out, fmt.Sprintf("%d@%d:%s=%s", rb.FirstOffset+int64(r.OffsetDelta), rb.FirstTimestamp+r.TimestampDelta64, r.Key, v))
		}
	}
	return out
}
