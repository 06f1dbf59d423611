package storage

import (
	"os"
	"strings"
	"sync"
	"testing"
)

// writebackFS records the writeback ranges asked of .log files, passing
// them on to the real file so that the kernel call runs too.
type writebackFS struct {
	mu     sync.Mutex
	ranges map[string][][2]int64 // file name → [off, end) in call order
	errs   []error
}

func (fs *writebackFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	f, err := osFS{}.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, logSuffix) {
		return f, err
	}
	return &writebackFile{File: f.(*os.File), fs: fs, name: name}, nil
}

func (fs *writebackFS) calls() map[string][][2]int64 {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := make(map[string][][2]int64, len(fs.ranges))
	for k, v := range fs.ranges {
		out[k] = append([][2]int64(nil), v...)
	}
	return out
}

// waitWritebacks returns once the writebacks handed to goroutines so far
// have finished: it takes every slot, then gives them back.
func waitWritebacks() {
	for range cap(writebackSlots) {
		writebackSlots <- struct{}{}
	}
	for range cap(writebackSlots) {
		<-writebackSlots
	}
}

type writebackFile struct {
	*os.File
	fs   *writebackFS
	name string
}

func (f *writebackFile) StartWriteback(off, n int64) error {
	size := int64(-1)
	if st, err := f.File.Stat(); err == nil {
		size = st.Size()
	}
	err := osWriteback{f.File}.StartWriteback(off, n)
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.ranges == nil {
		f.fs.ranges = make(map[string][][2]int64)
	}
	f.fs.ranges[f.name] = append(f.fs.ranges[f.name], [2]int64{off, off + n})
	if err != nil {
		f.fs.errs = append(f.fs.errs, err)
	}
	if off+n > size {
		f.fs.errs = append(f.fs.errs, os.ErrInvalid) // asked past what was written
	}
	return err
}

// TestWritebackSpreadUnderInterval: under FsyncInterval an appending log
// hands each writebackBytes of new data to the kernel as it is written, in
// ranges that follow each other without gap or overlap and never reach
// past what was written; the other policies never do.
func TestWritebackSpreadUnderInterval(t *testing.T) {
	for _, policy := range []FsyncPolicy{FsyncInterval, FsyncNever, FsyncAlways} {
		t.Run(string(policy), func(t *testing.T) {
			cfg := testConfig()
			cfg.SegmentBytes = 3 << 20
			cfg.Fsync = policy
			fs := &writebackFS{}
			l, err := openLog(t.TempDir(), cfg, testLogger(t), fs)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			for i := 0; l.Size() < 7<<20; i++ {
				mustAppend(t, l, seqBatch(t, i*16, 16, 4000, int64(i)), 0) // 64 KB batches
				waitWritebacks()
			}
			calls := fs.calls()
			if len(fs.errs) > 0 {
				t.Fatalf("writeback errors: %v", fs.errs)
			}
			if policy != FsyncInterval {
				if len(calls) > 0 {
					t.Fatalf("writeback under %s: %v", policy, calls)
				}
				return
			}
			// 7 MiB over segments of 3 MiB: every segment gets its
			// first two MiB started at least.
			if len(calls) < 3 {
				t.Fatalf("writeback in %d segments, want 3: %v", len(calls), calls)
			}
			for name, rs := range calls {
				var next int64
				for _, r := range rs {
					if r[0] != next || r[1]-r[0] < writebackBytes {
						t.Fatalf("%s: ranges %v: want contiguous from 0, each at least %d bytes", name, rs, writebackBytes)
					}
					next = r[1]
				}
			}
		})
	}
}

// TestWritebackAfterTruncate: a truncation below the started range makes
// the next ranges start from the new end, not past the file's data.
func TestWritebackAfterTruncate(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 64 << 20
	cfg.Fsync = FsyncInterval
	fs := &writebackFS{}
	l, err := openLog(t.TempDir(), cfg, testLogger(t), fs)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	i := 0
	appendTo := func(size int64) {
		for ; l.Size() < size; i++ {
			mustAppend(t, l, seqBatch(t, i*16, 16, 4000, int64(i)), 0)
			waitWritebacks() // so that no kick finds the slots taken
		}
	}
	appendTo(2<<20 + 1)
	// The first MiB was handed over; cut below it, to about 0.65 MB.
	if err := l.TruncateTo(10 * 16); err != nil {
		t.Fatal(err)
	}
	i = 10
	cut := l.Size()
	appendTo(cut + 2*writebackBytes + 256<<10)
	if len(fs.errs) > 0 {
		t.Fatalf("writeback errors: %v", fs.errs)
	}
	for _, rs := range fs.calls() {
		if len(rs) != 3 || rs[0] != [2]int64{0, rs[0][1]} || rs[1][0] != cut || rs[2][0] != rs[1][1] {
			t.Fatalf("ranges %v: want one from 0, then contiguous ones from the truncation point %d", rs, cut)
		}
	}
}

// TestCachedFileWriteback: a cached descriptor starts its writeback, also
// after the cache evicted it, and a closed one answers an error rather than
// touching whatever now has its number.
func TestCachedFileWriteback(t *testing.T) {
	c := NewFileCache(minOpenFiles)
	dir := t.TempDir()
	f, err := c.OpenFile(segmentPrefix(dir, 0)+logSuffix, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 2*writebackBytes), 0); err != nil {
		t.Fatal(err)
	}
	w, ok := f.(writebacker)
	if !ok {
		t.Fatalf("%T cannot start a writeback", f)
	}
	if err := w.StartWriteback(0, writebackBytes); err != nil {
		t.Fatalf("StartWriteback: %v", err)
	}
	for i := range minOpenFiles { // f is the least recently used: evicted
		o, err := c.OpenFile(segmentPrefix(dir, int64(i+1))+logSuffix, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
	}
	if st := c.Stats(); st.Open > minOpenFiles {
		t.Fatalf("cache holds %d descriptors, want at most %d", st.Open, minOpenFiles)
	}
	opens := c.Stats().Opens
	if err := w.StartWriteback(writebackBytes, writebackBytes); err != nil {
		t.Fatalf("StartWriteback after eviction: %v", err)
	}
	if got := c.Stats().Opens; got != opens+1 {
		t.Fatalf("descriptors opened: %d, want %d (f reopened)", got, opens+1)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.StartWriteback(0, writebackBytes); err == nil {
		t.Fatal("StartWriteback on a closed file succeeded")
	}
}
