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
		if sl.File != nil {
			t.Fatal("empty slice with a file")
		}
		return nil
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
	cfg := testConfig()
	cfg.SegmentBytes = 1 << 20 // one active segment
	l := openTest(t, t.TempDir(), cfg)
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
	cfg := testConfig() // 16 KiB segments, 512-byte index interval
	dir := t.TempDir()
	l := openTest(t, dir, cfg)
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
	check(openTest(t, dir, cfg))
}
