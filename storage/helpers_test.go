package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/strombroker/strom/internal/testlog"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// batchSpec describes a test batch; zero fields get sensible values.
type batchSpec struct {
	values     [][]byte
	timestamp  int64 // first timestamp; record i gets timestamp+i
	attributes int16
	producerID int64
}

// makeBatch encodes a real magic-2 record batch with franz-go's kmsg types
// and a CRC-32C computed here, as a producer would send it.
func makeBatch(t testing.TB, spec batchSpec) []byte {
	t.Helper()
	var records []byte
	for i, v := range spec.values {
		r := kmsg.Record{
			TimestampDelta64: int64(i),
			OffsetDelta:      int32(i),
			Key:              []byte(fmt.Sprintf("k%d", i)),
			Value:            v,
		}
		body := r.AppendTo(nil) // Length 0 encodes as one varint byte
		r.Length = int32(len(body) - 1)
		records = r.AppendTo(records)
	}
	n := int32(len(spec.values))
	pid := spec.producerID
	if pid == 0 {
		pid = -1
	}
	rb := kmsg.RecordBatch{
		FirstOffset:          0,
		Length:               int32(minBatchLength + len(records)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           spec.attributes,
		LastOffsetDelta:      n - 1,
		FirstTimestamp:       spec.timestamp,
		MaxTimestamp:         spec.timestamp + int64(max(n-1, 0)),
		ProducerID:           pid,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           n,
		Records:              records,
	}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[crcStart:], castagnoli))
	return b
}

// seqBatch makes a batch of n records whose values are "v<seq+i>" padded to
// size bytes, so tests can check order and uniqueness after reads.
func seqBatch(t testing.TB, seq, n, size int, ts int64) []byte {
	t.Helper()
	vals := make([][]byte, n)
	for i := range vals {
		v := make([]byte, max(size, 12))
		copy(v, fmt.Sprintf("v%010d", seq+i))
		vals[i] = v
	}
	return makeBatch(t, batchSpec{values: vals, timestamp: ts})
}

// decodedBatch is a batch read back from the log.
type decodedBatch struct {
	baseOffset int64
	epoch      int32
	maxTs      int64
	values     []string
}

// decodeBatches parses Read output with franz-go's decoder, so the bytes we
// serve are proven readable by a real client library.
func decodeBatches(t testing.TB, data []byte) []decodedBatch {
	t.Helper()
	var out []decodedBatch
	for len(data) > 0 {
		if len(data) < batchLengthEnd {
			t.Fatalf("trailing %d bytes", len(data))
		}
		size := int(binary.BigEndian.Uint32(data[8:])) + batchLengthEnd
		if size > len(data) {
			t.Fatalf("batch of %d bytes, %d left", size, len(data))
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(data[:size]); err != nil {
			t.Fatalf("kmsg cannot read batch: %v", err)
		}
		if got := crc32.Checksum(data[crcStart:size], castagnoli); got != uint32(rb.CRC) {
			t.Fatalf("served batch at offset %d has bad crc", rb.FirstOffset)
		}
		d := decodedBatch{baseOffset: rb.FirstOffset, epoch: rb.PartitionLeaderEpoch, maxTs: rb.MaxTimestamp}
		recs := rb.Records
		for i := int32(0); i < rb.NumRecords; i++ {
			l, n := binary.Varint(recs)
			if n <= 0 || int(l)+n > len(recs) {
				t.Fatalf("bad record length in batch at %d", rb.FirstOffset)
			}
			var r kmsg.Record
			if err := r.ReadFrom(recs[:n+int(l)]); err != nil {
				t.Fatalf("kmsg cannot read record: %v", err)
			}
			d.values = append(d.values, string(r.Value))
			recs = recs[n+int(l):]
		}
		out = append(out, d)
		data = data[size:]
	}
	return out
}

// testConfig is a tight config: small segments and index interval so tests
// exercise rolling and sparse indexes with little data.
func testConfig() Config {
	c := DefaultConfig()
	c.SegmentBytes = 16 << 10
	c.IndexIntervalBytes = 512
	c.Fsync = FsyncNever
	c.RetentionMs = -1
	return c
}

// testLogger sends warnings and errors to t.Log until the test's cleanups run.
func testLogger(t testing.TB) *slog.Logger {
	t.Helper()
	return testlog.New(t, slog.LevelWarn)
}

// openTest opens a log and closes it at cleanup (ignoring ErrClosed when the
// test closed it itself).
func openTest(t testing.TB, dir string, cfg Config) *Log {
	t.Helper()
	l, err := Open(dir, cfg, testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

// mustAppend appends and fails the test on error.
func mustAppend(t testing.TB, l *Log, b []byte, epoch int32) AppendResult {
	t.Helper()
	res, err := l.Append(b, epoch)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return res
}

// readAllBatches reads the whole log from its start with small maxBytes so
// reads cross segment and batch boundaries.
func readAllBatches(t testing.TB, l *Log, maxBytes int) []decodedBatch {
	t.Helper()
	var out []decodedBatch
	off, end := l.LogStartOffset(), l.LogEndOffset()
	for off < end {
		data, err := l.Read(off, maxBytes, end)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		bs := decodeBatches(t, data)
		if len(bs) == 0 {
			t.Fatalf("Read(%d) returned nothing before log end %d", off, end)
		}
		out = append(out, bs...)
		last := bs[len(bs)-1]
		off = last.baseOffset + int64(len(last.values))
	}
	return out
}

// values flattens batches into record values.
func values(bs []decodedBatch) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.values...)
	}
	return out
}

// wantSeq checks that vals are "v<from>", "v<from+1>", ... exactly.
func wantSeq(t testing.TB, vals []string, from, n int) {
	t.Helper()
	if len(vals) != n {
		t.Fatalf("got %d records, want %d", len(vals), n)
	}
	for i, v := range vals {
		if want := fmt.Sprintf("v%010d", from+i); v[:11] != want {
			t.Fatalf("record %d = %q, want %q", i, v[:11], want)
		}
	}
}

// fileSize returns the size of a file, failing the test if it is missing.
func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// eventually polls cond until it is true or a deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
