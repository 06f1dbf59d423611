package storage

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// batchPositions returns the start position of every batch in a .log file.
func batchPositions(t *testing.T, path string) []int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for p := 0; p+batchLengthEnd <= len(data); {
		out = append(out, int64(p))
		p += int(binary.BigEndian.Uint32(data[p+8:])) + batchLengthEnd
	}
	return out
}

func TestRecoveryTornTails(t *testing.T) {
	const batches, per = 60, 5 // 300 records, one batch = 5 records
	cfg := testConfig()
	cfg.SegmentBytes = 1 << 20 // one segment: it is the active one
	active := "00000000000000000000"

	cases := []struct {
		name string
		// damage corrupts the closed log; it returns how many whole batches
		// must survive.
		damage func(t *testing.T, dir string, pos []int64) int
		// crashOnly: damage before the last index entry is found only by
		// the full scan that follows an unclean shutdown.
		crashOnly bool
	}{
		{"clean", func(t *testing.T, dir string, pos []int64) int { return batches }, false},
		{"truncated mid batch", func(t *testing.T, dir string, pos []int64) int {
			truncate(t, filepath.Join(dir, active+logSuffix), pos[batches-1]+30)
			return batches - 1
		}, false},
		{"truncated mid header", func(t *testing.T, dir string, pos []int64) int {
			truncate(t, filepath.Join(dir, active+logSuffix), pos[batches-1]+5)
			return batches - 1
		}, false},
		{"garbage appended", func(t *testing.T, dir string, pos []int64) int {
			appendBytes(t, filepath.Join(dir, active+logSuffix), bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 100))
			return batches
		}, false},
		{"zeros appended", func(t *testing.T, dir string, pos []int64) int {
			appendBytes(t, filepath.Join(dir, active+logSuffix), make([]byte, 4096))
			return batches
		}, false},
		{"plausible header appended", func(t *testing.T, dir string, pos []int64) int {
			b := seqBatch(t, 0, 3, 40, 1)
			binary.BigEndian.PutUint64(b, batches*per) // right offset, body cut
			appendBytes(t, filepath.Join(dir, active+logSuffix), b[:len(b)-3])
			return batches
		}, false},
		{"flipped byte in last batch", func(t *testing.T, dir string, pos []int64) int {
			flip(t, filepath.Join(dir, active+logSuffix), pos[batches-1]+70)
			return batches - 1
		}, false},
		{"flipped byte in middle batch", func(t *testing.T, dir string, pos []int64) int {
			flip(t, filepath.Join(dir, active+logSuffix), pos[20]+80)
			return 20
		}, true},
		{"flipped length of middle batch", func(t *testing.T, dir string, pos []int64) int {
			flip(t, filepath.Join(dir, active+logSuffix), pos[33]+9)
			return 33
		}, true},
		{"indexes deleted", func(t *testing.T, dir string, pos []int64) int {
			remove(t, filepath.Join(dir, active+indexSuffix))
			remove(t, filepath.Join(dir, active+timeIndexSuffix))
			return batches
		}, false},
		{"index garbage", func(t *testing.T, dir string, pos []int64) int {
			writeFile(t, filepath.Join(dir, active+indexSuffix), bytes.Repeat([]byte{0xff}, 64))
			return batches
		}, false},
		{"index torn entry", func(t *testing.T, dir string, pos []int64) int {
			p := filepath.Join(dir, active+indexSuffix)
			truncate(t, p, fileSize(t, p)-3)
			return batches
		}, false},
		{"index points at wrong offset", func(t *testing.T, dir string, pos []int64) int {
			p := filepath.Join(dir, active+indexSuffix)
			b, _ := os.ReadFile(p)
			last := len(b) - indexEntrySize
			binary.BigEndian.PutUint32(b[last:], binary.BigEndian.Uint32(b[last:])+1)
			writeFile(t, p, b)
			return batches
		}, false},
		{"index ahead of torn log", func(t *testing.T, dir string, pos []int64) int {
			// The log lost its tail but the index still points into it.
			truncate(t, filepath.Join(dir, active+logSuffix), pos[10]+100)
			return 10
		}, true},
		{"time index garbage", func(t *testing.T, dir string, pos []int64) int {
			writeFile(t, filepath.Join(dir, active+timeIndexSuffix), []byte{1, 2, 3})
			return batches
		}, false},
		{"empty log file", func(t *testing.T, dir string, pos []int64) int {
			truncate(t, filepath.Join(dir, active+logSuffix), 0)
			return 0
		}, false},
	}
	for _, tc := range cases {
		for _, crash := range []bool{true, false} {
			if !crash && tc.crashOnly {
				continue
			}
			name := tc.name + "/clean"
			if crash {
				name = tc.name + "/crash"
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				l, err := Open(dir, cfg, testLogger(t))
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < batches; i++ {
					mustAppend(t, l, seqBatch(t, i*per, per, 40, int64(1000+i)), 1)
				}
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				pos := batchPositions(t, filepath.Join(dir, active+logSuffix))
				if len(pos) != batches {
					t.Fatalf("%d batches on disk", len(pos))
				}
				keep := tc.damage(t, dir, pos)
				if crash {
					remove(t, filepath.Join(dir, cleanShutdownFile))
				}

				l = openTest(t, dir, cfg)
				if l.LogEndOffset() != int64(keep*per) {
					t.Fatalf("log end %d, want %d", l.LogEndOffset(), keep*per)
				}
				wantSeq(t, values(readAllBatches(t, l, 777)), 0, keep*per)
				wantSize := int64(0)
				if keep > 0 {
					wantSize = pos[keep-1] + (pos[1] - pos[0]) // equal-size batches
				}
				if got := fileSize(t, filepath.Join(dir, active+logSuffix)); got != wantSize || l.Size() != wantSize {
					t.Fatalf("log file %d bytes, Size %d, want %d", got, l.Size(), wantSize)
				}
				if keep > 0 {
					lastMax := int64(1000 + keep - 1 + per - 1)
					if off, ts, found, _ := l.OffsetForTimestamp(lastMax); !found || off != int64((keep-1)*per) || ts != lastMax {
						t.Fatalf("OffsetForTimestamp after recovery: %d %d %v", off, ts, found)
					}
				}
				checkIndexFiles(t, dir, active)
				// The recovered log takes appends and survives another restart.
				mustAppend(t, l, seqBatch(t, keep*per, per, 40, 5000), 1)
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				l = openTest(t, dir, cfg)
				wantSeq(t, values(readAllBatches(t, l, 1<<20)), 0, (keep+1)*per)
			})
		}
	}
}

func TestRecoveryRebuildsInactiveIndexes(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 4 << 10
	l := openTest(t, dir, cfg)
	for i := 0; i < 100; i++ {
		mustAppend(t, l, seqBatch(t, i*5, 5, 40, int64(i*10)), 1)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+logSuffix))
	if len(segs) < 4 {
		t.Fatalf("%d segments", len(segs))
	}
	first := segs[0][:len(segs[0])-len(logSuffix)]
	second := segs[1][:len(segs[1])-len(logSuffix)]
	remove(t, first+indexSuffix)
	remove(t, first+timeIndexSuffix)
	writeFile(t, second+indexSuffix, []byte{1, 2, 3})
	// An orphan index whose .log is gone must be cleaned up.
	writeFile(t, filepath.Join(dir, "00000000000099999999"+indexSuffix), nil)
	writeFile(t, filepath.Join(dir, startCheckpoint+tmpSuffix), []byte("junk"))

	l = openTest(t, dir, cfg)
	wantSeq(t, values(readAllBatches(t, l, 1<<20)), 0, 500)
	for _, off := range []int64{3, 40, 77, 120} {
		data, err := l.Read(off, 1, 500)
		if err != nil || decodeBatches(t, data)[0].baseOffset != off/5*5 {
			t.Fatalf("Read(%d): %v", off, err)
		}
	}
	if off, _, found, _ := l.OffsetForTimestamp(125); !found || off != 65 {
		t.Fatalf("OffsetForTimestamp(125) = %d %v", off, found)
	}
	if _, err := os.Stat(first + indexSuffix); err != nil {
		t.Fatal("index not rebuilt")
	}
	checkIndexFiles(t, dir, filepath.Base(first))
	checkIndexFiles(t, dir, filepath.Base(second))
	if _, err := os.Stat(filepath.Join(dir, "00000000000099999999"+indexSuffix)); !os.IsNotExist(err) {
		t.Fatal("orphan index kept")
	}
	if _, err := os.Stat(filepath.Join(dir, startCheckpoint+tmpSuffix)); !os.IsNotExist(err) {
		t.Fatal("temp file kept")
	}
}

// checkIndexFiles verifies that every offset-index entry of a segment points
// at a batch starting at the offset it claims.
func checkIndexFiles(t *testing.T, dir, prefix string) {
	t.Helper()
	base, _ := parseSegmentName(prefix + logSuffix)
	logData, err := os.ReadFile(filepath.Join(dir, prefix+logSuffix))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := os.ReadFile(filepath.Join(dir, prefix+indexSuffix))
	if err != nil {
		t.Fatal(err)
	}
	if len(idx)%indexEntrySize != 0 {
		t.Fatalf("index of %d bytes", len(idx))
	}
	for i := 0; i < len(idx); i += indexEntrySize {
		rel, pos := binary.BigEndian.Uint32(idx[i:]), binary.BigEndian.Uint32(idx[i+4:])
		if int(pos)+8 > len(logData) || int64(binary.BigEndian.Uint64(logData[pos:])) != base+int64(rel) {
			t.Fatalf("index entry %d (%d, %d) does not match the log", i/indexEntrySize, rel, pos)
		}
	}
	if tidx, err := os.ReadFile(filepath.Join(dir, prefix+timeIndexSuffix)); err != nil || len(tidx)%timeIndexEntrySize != 0 {
		t.Fatalf("time index: %d bytes, %v", len(tidx), err)
	}
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func flip(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x55
	if _, err := f.WriteAt(b[:], at); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readRP reads the recovery point checkpoint of the log in dir (-1: none).
func readRP(t *testing.T, dir string) int64 {
	t.Helper()
	rp, err := readStartCheckpoint(filepath.Join(dir, recoveryCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// TestRecoveryRechecksSegmentsAboveRecoveryPoint: after an unclean stop,
// rolled segments holding offsets at or above the recovery point are
// CRC-checked like the active one (they may not have been fsynced); the log
// is cut at the first bad batch and the segments after it are dropped.
func TestRecoveryRechecksSegmentsAboveRecoveryPoint(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 4 << 10
	l := openTest(t, dir, cfg)
	for i := 0; i < 40; i++ {
		mustAppend(t, l, seqBatch(t, i*5, 5, 40, int64(i*10)), 1)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.checkpointRecoveryPoint(); err != nil {
		t.Fatal(err)
	}
	rp := l.LogEndOffset()
	if got := readRP(t, dir); got != rp {
		t.Fatalf("recovery point checkpoint %d, want %d", got, rp)
	}
	for i := 40; i < 120; i++ { // several more segments, never fsynced
		mustAppend(t, l, seqBatch(t, i*5, 5, 40, int64(i*10)), 1)
	}
	var bad *segment // a rolled segment wholly above the recovery point
	for i, s := range l.segs[:len(l.segs)-2] {
		if s.base >= rp && i > 0 {
			bad = s
			break
		}
	}
	if bad == nil {
		t.Fatalf("no rolled segment above the recovery point %d", rp)
	}
	badBase, badPrefix := bad.base, bad.prefix
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// As if the process had died before Close: the checkpoint still says
	// rp, no clean marker, and a rolled segment's tail never reached disk.
	if err := writeRecoveryCheckpoint(filepath.Join(dir, recoveryCheckpoint), rp); err != nil {
		t.Fatal(err)
	}
	remove(t, filepath.Join(dir, cleanShutdownFile))
	pos := batchPositions(t, badPrefix+logSuffix)
	flip(t, badPrefix+logSuffix, pos[2]+30) // inside the third batch's CRC-covered body
	l = openTest(t, dir, cfg)
	want := badBase + 2*5
	if l.LogEndOffset() != want {
		t.Fatalf("log end %d after recovery, want %d (cut at the corrupt batch)", l.LogEndOffset(), want)
	}
	wantSeq(t, values(readAllBatches(t, l, 1<<20)), 0, int(want))
	if l.active().base != badBase {
		t.Fatalf("active segment %d, want %d (later segments dropped)", l.active().base, badBase)
	}
	mustAppend(t, l, seqBatch(t, int(want), 5, 40, 0), 1)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readRP(t, dir); got != want+5 {
		t.Fatalf("recovery point after Close %d, want %d", got, want+5)
	}
}

// TestRecoveryPointFollowsTruncation: a truncation lowers the checkpointed
// recovery point at once, so that rewritten offsets are rechecked after a
// crash.
func TestRecoveryPointFollowsTruncation(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, testConfig())
	for i := 0; i < 100; i++ {
		mustAppend(t, l, seqBatch(t, i*5, 5, 40, 0), 1)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.checkpointRecoveryPoint(); err != nil || readRP(t, dir) != 500 {
		t.Fatalf("checkpoint %d, %v; want 500", readRP(t, dir), err)
	}
	if err := l.TruncateTo(250); err != nil {
		t.Fatal(err)
	}
	if got := readRP(t, dir); got != 250 {
		t.Fatalf("recovery point %d after truncation to 250", got)
	}
}

// TestActiveIndexFilesAfterTruncate: an active segment whose index files
// hold entries that a truncation dropped in memory gets whole, correct
// files at close, with the entries appended after the cut.
func TestActiveIndexFilesAfterTruncate(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 1 << 20
	cfg.IndexIntervalBytes = 1 // every batch adds index entries
	l := openTest(t, dir, cfg)
	for i := 0; i < 20; i++ {
		mustAppend(t, l, seqBatch(t, i*2, 2, 50, int64(i)), 0)
	}
	if err := l.Close(); err != nil { // the files now hold 20 batches' entries
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg)
	if err := l.TruncateTo(10); err != nil {
		t.Fatal(err)
	}
	for i := 5; i < 8; i++ { // fewer entries than before the cut
		mustAppend(t, l, seqBatch(t, i*2, 2, 50, int64(100+i)), 0)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	checkIndexFiles(t, dir, "00000000000000000000")
	l = openTest(t, dir, cfg)
	wantSeq(t, values(readAllBatches(t, l, 1<<20)), 0, 16)
}

// TestCloseSyncsOnlyChangedFiles: Close fsyncs a segment or index file only
// if it was written since it was last fsynced, or if the log was opened
// after an unclean stop (its files may hold a crashed process's unsynced
// writes). The clean-shutdown marker is renamed, not recreated, across an
// open and a clean close.
func TestCloseSyncsOnlyChangedFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.IndexIntervalBytes = 1 // an index entry per batch
	fs := &syncCountFS{}
	open := func() *Log {
		t.Helper()
		l, err := openLog(dir, cfg, testLogger(t), fs)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	closeCounting := func(l *Log) map[string]int64 {
		t.Helper()
		fs.take()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		return fs.take()
	}
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}

	l := open()
	mustAppend(t, l, seqBatch(t, 0, 5, 40, 0), 1)
	if n := closeCounting(l); n[logSuffix] == 0 || n[indexSuffix] == 0 || n[timeIndexSuffix] == 0 {
		t.Fatalf("close after writes fsynced %v, want every file", n)
	}

	l = open()
	if exists(cleanShutdownFile) || !exists(openMarkerFile) {
		t.Fatalf("while open: marker %v, open marker %v; want the marker renamed", exists(cleanShutdownFile), exists(openMarkerFile))
	}
	if n := closeCounting(l); n[logSuffix]+n[indexSuffix]+n[timeIndexSuffix] != 0 {
		t.Fatalf("close of an unchanged, cleanly opened log fsynced %v, want nothing", n)
	}
	if !exists(cleanShutdownFile) || exists(openMarkerFile) {
		t.Fatalf("after close: marker %v, open marker %v; want the marker back", exists(cleanShutdownFile), exists(openMarkerFile))
	}

	l = open()
	mustAppend(t, l, seqBatch(t, 5, 5, 40, 0), 1)
	if n := closeCounting(l); n[logSuffix] == 0 || n[indexSuffix] == 0 {
		t.Fatalf("close after a write fsynced %v, want the segment and its index", n)
	}

	remove(t, filepath.Join(dir, cleanShutdownFile)) // as if the process had died
	l = open()
	if n := closeCounting(l); n[logSuffix] == 0 || n[indexSuffix] == 0 || n[timeIndexSuffix] == 0 {
		t.Fatalf("close of a log opened after an unclean stop fsynced %v, want every file", n)
	}
	if !exists(cleanShutdownFile) {
		t.Fatal("no clean-shutdown marker after closing a log opened uncleanly")
	}
	l = open()
	wantSeq(t, values(readAllBatches(t, l, 1<<20)), 0, 10)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
