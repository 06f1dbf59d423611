package server

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/storage"
)

// recordsOf encodes n small records as a v2 batch body.
func recordsOf(n int) []byte {
	var out []byte
	for i := range n {
		r := kmsg.Record{OffsetDelta: int32(i), Value: []byte("value")}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		out = r.AppendTo(out)
	}
	return out
}

func compressWith(t testing.TB, codec int16, b []byte) []byte {
	var buf bytes.Buffer
	switch codec {
	case codecNone:
		return b
	case codecGzip:
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
	case codecSnappy: // xerial framing, as the Java client writes it
		buf.Write(xerialHeader)
		buf.Write([]byte{0, 0, 0, 1, 0, 0, 0, 1})
		for len(b) > 0 {
			chunk := b[:min(len(b), 100)]
			b = b[len(chunk):]
			enc := s2.EncodeSnappy(nil, chunk)
			buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(enc))))
			buf.Write(enc)
		}
	case codecLZ4:
		w := lz4.NewWriter(&buf)
		w.Write(b)
		w.Close()
	case codecZstd:
		w, _ := zstd.NewWriter(&buf)
		w.Write(b)
		w.Close()
	}
	return buf.Bytes()
}

// rawBatch builds a v2 batch with body (already compressed with codec)
// claiming claim records, with a valid CRC.
func rawBatch(codec int16, body []byte, claim int32) []byte {
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{Magic: 2, Attributes: codec, LastOffsetDelta: claim - 1, FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: claim, Records: body}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// countsOf is checkRecordCounts after the parse producePartition does.
func countsOf(records []byte) error {
	hs, err := storage.ParseBatches(records, 0)
	if err != nil {
		return err
	}
	return checkRecordCounts(records, hs)
}

func TestCheckRecordCounts(t *testing.T) {
	for codec := int16(0); codec <= 4; codec++ {
		body := compressWith(t, codec, recordsOf(50))
		if err := countsOf(rawBatch(codec, body, 50)); err != nil {
			t.Errorf("codec %d: honest batch refused: %v", codec, err)
		}
		for _, claim := range []int32{1, 49, 51, math.MaxInt32} {
			b := rawBatch(codec, body, claim)
			if _, perr := storage.ParseBatches(b, 0); perr != nil {
				continue // storage's own size check refuses it (CORRUPT_MESSAGE)
			}
			if err := countsOf(b); errorCode(err) != kerr.InvalidRecord.Code {
				t.Errorf("codec %d: 50 records claiming %d: %v, want INVALID_RECORD", codec, claim, err)
			}
		}
	}
	// A gzip bomb of zero bytes is refused without decompressing it all.
	bomb := compressWith(t, codecGzip, make([]byte, 64<<20))
	if err := countsOf(rawBatch(codecGzip, bomb, math.MaxInt32)); errorCode(err) != kerr.InvalidRecord.Code {
		t.Errorf("gzip of zeros: %v, want INVALID_RECORD", err)
	}
}

// TestProduceCompressedBatchClaiming2to31Records: a small gzip batch whose
// header claims 2^31-1 records (lastOffsetDelta 2^31-2) is refused with
// INVALID_RECORD and moves no offset; honest producers carry on.
func TestProduceCompressedBatchClaiming2to31Records(t *testing.T) {
	_, addr := startTestServer(t)
	ctx := testCtx(t, 20*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "claims", 1); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, addr, kgo.DefaultProduceTopic("claims"))
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Version = 9
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "claims"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = rawBatch(codecGzip, compressWith(t, codecGzip, recordsOf(1)), math.MaxInt32)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := dialRaw(t, addr).Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.InvalidRecord.Code {
		t.Fatalf("batch claiming 2^31-1 records: error %d, want INVALID_RECORD (%d)", code, kerr.InvalidRecord.Code)
	}
	r := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("after")})
	if err := r.FirstErr(); err != nil {
		t.Fatal(err)
	}
	if off := r[0].Record.Offset; off != 1 {
		t.Fatalf("the next record landed at offset %d, want 1: the lying batch moved the log", off)
	}
}

// TestProduceEveryCodecFromFranzGo: franz-go's batches in every codec pass
// the record-count check and read back whole.
func TestProduceEveryCodecFromFranzGo(t *testing.T) {
	_, addr := startTestServer(t)
	ctx := testCtx(t, 30*time.Second)
	codecs := map[string]kgo.CompressionCodec{"gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}
	for name, codec := range codecs {
		if _, err := kadmCreate(ctx, t, addr, "codec-"+name, 1); err != nil {
			t.Fatal(err)
		}
		cl := newClient(t, addr, kgo.DefaultProduceTopic("codec-"+name), kgo.ProducerBatchCompression(codec),
			kgo.ConsumeTopics("codec-"+name), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		var rs []*kgo.Record
		for i := range 200 {
			rs = append(rs, &kgo.Record{Value: bytes.Repeat([]byte{byte(i)}, 100)})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("%s: produce: %v", name, err)
		}
		got := 0
		for got < 200 {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("%s: consumed %d of 200", name, got)
			}
			got += fs.NumRecords()
		}
	}
}

// BenchmarkCheckRecordCounts: the produce path's record walk over one
// uncompressed batch of 280 100-byte records (28 KiB, a 6-partition
// producer's batch at 1-2 M records/s), and over a gzip one.
func BenchmarkCheckRecordCounts(b *testing.B) {
	recs := func(n int) []byte {
		var out []byte
		for i := range n {
			r := kmsg.Record{OffsetDelta: int32(i), Value: bytes.Repeat([]byte{'v'}, 100)}
			r.Length = int32(len(r.AppendTo(nil)) - 1)
			out = r.AppendTo(out)
		}
		return out
	}
	for _, c := range []struct {
		name  string
		codec int16
	}{{"none", codecNone}, {"gzip", codecGzip}} {
		b.Run(c.name, func(b *testing.B) {
			raw := rawBatch(c.codec, compressWith(b, c.codec, recs(280)), 280)
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if err := countsOf(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCountRawRecordsMatchesReader: the in-place walk of uncompressed
// bodies accepts and refuses exactly what the streaming walk (used for
// compressed ones) does, on honest bodies, wrong claims, truncations and
// random byte flips.
func TestCountRawRecordsMatchesReader(t *testing.T) {
	viaReader := func(body []byte, want int32) error {
		br := bufio.NewReader(bytes.NewReader(body))
		return countRecords(br, want)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	body := recordsOf(40)
	check := func(what string, b []byte, want int32) {
		t.Helper()
		raw, streamed := countRawRecords(b, want), viaReader(b, want)
		if (raw == nil) != (streamed == nil) {
			t.Fatalf("%s (claim %d): in place %v, streamed %v", what, want, raw, streamed)
		}
		if raw != nil && !errors.Is(raw, errRecordCount) {
			t.Fatalf("%s: %v is not errRecordCount", what, raw)
		}
	}
	for _, want := range []int32{0, 1, 39, 40, 41, math.MaxInt32} {
		check("honest", body, want)
		check("empty", nil, want)
		for cut := range len(body) {
			check(fmt.Sprintf("cut at %d", cut), body[:cut], want)
		}
	}
	for i := range 20000 {
		b := bytes.Clone(body)
		for range 1 + rng.IntN(3) {
			b[rng.IntN(len(b))] = byte(rng.Uint32())
		}
		check(fmt.Sprintf("flip %d", i), b, 40)
	}
}
