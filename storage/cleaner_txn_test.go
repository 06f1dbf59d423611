package storage

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"reflect"
	"testing"
	"time"
)

// withAttrs sets a batch's attributes and recomputes its CRC.
func withAttrs(b []byte, attrs uint16) []byte {
	binary.BigEndian.PutUint16(b[crcStart:], attrs)
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[crcStart:], castagnoli))
	return b
}

// txnBatch is a transactional data batch of pid.
func txnBatch(t *testing.T, ts, pid int64, rs ...kv) []byte {
	return withAttrs(keyedBatch(t, ts, pid, rs...), attrTransactional)
}

// markerBatch is a COMMIT (commit) or ABORT control batch of pid.
func markerBatch(t *testing.T, ts, pid int64, commit bool) []byte {
	key := []byte{0, 0, 0, controlAbort}
	if commit {
		key[3] = controlCommit
	}
	return withAttrs(keyedBatch(t, ts, pid, kv{key: key, value: make([]byte, 6)}), attrTransactional|attrControl)
}

const (
	commitRec = "\x00\x00\x00\x01=\x00\x00\x00\x00\x00\x00"
	abortRec  = "\x00\x00\x00\x00=\x00\x00\x00\x00\x00\x00"
)

// offKV lists a log's records as "offset:key=value".
func offKV(t *testing.T, l *Log) []string {
	t.Helper()
	var out []string
	for _, r := range readKeyed(t, l) {
		out = append(out, fmt.Sprintf("%d:%s=%s", r.off, r.key, r.val))
	}
	return out
}

// headerAt returns the header of the batch holding offset off.
func headerAt(t *testing.T, l *Log, off int64) BatchHeader {
	t.Helper()
	for _, h := range batchHeaders(t, l) {
		if h.BaseOffset <= off && off <= h.LastOffset() {
			return h
		}
	}
	t.Fatalf("no batch holds offset %d", off)
	return BatchHeader{}
}

// TestCleanTransactions: aborted transactional data is removed and never
// hides a committed value; committed transactional data is compacted by
// key like any other; an open transaction stops the pass at its first
// offset; a marker stays while its transaction has data, is stamped with a
// delete horizon once it has none and goes after it, except a producer's
// last batch; an idempotent producer's last batch stays, emptied.
func TestCleanTransactions(t *testing.T) {
	cfg := compactConfig()
	l := openTest(t, t.TempDir(), cfg)
	now := time.UnixMilli(1_000_000_000)
	l.now = func() time.Time { return now }
	mustAppend(t, l, keyedBatch(t, 1000, 7, rec("a", "1"), rec("b", "1")), 0)  // 0-1
	mustAppend(t, l, txnBatch(t, 1001, 9, rec("a", "txn")), 0)                 // 2
	mustAppend(t, l, markerBatch(t, 1002, 9, true), 0)                         // 3
	mustAppend(t, l, txnBatch(t, 1003, 10, rec("b", "ab"), rec("c", "ab")), 0) // 4-5
	mustAppend(t, l, markerBatch(t, 1004, 10, false), 0)                       // 6
	mustAppend(t, l, txnBatch(t, 1005, 11, rec("d", "open")), 0)               // 7
	mustAppend(t, l, keyedBatch(t, 1006, -1, rec("a", "2"), rec("b", "2")), 0) // 8-9
	aborted := AbortedTxn{ProducerID: 10, FirstOffset: 4, LastOffset: 6, LastStableOffset: 7}
	if err := l.AppendAbortedTxn(aborted); err != nil { // as the replica does at the marker
		t.Fatal(err)
	}
	rollActive(t, l)
	c := NewCleaner(CleanerConfig{}, nil)
	defer c.Close()
	if err := c.CleanNow(l, l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	// Producer 10's aborted records are gone, so its index entry went with
	// them, a pass before its marker goes: a read_committed consumer told of
	// it would drop the producer's later data until a marker no longer there.
	if as, err := l.AbortedTxns(0, l.LogEndOffset()); err != nil || len(as) != 0 {
		t.Fatalf("aborted-transaction index after its data was cleaned: %v, %v; want empty", as, err)
	}
	want := []string{"1:b=1", "2:a=txn", "3:" + commitRec, "6:" + abortRec, "7:d=open", "8:a=2", "9:b=2"}
	if got := offKV(t, l); !reflect.DeepEqual(got, want) {
		t.Fatalf("first clean:\n got %q\nwant %q", got, want)
	}
	if fd := l.cleaner.firstDirty.Load(); fd != 7 {
		t.Fatalf("first dirty offset %d, want 7 (producer 11's open transaction)", fd)
	}
	horizon := now.UnixMilli() + cfg.DeleteRetention.Milliseconds()
	if h := headerAt(t, l, 6); h.Attributes&attrDeleteHorizon == 0 || h.FirstTimestamp != horizon {
		t.Fatalf("ABORT marker without data not stamped with horizon %d: %+v", horizon, h)
	}
	if h := headerAt(t, l, 3); h.Attributes&attrDeleteHorizon != 0 {
		t.Fatalf("COMMIT marker stamped while its data remains: %+v", h)
	}

	mustAppend(t, l, markerBatch(t, 1007, 11, true), 0)       // 10
	mustAppend(t, l, txnBatch(t, 1008, 10, rec("e", "1")), 0) // 11
	mustAppend(t, l, markerBatch(t, 1009, 10, true), 0)       // 12
	rollActive(t, l)
	if err := c.CleanNow(l, l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	want = []string{"3:" + commitRec, "6:" + abortRec, "7:d=open", "8:a=2", "9:b=2", "10:" + commitRec, "11:e=1", "12:" + commitRec}
	if got := offKV(t, l); !reflect.DeepEqual(got, want) {
		t.Fatalf("second clean:\n got %q\nwant %q", got, want)
	}
	if h := batchHeaders(t, l)[0]; h.ProducerID != 7 || h.NumRecords != 0 || h.LastOffsetDelta != 1 {
		t.Fatalf("producer 7's last batch not kept as an empty batch: %+v", h)
	}
	if h := headerAt(t, l, 3); h.Attributes&attrDeleteHorizon == 0 {
		t.Fatalf("COMMIT marker whose data is gone not stamped: %+v", h)
	}

	now = now.Add(cfg.DeleteRetention)
	mustAppend(t, l, keyedBatch(t, 1010, -1, rec("z", "1")), 0) // 13
	rollActive(t, l)
	if err := c.CleanNow(l, l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	// Marker 6 went; marker 3 is producer 9's last batch and stays.
	want = []string{"3:" + commitRec, "7:d=open", "8:a=2", "9:b=2", "10:" + commitRec, "11:e=1", "12:" + commitRec, "13:z=1"}
	if got := offKV(t, l); !reflect.DeepEqual(got, want) {
		t.Fatalf("clean past the horizon:\n got %q\nwant %q", got, want)
	}
}

// TestCleanTombstoneHorizon (KIP-534): a tombstone is kept by the first
// pass, which stamps its batch with a delete horizon of that pass's time
// plus delete.retention.ms (record timestamps read the same), and goes at
// the first pass at or past the horizon, whatever its own timestamp: one
// from 1970 is not dropped at once, one from the far future not kept
// forever.
func TestCleanTombstoneHorizon(t *testing.T) {
	cfg := compactConfig()
	l := openTest(t, t.TempDir(), cfg)
	now := time.UnixMilli(1_700_000_000_000)
	l.now = func() time.Time { return now }
	fillKeyed(t, l, 3, 10, now.UnixMilli())
	old, future := int64(5), now.Add(100*365*24*time.Hour).UnixMilli()
	mustAppend(t, l, keyedBatch(t, old, -1, tomb("k3"), rec("k5", "live")), 0)
	mustAppend(t, l, keyedBatch(t, future, -1, tomb("k4")), 0)
	rollActive(t, l)
	before := latest(readKeyed(t, l))
	c := NewCleaner(CleanerConfig{}, nil)
	defer c.Close()
	clean := func(at time.Time) map[string]keyedRead {
		t.Helper()
		now = at
		fillKeyed(t, l, 1, 1, at.UnixMilli()) // something dirty, so a pass runs
		rollActive(t, l)
		if err := c.CleanNow(l, l.LogEndOffset()); err != nil {
			t.Fatal(err)
		}
		return latest(readKeyed(t, l))
	}
	start := now
	m := clean(start)
	for _, k := range []string{"k3", "k4"} {
		if !m[k].tombstone || m[k].ts != before[k].ts {
			t.Fatalf("first clean: %s = %+v, want its tombstone with timestamp %d", k, m[k], before[k].ts)
		}
		if h := headerAt(t, l, m[k].off); h.Attributes&attrDeleteHorizon == 0 || h.FirstTimestamp != start.UnixMilli()+cfg.DeleteRetention.Milliseconds() {
			t.Fatalf("%s's batch not stamped with the horizon: %+v", k, h)
		}
	}
	if m["k5"].val != "live" || m["k5"].ts != before["k5"].ts {
		t.Fatalf("record next to a tombstone changed: %+v, was %+v", m["k5"], before["k5"])
	}
	m = clean(start.Add(cfg.DeleteRetention - time.Millisecond))
	if !m["k3"].tombstone || !m["k4"].tombstone {
		t.Fatalf("tombstones went before their horizon: %v", m)
	}
	m = clean(start.Add(cfg.DeleteRetention))
	if _, ok := m["k3"]; ok {
		t.Fatalf("tombstone k3 kept past its horizon: %v", m)
	}
	if _, ok := m["k4"]; ok {
		t.Fatalf("tombstone k4 (future timestamp) kept past its horizon: %v", m)
	}
	if m["k5"].val != "live" || len(m) != 8 {
		t.Fatalf("after the horizon: %v", m)
	}
}

func gzipCompress(codec int, src []byte) ([]byte, error) {
	if codec != 1 {
		return nil, fmt.Errorf("codec %d", codec)
	}
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(src); err != nil {
		return nil, err
	}
	err := w.Close()
	return b.Bytes(), err
}

func gzipDecompress(codec int, src []byte, limit int) ([]byte, error) {
	if codec != 1 {
		return nil, fmt.Errorf("codec %d", codec)
	}
	r, err := gzip.NewReader(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(r, int64(limit)))
}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	out, err := gzipDecompress(1, b, 1<<20)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

// gzipBatch is keyedBatch with its records gzip-compressed.
func gzipBatch(t *testing.T, ts int64, rs ...kv) []byte {
	t.Helper()
	b := keyedBatch(t, ts, -1, rs...)
	z, err := gzipCompress(1, b[batchHeaderSize:])
	if err != nil {
		t.Fatal(err)
	}
	out := append(b[:batchHeaderSize:batchHeaderSize], z...)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-batchLengthEnd))
	return withAttrs(out, 1)
}

// TestCleanRecompresses: a batch the cleaner rebuilds (some records gone,
// or a delete horizon stamped) keeps its codec, with the Compressor; with
// none it is written uncompressed, as before.
func TestCleanRecompresses(t *testing.T) {
	for _, enc := range []Compressor{gzipCompress, nil} {
		l := openTest(t, t.TempDir(), compactConfig())
		mustAppend(t, l, gzipBatch(t, 1000, rec("a", "1"), rec("b", "1"), rec("c", "1")), 0)
		mustAppend(t, l, gzipBatch(t, 1001, rec("a", "2"), tomb("c")), 0)
		rollActive(t, l)
		c := NewCleaner(CleanerConfig{Decompress: gzipDecompress, Compress: enc}, nil)
		if err := c.CleanNow(l, l.LogEndOffset()); err != nil {
			t.Fatal(err)
		}
		c.Close()
		want := []string{"1:b=1", "3:a=2", "4:c="}
		if got := offKV(t, l); !reflect.DeepEqual(got, want) {
			t.Fatalf("compress %v: got %q, want %q", enc != nil, got, want)
		}
		wantCodec := int16(1)
		if enc == nil {
			wantCodec = 0
		}
		for _, h := range batchHeaders(t, l) {
			if h.Attributes&codecMask != wantCodec {
				t.Fatalf("compress %v: batch %d has codec %d, want %d", enc != nil, h.BaseOffset, h.Attributes&codecMask, wantCodec)
			}
		}
		if h := headerAt(t, l, 4); h.Attributes&attrDeleteHorizon == 0 {
			t.Fatalf("compressed tombstone batch not stamped: %+v", h)
		}
	}
}

// TestRestampRecord: moving a record's timestamp base keeps its absolute
// timestamp and every other byte, for deltas that grow or shrink the
// varint.
func TestRestampRecord(t *testing.T) {
	b := keyedBatch(t, 1000, -1, rec("key", "value"), tomb("t"))
	rs, err := parseRecords(b[batchHeaderSize:], 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, newBase := range []int64{1000, 999, 5, 1 << 40, -1} {
		var out []byte
		for _, r := range rs {
			if out, err = restampRecord(out, b[batchHeaderSize+r.start:batchHeaderSize+r.end], 1000, newBase); err != nil {
				t.Fatal(err)
			}
		}
		got, err := parseRecords(out, 2)
		if err != nil {
			t.Fatalf("base %d: %v", newBase, err)
		}
		for i, r := range got {
			_, p, _ := readVarint(out, r.start)
			delta, _, _ := readVarint(out, p+1)
			if newBase+delta != 1000+int64(i) || string(r.key) != string(rs[i].key) || r.tombstone != rs[i].tombstone {
				t.Fatalf("base %d: record %d reads ts %d key %q", newBase, i, newBase+delta, r.key)
			}
		}
	}
}

// TestCleanerSkipsStuckLog: a log whose dirty section starts with a
// transaction still open (no marker yet; the bound given is the log end,
// so only the cleaner's own scan finds it) is as dirty as another log but
// cannot be cleaned; the background cleaner must not keep choosing it over
// the log it can clean, and cleans it once the marker is there.
func TestCleanerSkipsStuckLog(t *testing.T) {
	stuck := openTest(t, t.TempDir(), compactConfig())
	mustAppend(t, stuck, txnBatch(t, 1000, 5, rec("a", "open")), 0)
	fillKeyed(t, stuck, 20, 10, 1001)
	rollActive(t, stuck)
	other := openTest(t, t.TempDir(), compactConfig())
	fillKeyed(t, other, 2, 10, 1000)
	mustAppend(t, other, keyedBatch(t, 2000, -1, rec("pad", string(make([]byte, 1500)))), 0)
	rollActive(t, other)
	c := NewCleaner(CleanerConfig{Backoff: 10 * time.Millisecond}, func() []CleanTarget {
		return []CleanTarget{{Log: stuck, UpTo: stuck.LogEndOffset()}, {Log: other, UpTo: other.LogEndOffset()}}
	})
	defer c.Close()
	eventually(t, "the cleanable log cleaned", func() bool { return other.cleaner.firstDirty.Load() == other.LogEndOffset() })
	if fd := stuck.cleaner.firstDirty.Load(); fd != 0 {
		t.Fatalf("log with a transaction open at offset 0 cleaned to %d", fd)
	}
	mustAppend(t, stuck, markerBatch(t, 3000, 5, true), 0)
	rollActive(t, stuck)
	eventually(t, "the log cleaned once its transaction committed", func() bool {
		return stuck.cleaner.firstDirty.Load() == stuck.LogEndOffset()
	})
	if got := len(readKeyed(t, stuck)); got != 12 { // a, k0..k9, the marker
		t.Fatalf("%d records after cleaning, want 12", got)
	}
}
