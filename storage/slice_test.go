package storage

import (
	"bytes"
	"io"
	"testing"
)

// readSliceBytes reads what a Slice points at, the way sendfile would.
func readSliceBytes(t *testing.T, sl Slice) []byte {
	t.Helper()
	if sl.Len == 0 {
		if sl.File != nil || sl.Data != nil {
			t.Fatal("empty slice with a file or bytes")
		}
		return nil
	}
	if sl.Data != nil {
		if sl.File != nil || int64(len(sl.Data)) != sl.Len || sl.Len > SliceCopyMax {
			t.Fatalf("slice of %d bytes with %d bytes of data and file %v", sl.Len, len(sl.Data), sl.File)
		}
		return sl.Data
	}
	defer sl.File.Close()
	b := make([]byte, sl.Len)
	if _, err := io.ReadFull(io.NewSectionReader(sl.File, sl.Pos, sl.Len), b); err != nil {
		t.Fatalf("read slice: %v", err)
	}
	return b
}

// TestReadSliceMatchesRead checks that the zero-copy path serves exactly the
// bytes Read serves, for many offsets, byte limits and upper bounds, with
// batches of varied sizes straddling index entries.
func TestReadSliceMatchesRead(t *testing.T) {
	bothSliceModes(t, testReadSliceMatchesRead)
}

// bothSliceModes runs test with small ranges read into memory (the
// default) and with every range handed out as a file, as a large one is.
func bothSliceModes(t *testing.T, test func(t *testing.T, copyMax int64)) {
	t.Run("bytes", func(t *testing.T) { test(t, SliceCopyMax) })
	t.Run("sendfile", func(t *testing.T) { test(t, 0) })
}

func testReadSliceMatchesRead(t *testing.T, copyMax int64) {
	cfg := testConfig()
	cfg.SegmentBytes = 1 << 20 // one active segment
	l := openTest(t, t.TempDir(), cfg)
	l.sliceCopyMax = copyMax
	seq := 0
	for i := 0; i < 60; i++ {
		n := 1 + i%5
		mustAppend(t, l, seqBatch(t, seq, n, 40+i*7, int64(1000+i)), 0)
		seq += n
	}
	end := l.LogEndOffset()
	for off := int64(0); off < end; off += 3 {
		for _, maxBytes := range []int{1, 100, 700, 1500, 5000, 1 << 20} {
			for _, upTo := range []int64{off, off + 1, off + 7, end - 2, end} {
				if upTo < off {
					continue
				}
				want, err := l.Read(off, maxBytes, upTo)
				if err != nil {
					t.Fatalf("Read(%d,%d,%d): %v", off, maxBytes, upTo, err)
				}
				sl, ok, err := l.ReadSlice(off, maxBytes, upTo)
				if err != nil || !ok {
					t.Fatalf("ReadSlice(%d,%d,%d): ok=%v err=%v", off, maxBytes, upTo, ok, err)
				}
				if got := readSliceBytes(t, sl); !bytes.Equal(got, want) {
					t.Fatalf("ReadSlice(%d,%d,%d): %d bytes, Read gave %d", off, maxBytes, upTo, len(got), len(want))
				}
			}
		}
	}
	// Sequential consumption through the hint.
	var all []byte
	for off := int64(0); off < end; {
		sl, ok, err := l.ReadSlice(off, 900, end)
		if err != nil || !ok {
			t.Fatalf("sequential ReadSlice(%d): ok=%v err=%v", off, ok, err)
		}
		b := readSliceBytes(t, sl)
		if len(b) == 0 {
			t.Fatalf("no progress at %d", off)
		}
		all = append(all, b...)
		bs := decodeBatches(t, b)
		last := bs[len(bs)-1]
		off = last.baseOffset + int64(len(last.values))
	}
	wantSeq(t, values(decodeBatches(t, all)), 0, seq)
}

func TestReadSliceAcrossOldSegments(t *testing.T) {
	bothSliceModes(t, testReadSliceAcrossOldSegments)
}

func testReadSliceAcrossOldSegments(t *testing.T, copyMax int64) {
	cfg := testConfig() // 16 KiB segments, 512-byte index interval
	dir := t.TempDir()
	l := openTest(t, dir, cfg)
	l.sliceCopyMax = copyMax
	for i := 0; i < 100; i++ {
		mustAppend(t, l, seqBatch(t, i, 1+i%3, 150, int64(i)), 0)
	}
	check := func(l *Log) {
		t.Helper()
		end := l.LogEndOffset()
		for off := int64(0); off < end; off += 5 {
			for _, maxBytes := range []int{1, 600, 3000, 20000} {
				want, err := l.Read(off, maxBytes, end)
				if err != nil {
					t.Fatal(err)
				}
				sl, ok, err := l.ReadSlice(off, maxBytes, end)
				if err != nil || !ok {
					t.Fatalf("ReadSlice(%d,%d): ok=%v err=%v", off, maxBytes, ok, err)
				}
				if got := readSliceBytes(t, sl); !bytes.Equal(got, want) {
					t.Fatalf("ReadSlice(%d,%d): %d bytes, Read gave %d", off, maxBytes, len(got), len(want))
				}
			}
		}
		sl, ok, err := l.ReadSlice(end, 1000, end)
		if !ok || err != nil || sl.Len != 0 {
			t.Fatalf("at the end: %+v ok=%v err=%v", sl, ok, err)
		}
	}
	check(l)
	// After a restart the older segments' indexes are only on disk.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg)
	l.sliceCopyMax = copyMax
	check(l)
}

// TestReadSliceSmallAsBytes: a range up to SliceCopyMax comes as bytes and
// no file; a larger one as a file to sendfile.
func TestReadSliceSmallAsBytes(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 1 << 20
	l := openTest(t, t.TempDir(), cfg)
	for i := 0; i < 200; i++ {
		mustAppend(t, l, seqBatch(t, i*10, 10, 100, int64(i)), 0)
	}
	small, ok, err := l.ReadSlice(0, 4000, l.LogEndOffset())
	if err != nil || !ok || small.File != nil || len(small.Data) == 0 || int64(len(small.Data)) != small.Len {
		t.Fatalf("small range: %d bytes of data, file %v, len %d, ok %v, err %v", len(small.Data), small.File, small.Len, ok, err)
	}
	large, ok, err := l.ReadSlice(0, 1<<20, l.LogEndOffset())
	if err != nil || !ok || large.File == nil || large.Data != nil || large.Len <= SliceCopyMax {
		t.Fatalf("large range: file %v, %d bytes of data, len %d, ok %v, err %v", large.File, len(large.Data), large.Len, ok, err)
	}
	defer large.File.Close()
	if got := readSliceBytes(t, large); !bytes.Equal(got[:small.Len], small.Data) {
		t.Fatal("the small range is not the start of the large one")
	}
}

// TestReadSliceHintsPerReader: two readers taking turns at the tail (the
// followers of an RF 3 partition) each continue from a hint of their own.
func TestReadSliceHintsPerReader(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 1 << 20
	l := openTest(t, t.TempDir(), cfg)
	next := [2]int64{}
	var got [2][]byte
	for i := 0; i < 50; i++ {
		mustAppend(t, l, seqBatch(t, i, 1, 60, int64(i)), 0)
		for r := range next {
			if r == 1 && i%2 == 0 {
				continue // the second reader lags a batch every other round
			}
			if next[r] > 0 && l.hints.find(l.active(), next[r]) == nil {
				t.Fatalf("reader %d: no hint at %d, where its last read stopped", r, next[r])
			}
			end := l.LogEndOffset()
			sl, ok, err := l.ReadSlice(next[r], 1<<20, end)
			if err != nil || !ok {
				t.Fatalf("reader %d at %d: ok %v err %v", r, next[r], ok, err)
			}
			got[r] = append(got[r], readSliceBytes(t, sl)...)
			next[r] = end
		}
	}
	for r := range got {
		wantSeq(t, values(decodeBatches(t, got[r])), 0, 50)
	}
}
