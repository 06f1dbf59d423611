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
	err := startWriteback(f.File, off, n)
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
