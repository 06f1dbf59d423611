package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// kv is one record of a keyed test batch; a nil value is a tombstone, a
// nil key a keyless record.
type kv struct {
	key, value []byte
}

func rec(k, v string) kv { return kv{[]byte(k), []byte(v)} }
func tomb(k string) kv   { return kv{key: []byte(k)} }

// keyedBatch encodes a real v2 batch of the records (as a producer would).
func keyedBatch(t testing.TB, ts int64, pid int64, rs ...kv) []byte {
	t.Helper()
	var records []byte
	for i, r := range rs {
		kr := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Key: r.key, Value: r.value}
		body := kr.AppendTo(nil)
		kr.Length = int32(len(body) - 1)
		records = kr.AppendTo(records)
	}
	n := int32(len(rs))
	rb := kmsg.RecordBatch{
		Length: int32(minBatchLength + len(records)), PartitionLeaderEpoch: -1, Magic: 2,
		LastOffsetDelta: n - 1, FirstTimestamp: ts, MaxTimestamp: ts + int64(n-1),
		ProducerID: pid, ProducerEpoch: -1, FirstSequence: -1, NumRecords: n, Records: records,
	}
	if pid >= 0 {
		rb.ProducerEpoch, rb.FirstSequence = 0, 0
	}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[crcStart:], castagnoli))
	return b
}

// keyedRead is one record read back: offset, key, value (tombstone: null).
type keyedRead struct {
	off       int64
	key, val  string
	tombstone bool
	ts        int64 // the record's timestamp
}

// readKeyed reads the whole log, parsing every batch with kmsg and checking
// its CRC, following offsets across the gaps compaction leaves.
func readKeyed(t testing.TB, l *Log) []keyedRead {
	t.Helper()
	var out []keyedRead
	off, end := l.LogStartOffset(), l.LogEndOffset()
	for off < end {
		data, err := l.Read(off, 1<<20, end)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		if len(data) == 0 {
			break
		}
		for len(data) > 0 {
			size := int(binary.BigEndian.Uint32(data[8:])) + batchLengthEnd
			var rb kmsg.RecordBatch
			if err := rb.ReadFrom(data[:size]); err != nil {
				t.Fatalf("kmsg cannot read batch: %v", err)
			}
			if crc32.Checksum(data[crcStart:size], castagnoli) != uint32(rb.CRC) {
				t.Fatalf("batch at %d: bad crc", rb.FirstOffset)
			}
			recs := rb.Records
			if rb.Attributes&codecMask == 1 {
				recs = gunzip(t, recs)
			}
			for i := int32(0); i < rb.NumRecords; i++ {
				ln, n := binary.Varint(recs)
				var r kmsg.Record
				if err := r.ReadFrom(recs[:n+int(ln)]); err != nil {
					t.Fatalf("kmsg cannot read record: %v", err)
				}
				out = append(out, keyedRead{rb.FirstOffset + int64(r.OffsetDelta), string(r.Key), string(r.Value), r.Value == nil, rb.FirstTimestamp + r.TimestampDelta64})
				recs = recs[n+int(ln):]
			}
			off = rb.FirstOffset + int64(rb.LastOffsetDelta) + 1
			data = data[size:]
		}
	}
	return out
}

// latest maps each key to its last value ("" and a tombstone flag).
func latest(rs []keyedRead) map[string]keyedRead {
	m := map[string]keyedRead{}
	for _, r := range rs {
		m[r.key] = r
	}
	return m
}

func compactConfig() Config {
	c := testConfig()
	c.SegmentBytes = 2048
	c.Compact, c.KeepForever = true, true
	c.MinCleanableDirtyRatio = 0.01
	c.DeleteRetention = time.Hour
	return c
}

// fillKeyed appends rounds of batches over keys k0..k(nkeys-1), each round
// overwriting every key; round r's value of key k is "r<r>-k<k>". It rolls a
// fresh active segment at the end so everything is cleanable.
func fillKeyed(t *testing.T, l *Log, rounds, nkeys int, ts int64) {
	t.Helper()
	for r := 0; r < rounds; r++ {
		for k := 0; k < nkeys; k += 5 {
			var rs []kv
			for j := k; j < min(k+5, nkeys); j++ {
				rs = append(rs, rec(fmt.Sprintf("k%d", j), fmt.Sprintf("r%d-k%d", r, j)))
			}
			mustAppend(t, l, keyedBatch(t, ts+int64(r), -1, rs...), 0)
		}
	}
}

func rollActive(t *testing.T, l *Log) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.roll(l.active().next, l.config(), l.now()); err != nil {
		t.Fatal(err)
	}
}

func TestOffsetMap(t *testing.T) {
	m := newOffsetMap(100 * mapSlotSize)
	for i := 0; i < 90; i++ {
		if !m.put([]byte(fmt.Sprint("key", i)), int64(i)) {
			t.Fatalf("put %d refused before the load factor", i)
		}
	}
	if !m.full() || m.put([]byte("new"), 1000) {
		t.Fatal("a full map took a new key")
	}
	if !m.put([]byte("key7"), 500) {
		t.Fatal("a full map refused an update of a present key")
	}
	if got := m.get([]byte("key7")); got != 500 {
		t.Fatalf("get key7 = %d, want 500", got)
	}
	if got := m.get([]byte("key8")); got != 8 {
		t.Fatalf("get key8 = %d, want 8", got)
	}
	if got := m.get([]byte("absent")); got != -1 {
		t.Fatalf("get absent = %d, want -1", got)
	}
	m.reset()
	if m.get([]byte("key7")) != -1 || m.used != 0 {
		t.Fatal("reset kept entries")
	}
}

// TestCleanKeepsLatestPerKey: after a clean, every key reads as its latest
// value, offsets are preserved (each surviving record at its original
// offset), every batch parses with a valid CRC, and the log shrank.
func TestCleanKeepsLatestPerKey(t *testing.T) {
	l := openTest(t, t.TempDir(), compactConfig())
	fillKeyed(t, l, 20, 23, 1000)
	rollActive(t, l)
	before := readKeyed(t, l)
	sizeBefore := l.Size()
	c := NewCleaner(CleanerConfig{}, nil)
	defer c.Close()
	if err := c.CleanNow(l, l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	after := readKeyed(t, l)
	if len(after) != 23 {
		t.Fatalf("%d records after clean, want 23 (one per key)", len(after))
	}
	if !reflect.DeepEqual(latest(before), latest(after)) {
		t.Fatalf("latest values changed by cleaning")
	}
	for _, r := range after {
		if want := latest(before)[r.key].off; r.off != want {
			t.Fatalf("key %s at offset %d, want its original %d", r.key, r.off, want)
		}
	}
	if l.Size() >= sizeBefore/5 {
		t.Fatalf("log %d bytes after clean, %d before", l.Size(), sizeBefore)
	}
	// Reopen: the cleaned segments and their indexes survive a restart.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openTest(t, l.dir, compactConfig())
	if got := readKeyed(t, l2); !reflect.DeepEqual(got, after) {
		t.Fatalf("after reopen: %v, want %v", got, after)
	}
}

// TestCleanNeverTouchesActiveAndBound: the active segment and everything at
// or above the caller's bound stay as written.
func TestCleanNeverTouchesActiveAndBound(t *testing.T) {
	l := openTest(t, t.TempDir(), compactConfig())
	fillKeyed(t, l, 10, 10, 1000)
	end := l.LogEndOffset()
	c := NewCleaner(CleanerConfig{}, nil)
	defer c.Close()
	if err := c.CleanNow(l, 0); err != nil {
		t.Fatal(err)
	}
	if got := len(readKeyed(t, l)); got != 100 {
		t.Fatalf("bound 0 cleaned something: %d records", got)
	}
	if err := c.CleanNow(l, end); err != nil {
		t.Fatal(err)
	}
	rs := readKeyed(t, l)
	activeBase := l.segs[len(l.segs)-1].base
	n := 0
	for _, r := range rs {
		if r.off >= activeBase {
			n++
		}
	}
	if int64(n) != end-activeBase {
		t.Fatalf("active segment lost records: %d of %d", n, end-activeBase)
	}
}

// TestCleanSmallMapCleansWhatFits: with a map too small for the dirty
// section, CleanNow still reaches the latest-per-key result in passes.
func TestCleanSmallMapCleansWhatFits(t *testing.T) {
	l := openTest(t, t.TempDir(), compactConfig())
	fillKeyed(t, l, 10, 60, 1000)
	rollActive(t, l)
	want := latest(readKeyed(t, l))
	c := NewCleaner(CleanerConfig{DedupeBufferSize: 40 * mapSlotSize}, nil)
	defer c.Close()
	if err := c.CleanNow(l, l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	got := readKeyed(t, l)
	if !reflect.DeepEqual(latest(got), want) {
		t.Fatal("latest values changed")
	}
	if len(got) >= 200 {
		t.Fatalf("%d records left of 600 with 60 keys", len(got))
	}
}

func batchHeaders(t *testing.T, l *Log) []BatchHeader {
	t.Helper()
	var hs []BatchHeader
	if err := l.ScanBatches(0, func(h BatchHeader, _ []byte) error { hs = append(hs, h); return nil }); err != nil {
		t.Fatal(err)
	}
	return hs
}

// TestCleanCrashAtEachStep: a crash at each step of the swap leaves a log
// that Open recovers to either the uncleaned or the cleaned content, with
// the same latest value for every key, no leftover cleaner files, and
// readable by a later clean.
func TestCleanCrashAtEachStep(t *testing.T) {
	for _, stepName := range []string{"marker", "remove", "rename.index", "rename.timeindex", "rename.log", "unmark"} {
		t.Run(stepName, func(t *testing.T) {
			dir := t.TempDir()
			l, err := Open(dir, compactConfig(), testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			fillKeyed(t, l, 10, 17, 1000)
			rollActive(t, l)
			before := readKeyed(t, l)
			p, err := l.plan(l.now(), l.LogEndOffset(), true)
			if err != nil {
				t.Fatal(err)
			}
			errCrash := errors.New("simulated crash")
			cp := &cleanPass{omap: newOffsetMap(1 << 20), stop: make(chan struct{}),
				crash: func(s string) error {
					if s == stepName {
						return errCrash
					}
					return nil
				}}
			if err := cp.clean(l, p); !errors.Is(err, errCrash) {
				t.Fatalf("clean: %v, want the simulated crash", err)
			}
			l.mu.Lock()
			l.failed = errCrash // no clean shutdown marker: an unclean stop
			l.mu.Unlock()
			_ = l.Close()
			l2 := openTest(t, dir, compactConfig())
			after := readKeyed(t, l2)
			if !reflect.DeepEqual(latest(after), latest(before)) {
				t.Fatalf("latest values differ after recovery")
			}
			if len(after) != len(before) && len(after) != 17 {
				t.Fatalf("%d records after recovery: neither uncleaned (%d) nor cleaned (17)", len(after), len(before))
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasSuffix(e.Name(), cleanedSuffix) || strings.HasSuffix(e.Name(), swapSuffix) {
					t.Fatalf("leftover %s", e.Name())
				}
			}
			c := NewCleaner(CleanerConfig{}, nil)
			defer c.Close()
			if err := c.CleanNow(l2, l2.LogEndOffset()); err != nil {
				t.Fatal(err)
			}
			if got := readKeyed(t, l2); len(got) != 17 || !reflect.DeepEqual(latest(got), latest(before)) {
				t.Fatalf("clean after recovery: %d records", len(got))
			}
		})
	}
}

// TestCleanerBackground: the background cleaner compacts a log whose dirty
// ratio passes min.cleanable.dirty.ratio, on its own.
func TestCleanerBackground(t *testing.T) {
	l := openTest(t, t.TempDir(), compactConfig())
	fillKeyed(t, l, 20, 10, 1000)
	rollActive(t, l)
	activeBase := l.LogEndOffset()
	c := NewCleaner(CleanerConfig{Backoff: 10 * time.Millisecond, IOMaxBytesPerSecond: 10 << 20},
		func() []CleanTarget { return []CleanTarget{{Log: l, UpTo: l.LogEndOffset()}} })
	defer c.Close()
	eventually(t, "background clean", func() bool { return l.cleaner.firstDirty.Load() == activeBase })
	if got := len(readKeyed(t, l)); got != 10 {
		t.Fatalf("%d records, want 10", got)
	}
	ck, err := readStartCheckpoint(filepath.Join(l.dir, cleanerCheckpoint))
	if err != nil || ck != l.cleaner.firstDirty.Load() {
		t.Fatalf("cleaner checkpoint %d (%v), want %d", ck, err, l.cleaner.firstDirty.Load())
	}
}

// TestFollowerCopiesCompactedLog: a new follower fetching a compacted log
// from the start gets batches with gaps between them, and appends them.
func TestFollowerCopiesCompactedLog(t *testing.T) {
	leader := openTest(t, t.TempDir(), compactConfig())
	fillKeyed(t, leader, 10, 10, 1000)
	rollActive(t, leader)
	c := NewCleaner(CleanerConfig{}, nil)
	defer c.Close()
	if err := c.CleanNow(leader, leader.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	follower := openTest(t, t.TempDir(), compactConfig())
	for off := int64(0); off < leader.LogEndOffset(); {
		data, err := leader.Read(off, 1<<20, leader.LogEndOffset())
		if err != nil || len(data) == 0 {
			t.Fatalf("leader read at %d: %v", off, err)
		}
		res, err := follower.AppendAsFollower(data)
		if err != nil {
			t.Fatalf("follower append at %d: %v", off, err)
		}
		off = res.LastOffset + 1
	}
	if !reflect.DeepEqual(readKeyed(t, follower), readKeyed(t, leader)) {
		t.Fatal("follower differs from leader")
	}
	plain := openTest(t, t.TempDir(), testConfig())
	data, _ := leader.Read(0, 1<<20, leader.LogEndOffset())
	if _, err := plain.AppendAsFollower(data); !errors.Is(err, ErrNonSequentialOffset) {
		t.Fatalf("gap into a non-compacted log: %v, want ErrNonSequentialOffset", err)
	}
}

// TestCleanUnderSendfileReader: a Slice taken before a clean keeps reading
// the old bytes, whole and valid, after the segment was swapped.
func TestCleanUnderSendfileReader(t *testing.T) {
	l := openTest(t, t.TempDir(), compactConfig())
	l.sliceCopyMax = 0 // a file however small
	fillKeyed(t, l, 10, 10, 1000)
	rollActive(t, l)
	sl, ok, err := l.ReadSlice(0, 1<<20, l.LogEndOffset())
	if err != nil || !ok || sl.File == nil {
		t.Fatalf("ReadSlice: %v %v", ok, err)
	}
	defer sl.File.Close()
	want := make([]byte, sl.Len)
	if _, err := sl.File.ReadAt(want, sl.Pos); err != nil {
		t.Fatal(err)
	}
	c := NewCleaner(CleanerConfig{}, nil)
	defer c.Close()
	if err := c.CleanNow(l, l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, sl.Len)
	if _, err := sl.File.ReadAt(got, sl.Pos); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("bytes under a held Slice changed with the clean")
	}
	decodeBatches(t, got)
}

// TestCleanPlanLags: min.compaction.lag.ms keeps young segments out of a
// pass; max.compaction.lag.ms makes a log due whatever its dirty ratio.
func TestCleanPlanLags(t *testing.T) {
	cfg := compactConfig()
	cfg.MinCompactionLag = time.Hour
	l := openTest(t, t.TempDir(), cfg)
	now := time.UnixMilli(10_000_000)
	l.now = func() time.Time { return now }
	fillKeyed(t, l, 5, 10, now.Add(-2*time.Hour).UnixMilli()) // old enough
	rollActive(t, l)
	young := l.LogEndOffset()
	fillKeyed(t, l, 5, 10, now.Add(-time.Minute).UnixMilli())
	rollActive(t, l)
	p, err := l.plan(now, l.LogEndOffset(), false)
	if err != nil {
		t.Fatal(err)
	}
	if p.end > young || p.end == 0 {
		t.Fatalf("plan end %d: want it at or below %d, where the young segments start", p.end, young)
	}
	if p.mustClean {
		t.Fatal("mustClean without max.compaction.lag.ms")
	}
	cfg.MaxCompactionLag = 30 * time.Minute
	cfg.MinCompactionLag = 0
	cfg.MinCleanableDirtyRatio = 0.99
	l.SetConfig(cfg)
	if p, _ = l.plan(now, l.LogEndOffset(), false); !p.mustClean {
		t.Fatal("a segment older than max.compaction.lag.ms does not make the log due")
	}
}

// TestMaxCompactionLagRolls: max.compaction.lag.ms below segment.ms rolls
// the active segment that often (it is never cleaned otherwise).
func TestMaxCompactionLagRolls(t *testing.T) {
	cfg := compactConfig()
	cfg.SegmentMs, cfg.MaxCompactionLag = time.Hour, time.Minute
	if got := cfg.normalized().SegmentMs; got != time.Minute {
		t.Fatalf("segment.ms %v with max.compaction.lag.ms 1m, want 1m", got)
	}
	cfg.Compact = false
	if got := cfg.normalized().SegmentMs; got != time.Hour {
		t.Fatalf("segment.ms %v on a non-compacted log, want 1h", got)
	}
}

// TestCleanerThreadsManyLogs: two cleaner goroutines over four logs, each
// log cleaned by one goroutine at a time, all of them compacted.
func TestCleanerThreadsManyLogs(t *testing.T) {
	var targets []CleanTarget
	var ends []int64
	for i := 0; i < 4; i++ {
		l := openTest(t, t.TempDir(), compactConfig())
		fillKeyed(t, l, 10, 10+i, 1000)
		rollActive(t, l)
		targets = append(targets, CleanTarget{Log: l, UpTo: l.LogEndOffset()})
		ends = append(ends, l.LogEndOffset())
	}
	c := NewCleaner(CleanerConfig{Threads: 2, Backoff: 10 * time.Millisecond, DedupeBufferSize: 1 << 20},
		func() []CleanTarget { return targets })
	defer c.Close()
	eventually(t, "every log cleaned", func() bool {
		for i, tg := range targets {
			if tg.Log.cleaner.firstDirty.Load() != ends[i] {
				return false
			}
		}
		return true
	})
	for i, tg := range targets {
		if got := len(readKeyed(t, tg.Log)); got != 10+i {
			t.Fatalf("log %d: %d records, want %d", i, got, 10+i)
		}
	}
}
