package storage

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestAppendReadBasics(t *testing.T) {
	l := openTest(t, t.TempDir(), testConfig())
	if l.LogStartOffset() != 0 || l.LogEndOffset() != 0 || l.Size() != 0 {
		t.Fatalf("new log not empty: %d %d %d", l.LogStartOffset(), l.LogEndOffset(), l.Size())
	}
	b := seqBatch(t, 0, 3, 20, 100)
	res := mustAppend(t, l, b, 4)
	if res.BaseOffset != 0 || res.LastOffset != 2 || res.LogStartOffset != 0 {
		t.Fatalf("first append: %+v", res)
	}
	res = mustAppend(t, l, seqBatch(t, 3, 2, 20, 200), 4)
	if res.BaseOffset != 3 || res.LastOffset != 4 || l.LogEndOffset() != 5 {
		t.Fatalf("second append: %+v leo %d", res, l.LogEndOffset())
	}
	data, err := l.Read(0, 1<<20, l.LogEndOffset())
	if err != nil {
		t.Fatal(err)
	}
	bs := decodeBatches(t, data)
	if len(bs) != 2 || bs[0].baseOffset != 0 || bs[1].baseOffset != 3 || bs[0].epoch != 4 {
		t.Fatalf("read back %+v", bs)
	}
	wantSeq(t, values(bs), 0, 5)
	if l.Size() != int64(len(data)) {
		t.Fatalf("size %d, read %d bytes", l.Size(), len(data))
	}

	// An offset inside a batch returns that whole batch.
	data, err = l.Read(4, 1<<20, 5)
	if err != nil || decodeBatches(t, data)[0].baseOffset != 3 {
		t.Fatalf("read mid-batch: %v", err)
	}
	// At the log end: empty, no error. Beyond or below: out of range.
	if data, err := l.Read(5, 1<<20, 5); err != nil || len(data) != 0 {
		t.Fatalf("read at LEO: %d bytes, %v", len(data), err)
	}
	if _, err := l.Read(6, 1<<20, 10); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read past LEO: %v", err)
	}
	if _, err := l.Read(-1, 1<<20, 10); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below start: %v", err)
	}
	// upTo excludes batches starting at or after it; at upTo it is empty.
	data, _ = l.Read(0, 1<<20, 3)
	if bs := decodeBatches(t, data); len(bs) != 1 {
		t.Fatalf("upTo=3 returned %d batches", len(bs))
	}
	if data, err := l.Read(3, 1<<20, 3); err != nil || len(data) != 0 {
		t.Fatalf("read at upTo: %d bytes, %v", len(data), err)
	}
	// maxBytes smaller than a batch still returns one whole batch (KIP-74).
	data, _ = l.Read(0, 1, 5)
	if bs := decodeBatches(t, data); len(bs) != 1 || len(bs[0].values) != 3 {
		t.Fatalf("tiny maxBytes returned %+v", bs)
	}
}

func TestAppendRejectsInvalidAtomically(t *testing.T) {
	cfg := testConfig()
	l := openTest(t, t.TempDir(), cfg)
	good := seqBatch(t, 0, 2, 10, 1)
	bad := seqBatch(t, 2, 2, 10, 1)
	bad[len(bad)-1] ^= 0xff
	if _, err := l.Append(append(append([]byte{}, good...), bad...), 0); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("want ErrCorruptBatch, got %v", err)
	}
	if l.LogEndOffset() != 0 || l.Size() != 0 {
		t.Fatal("a rejected append changed the log")
	}
	cfg.MaxMessageBytes = 100
	l.SetConfig(cfg)
	if _, err := l.Append(seqBatch(t, 0, 10, 10, 1), 0); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("want ErrMessageTooLarge, got %v", err)
	}
	if _, err := l.Append(nil, 0); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("empty append: %v", err)
	}
}

func TestSegmentsRollAndReopen(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := openTest(t, dir, cfg)
	const batches, per = 200, 5
	for i := 0; i < batches; i++ {
		mustAppend(t, l, seqBatch(t, i*per, per, 40, int64(1000+i)), 1)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(segs) < 3 {
		t.Fatalf("expected several segments, got %d", len(segs))
	}
	if _, err := os.Stat(filepath.Join(dir, "00000000000000000000.index")); err != nil {
		t.Fatal(err)
	}
	wantSeq(t, values(readAllBatches(t, l, 700)), 0, batches*per)
	size := l.Size()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Read(0, 100, 10); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if _, err := l.Append(seqBatch(t, 0, 1, 1, 1), 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}

	l2 := openTest(t, dir, cfg)
	if l2.LogEndOffset() != batches*per || l2.Size() != size {
		t.Fatalf("reopened: leo %d size %d (want %d %d)", l2.LogEndOffset(), l2.Size(), batches*per, size)
	}
	wantSeq(t, values(readAllBatches(t, l2, 1<<20)), 0, batches*per)
	// Random access into old segments goes through the on-disk index.
	for _, off := range []int64{0, 7, 333, 512, 998, 999} {
		data, err := l2.Read(off, 1, l2.LogEndOffset())
		if err != nil {
			t.Fatal(err)
		}
		b := decodeBatches(t, data)[0]
		if off < b.baseOffset || off >= b.baseOffset+int64(len(b.values)) {
			t.Fatalf("Read(%d) returned batch at %d", off, b.baseOffset)
		}
	}
	res := mustAppend(t, l2, seqBatch(t, batches*per, 1, 10, 5000), 1)
	if res.BaseOffset != batches*per {
		t.Fatalf("append after reopen at %d", res.BaseOffset)
	}
}

func TestRollBySegmentMs(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentMs = time.Hour
	l := openTest(t, dir, cfg)
	now := time.Now()
	l.now = func() time.Time { return now }
	mustAppend(t, l, seqBatch(t, 0, 1, 10, 1), 0)
	mustAppend(t, l, seqBatch(t, 1, 1, 10, 1), 0)
	now = now.Add(2 * time.Hour)
	mustAppend(t, l, seqBatch(t, 2, 1, 10, 1), 0)
	segs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(segs) != 2 || filepath.Base(segs[1]) != "00000000000000000002.log" {
		t.Fatalf("segments %v", segs)
	}
}

func TestTimestampsAndEpochs(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := openTest(t, dir, cfg)
	// 100 batches of 4 records, timestamps 10000+i*100 .. +3; epochs change.
	for i := 0; i < 100; i++ {
		epoch := int32(1)
		if i >= 40 {
			epoch = 3
		}
		if i >= 70 {
			epoch = 5
		}
		mustAppend(t, l, seqBatch(t, i*4, 4, 60, int64(10000+i*100)), epoch)
	}
	check := func(l *Log) {
		t.Helper()
		for _, tc := range []struct {
			ts        int64
			off, bts  int64
			wantFound bool
		}{
			{0, 0, 10003, true},
			{10003, 0, 10003, true},
			{10004, 4, 10103, true},
			{15050, 204, 15103, true},
			{19903, 396, 19903, true},
			{19904, 0, 0, false},
		} {
			off, ts, found, err := l.OffsetForTimestamp(tc.ts)
			if err != nil || found != tc.wantFound || (found && (off != tc.off || ts != tc.bts)) {
				t.Fatalf("OffsetForTimestamp(%d) = %d %d %v %v, want %d %d %v", tc.ts, off, ts, found, err, tc.off, tc.bts, tc.wantFound)
			}
		}
		off, ts, err := l.MaxTimestamp()
		if err != nil || off != 396 || ts != 19903 {
			t.Fatalf("MaxTimestamp = %d %d %v", off, ts, err)
		}
		for _, tc := range []struct {
			ask  int32
			want int32
			end  int64
		}{
			{-1, -1, -1}, {0, 0, 0}, {1, 1, 160}, {2, 1, 160}, {3, 3, 280}, {4, 3, 280}, {5, 5, 400}, {9, 5, 400},
		} {
			if e, end := l.EndOffsetForEpoch(tc.ask); e != tc.want || end != tc.end {
				t.Fatalf("EndOffsetForEpoch(%d) = %d %d, want %d %d", tc.ask, e, end, tc.want, tc.end)
			}
		}
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	check(openTest(t, dir, cfg))
}

func TestAppendAsFollower(t *testing.T) {
	leader := openTest(t, t.TempDir(), testConfig())
	follower := openTest(t, t.TempDir(), testConfig())
	for i := 0; i < 50; i++ {
		mustAppend(t, leader, seqBatch(t, i*3, 3, 50, int64(i)), int32(1+i/20))
	}
	for off := int64(0); off < leader.LogEndOffset(); {
		data, err := leader.Read(off, 1000, leader.LogEndOffset())
		if err != nil {
			t.Fatal(err)
		}
		res, err := follower.AppendAsFollower(data)
		if err != nil {
			t.Fatal(err)
		}
		off = res.LastOffset + 1
	}
	wantSeq(t, values(readAllBatches(t, follower, 1<<20)), 0, 150)
	if e, end := follower.EndOffsetForEpoch(2); e != 2 || end != 120 {
		t.Fatalf("follower epochs: %d %d", e, end)
	}
	data, _ := leader.Read(0, 1, 3)
	if _, err := follower.AppendAsFollower(data); !errors.Is(err, ErrNonSequentialOffset) {
		t.Fatalf("stale follower append: %v", err)
	}
}

func TestTruncateTo(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := openTest(t, dir, cfg)
	for i := 0; i < 100; i++ {
		mustAppend(t, l, seqBatch(t, i*5, 5, 40, int64(i)), int32(1+i/50))
	}
	nsegs := len(l.segs)
	// Within the active segment at a batch boundary.
	if err := l.TruncateTo(495); err != nil {
		t.Fatal(err)
	}
	if l.LogEndOffset() != 495 {
		t.Fatalf("leo %d", l.LogEndOffset())
	}
	// Into an older segment, mid-batch: the containing batch goes too.
	if err := l.TruncateTo(122); err != nil {
		t.Fatal(err)
	}
	if l.LogEndOffset() != 120 || len(l.segs) >= nsegs {
		t.Fatalf("leo %d segments %d/%d", l.LogEndOffset(), len(l.segs), nsegs)
	}
	if e, end := l.EndOffsetForEpoch(2); e != 1 || end != 120 {
		t.Fatalf("epoch 2 should be gone: %d %d", e, end)
	}
	if _, _, found, _ := l.OffsetForTimestamp(28); found {
		t.Fatal("timestamp of a truncated batch still found")
	}
	if off, ts, _ := l.MaxTimestamp(); off != 115 || ts != 27 {
		t.Fatalf("max timestamp after truncation %d %d", off, ts)
	}
	wantSeq(t, values(readAllBatches(t, l, 1<<20)), 0, 120)
	mustAppend(t, l, seqBatch(t, 120, 5, 40, 99), 7)
	wantSeq(t, values(readAllBatches(t, l, 300)), 0, 125)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg)
	wantSeq(t, values(readAllBatches(t, l, 300)), 0, 125)
	// Below the log start: the log restarts empty at that offset.
	if err := l.DeleteRecordsBefore(50, l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateTo(10); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != 10 || l.LogEndOffset() != 10 || l.Size() != 0 {
		t.Fatalf("after full truncation: %d %d %d", l.LogStartOffset(), l.LogEndOffset(), l.Size())
	}
	if res := mustAppend(t, l, seqBatch(t, 0, 1, 1, 1), 8); res.BaseOffset != 10 {
		t.Fatalf("append after full truncation at %d", res.BaseOffset)
	}
}

func TestDeleteRecordsSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := openTest(t, dir, cfg)
	for i := 0; i < 100; i++ {
		mustAppend(t, l, seqBatch(t, i*5, 5, 40, int64(i)), 1)
	}
	before := len(l.segs)
	if err := l.DeleteRecordsBefore(501, l.LogEndOffset()); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("delete beyond end: %v", err)
	}
	if err := l.DeleteRecordsBefore(303, l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != 303 || len(l.segs) >= before {
		t.Fatalf("start %d segments %d/%d", l.LogStartOffset(), len(l.segs), before)
	}
	if _, err := l.Read(302, 100, 500); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below new start: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg)
	if l.LogStartOffset() != 303 || l.LogEndOffset() != 500 {
		t.Fatalf("after restart start %d end %d", l.LogStartOffset(), l.LogEndOffset())
	}
	bs := readAllBatches(t, l, 1<<20)
	if bs[0].baseOffset != 300 {
		t.Fatalf("first readable batch at %d", bs[0].baseOffset)
	}
	if off, _, found, _ := l.OffsetForTimestamp(0); !found || off != 303 {
		t.Fatalf("OffsetForTimestamp below start = %d %v", off, found)
	}
}

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := openTest(t, dir, cfg)
	base := time.Now().Add(-time.Hour).UnixMilli()
	for i := 0; i < 300; i++ {
		mustAppend(t, l, seqBatch(t, i*5, 5, 40, base+int64(i)*1000), 1)
	}
	if err := l.EnforceRetention(time.Now(), l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != 0 {
		t.Fatal("retention deleted data with unlimited retention")
	}
	// By bytes: keep at least 60 KiB.
	cfg.RetentionBytes = 60 << 10
	l.SetConfig(cfg)
	if err := l.EnforceRetention(time.Now(), l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	if l.Size() < cfg.RetentionBytes || l.Size()-l.segs[0].size >= cfg.RetentionBytes {
		t.Fatalf("size %d after byte retention (first segment %d)", l.Size(), l.segs[0].size)
	}
	start := l.LogStartOffset()
	if start == 0 || start != l.segs[0].base {
		t.Fatalf("log start %d, first segment %d", start, l.segs[0].base)
	}
	// By time: batch i is at base+i s; keep those newer than base+200s.
	cfg.RetentionBytes = -1
	cfg.RetentionMs = time.Hour - 200*time.Second
	l.SetConfig(cfg)
	now := time.UnixMilli(base).Add(time.Hour)
	if err := l.EnforceRetention(now, l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() <= start || l.LogStartOffset() > 200*5 {
		t.Fatalf("time retention moved start to %d", l.LogStartOffset())
	}
	for _, s := range l.segs[:len(l.segs)-1] {
		if s.maxTs < base+199*1000 {
			t.Fatalf("expired segment %d survived", s.base)
		}
	}
	// Reopen: max timestamps of old segments come from the time index.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg)
	start = l.LogStartOffset()
	if err := l.EnforceRetention(now, l.LogEndOffset()); err != nil || l.LogStartOffset() != start {
		t.Fatalf("retention after reopen moved start %d -> %d (%v)", start, l.LogStartOffset(), err)
	}
	// Everything expired: the active segment is rolled and deleted too.
	if err := l.EnforceRetention(now.Add(24*time.Hour), l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != 1500 || l.LogEndOffset() != 1500 || l.Size() != 0 {
		t.Fatalf("after full expiry start %d end %d size %d", l.LogStartOffset(), l.LogEndOffset(), l.Size())
	}
	if e, end := l.EndOffsetForEpoch(1); e != 1 || end != 1500 {
		t.Fatalf("epoch after full expiry %d %d", e, end)
	}
	mustAppend(t, l, seqBatch(t, 1500, 1, 10, 1), 1)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg)
	if l.LogStartOffset() != 1500 || l.LogEndOffset() != 1501 {
		t.Fatalf("reopened start %d end %d", l.LogStartOffset(), l.LogEndOffset())
	}
}

func TestScanBatches(t *testing.T) {
	l := openTest(t, t.TempDir(), testConfig())
	for i := 0; i < 300; i++ {
		mustAppend(t, l, seqBatch(t, i*2, 2, 30, int64(i)), 0)
	}
	var next int64 = 100
	n := 0
	err := l.ScanBatches(100, func(h BatchHeader, raw []byte) error {
		if h.BaseOffset != next || len(raw) != h.Size() {
			t.Fatalf("scan got batch %d (%d bytes), want %d", h.BaseOffset, len(raw), next)
		}
		if _, err := ParseBatches(raw, 0); err != nil {
			t.Fatalf("scanned batch invalid: %v", err)
		}
		next = h.LastOffset() + 1
		n++
		return nil
	})
	if err != nil || n != 250 || next != 600 {
		t.Fatalf("scan: %v, %d batches, next %d", err, n, next)
	}
	stop := errors.New("stop")
	if err := l.ScanBatches(0, func(BatchHeader, []byte) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("scan error not propagated: %v", err)
	}
}

func TestConcurrentAppendReadSync(t *testing.T) {
	cfg := testConfig()
	cfg.Fsync = FsyncAlways
	l := openTest(t, t.TempDir(), cfg)
	const writers, perWriter = 4, 100
	var wg sync.WaitGroup
	errc := make(chan error, writers+1)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := seqBatch(t, 0, 3, 30, 1)
			for i := 0; i < perWriter; i++ {
				if _, err := l.Append(b, 0); err != nil {
					errc <- err
					return
				}
				if err := l.Sync(); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		var off int64
		for {
			select {
			case <-done:
				return
			default:
			}
			data, err := l.Read(off, 2000, l.LogEndOffset())
			if err != nil {
				errc <- err
				return
			}
			if hs, err := parseBatches(data, 0, true); err != nil {
				errc <- err
				return
			} else if len(hs) > 0 {
				off = hs[len(hs)-1].LastOffset() + 1
			}
		}
	}()
	eventually(t, "appends", func() bool { return l.LogEndOffset() == writers*perWriter*3 })
	close(done)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if n := len(readAllBatches(t, l, 4096)); n != writers*perWriter {
		t.Fatalf("%d batches", n)
	}
}

func TestIntervalFlusher(t *testing.T) {
	cfg := testConfig()
	cfg.Fsync = FsyncInterval
	cfg.FlushInterval = 5 * time.Millisecond
	l := openTest(t, t.TempDir(), cfg)
	mustAppend(t, l, seqBatch(t, 0, 1, 10, 1), 0)
	eventually(t, "background flush", func() bool { return !l.dirty() })
	cfg.Fsync = FsyncNever
	l.SetConfig(cfg)
	mustAppend(t, l, seqBatch(t, 1, 1, 10, 1), 0)
	if !l.dirty() {
		t.Fatal("log not dirty after append")
	}
	if err := l.Sync(); err != nil || l.dirty() {
		t.Fatalf("explicit Sync: %v dirty=%v", err, l.dirty())
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{Fsync: "sometimes"}).Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("bad policy accepted: %v", err)
	}
	if _, err := Open(t.TempDir(), Config{Fsync: "sometimes"}, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Open accepted bad policy: %v", err)
	}
	c := Config{}.normalized()
	if c.SegmentBytes != 1<<30 || c.IndexIntervalBytes != 4096 || c.Fsync != FsyncInterval {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if c := (Config{SegmentBytes: 1 << 40}).normalized(); c.SegmentBytes != 1<<31-1 {
		t.Fatalf("segment bytes not clamped: %d", c.SegmentBytes)
	}
}

func TestDelete(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p0")
	l, err := Open(dir, testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, seqBatch(t, 0, 1, 10, 1), 0)
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("dir still there: %v", err)
	}
}

func TestTruncateFullyAndStartAt(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := openTest(t, dir, cfg)
	for i := 0; i < 100; i++ {
		mustAppend(t, l, seqBatch(t, i*5, 5, 40, int64(i)), 1)
	}
	if err := l.TruncateFullyAndStartAt(10000); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != 10000 || l.LogEndOffset() != 10000 || l.Size() != 0 {
		t.Fatalf("start %d end %d size %d", l.LogStartOffset(), l.LogEndOffset(), l.Size())
	}
	if e, _ := l.EndOffsetForEpoch(1); e != -1 {
		t.Fatalf("epochs survived: %d", e)
	}
	b := seqBatch(t, 0, 2, 10, 1)
	setBaseOffset(b, 10000)
	if _, err := l.AppendAsFollower(b); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg)
	segs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if l.LogStartOffset() != 10000 || l.LogEndOffset() != 10002 || len(segs) != 1 {
		t.Fatalf("reopened start %d end %d segments %v", l.LogStartOffset(), l.LogEndOffset(), segs)
	}
}

func TestReadStopsAtUpTo(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 1 << 20
	l := openTest(t, t.TempDir(), cfg)
	for i := 0; i < 200; i++ {
		mustAppend(t, l, seqBatch(t, i*5, 5, 40, int64(i)), 1)
	}
	for _, upTo := range []int64{5, 333, 500, 995, 1000} {
		for _, from := range []int64{0, 3, 250} {
			if from >= upTo {
				continue
			}
			data, err := l.Read(from, 1<<20, upTo)
			if err != nil {
				t.Fatal(err)
			}
			bs := decodeBatches(t, data)
			last := bs[len(bs)-1]
			if bs[0].baseOffset > from || last.baseOffset >= upTo || last.baseOffset+5 < upTo {
				t.Fatalf("Read(%d, upTo %d) returned batches %d..%d", from, upTo, bs[0].baseOffset, last.baseOffset)
			}
			// The bytes fetched from disk are bounded near upTo, not by maxBytes.
			l.mu.RLock()
			bound := l.active().upperBound(upTo)
			pos, _ := l.active().findPos(l.fs, from)
			l.mu.RUnlock()
			if end := pos + int64(len(data)); bound < end || bound > end+int64(cfg.IndexIntervalBytes)+1024 {
				t.Fatalf("Read(%d, upTo %d): data ends at %d, read bound %d", from, upTo, end, bound)
			}
		}
	}
}

// Retention and DeleteRecordsBefore never move the log start past the
// bound (the caller's high watermark): only segments entirely below it go.
func TestRetentionBoundedByHighWatermark(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.RetentionBytes = 0
	l := openTest(t, dir, cfg)
	base := time.Now().Add(-time.Hour).UnixMilli()
	for i := 0; i < 300; i++ {
		mustAppend(t, l, seqBatch(t, i*5, 5, 40, base+int64(i)*1000), 1)
	}
	if len(l.segs) < 3 {
		t.Fatalf("want several segments, have %d", len(l.segs))
	}
	hw := l.segs[2].base + 1 // inside the third segment
	if err := l.EnforceRetention(time.Now(), hw); err != nil {
		t.Fatal(err)
	}
	if start := l.LogStartOffset(); start != l.segs[0].base || start > hw || l.segs[0].next <= hw {
		t.Fatalf("log start %d (first segment %d-%d) with bound %d", start, l.segs[0].base, l.segs[0].next, hw)
	}
	if err := l.EnforceRetention(time.Now(), 0); err != nil || l.LogStartOffset() > hw {
		t.Fatalf("bound 0 moved the start to %d (%v)", l.LogStartOffset(), err)
	}
	// Everything below the bound: the active segment goes too (rolled first).
	end := l.LogEndOffset()
	if err := l.EnforceRetention(time.Now(), end); err != nil || l.LogStartOffset() != end {
		t.Fatalf("start %d after retention bounded at the end %d (%v)", l.LogStartOffset(), end, err)
	}
	mustAppend(t, l, seqBatch(t, 1500, 10, 10, base), 1)
	if err := l.DeleteRecordsBefore(1505, 1503); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("DeleteRecordsBefore past the bound: %v", err)
	}
	if err := l.DeleteRecordsBefore(1503, 1503); err != nil || l.LogStartOffset() != 1503 {
		t.Fatalf("DeleteRecordsBefore at the bound: start %d, %v", l.LogStartOffset(), err)
	}
}
