package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// faultFS injects I/O errors into files whose name ends with suffix.
type faultFS struct {
	suffix       string
	failWrite    atomic.Bool // WriteAt writes half, then returns ENOSPC
	failSync     atomic.Bool // Sync returns EIO
	failTruncate atomic.Bool // Truncate returns EIO
}

func (fs *faultFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	f, err := osFS{}.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, fs.suffix) {
		return f, err
	}
	return &faultFile{file: f, fs: fs}, nil
}

type faultFile struct {
	file
	fs *faultFS
}

func (f *faultFile) WriteAt(b []byte, off int64) (int, error) {
	if f.fs.failWrite.Load() {
		n, _ := f.file.WriteAt(b[:len(b)/2], off)
		return n, &os.PathError{Op: "write", Path: "fault", Err: syscall.ENOSPC}
	}
	return f.file.WriteAt(b, off)
}

func (f *faultFile) Sync() error {
	if f.fs.failSync.Load() {
		return &os.PathError{Op: "fsync", Path: "fault", Err: syscall.EIO}
	}
	return f.file.Sync()
}

func (f *faultFile) Truncate(size int64) error {
	if f.fs.failTruncate.Load() {
		return &os.PathError{Op: "truncate", Path: "fault", Err: syscall.EIO}
	}
	return f.file.Truncate(size)
}

func openFault(t *testing.T, dir string, cfg Config, fs *faultFS) *Log {
	t.Helper()
	l, err := openLog(dir, cfg, testLogger(t), fs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// TestWriteFailureRollsBack: a failed data write undoes the append. (Index
// files are not written by appends: TestIndexWriteFailure.)
func TestWriteFailureRollsBack(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.IndexIntervalBytes = 1 // every batch adds index entries
	fs := &faultFS{suffix: logSuffix}
	l := openFault(t, dir, cfg, fs)
	for i := 0; i < 10; i++ {
		mustAppend(t, l, seqBatch(t, i*2, 2, 50, int64(i)), 0)
	}
	size, end := l.Size(), l.LogEndOffset()
	seg := filepath.Join(dir, "00000000000000000000")
	idxSize := fileSize(t, seg+indexSuffix)

	fs.failWrite.Store(true)
	_, err := l.Append(seqBatch(t, 20, 2, 50, 99), 0)
	if !errors.Is(err, ErrStorage) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("want ErrStorage wrapping ENOSPC, got %v", err)
	}
	if l.Size() != size || l.LogEndOffset() != end || fileSize(t, seg+logSuffix) != size || fileSize(t, seg+indexSuffix) != idxSize {
		t.Fatalf("failed append left state: size %d/%d end %d/%d", l.Size(), size, l.LogEndOffset(), end)
	}
	wantSeq(t, values(readAllBatches(t, l, 1<<20)), 0, 20)

	fs.failWrite.Store(false)
	if res := mustAppend(t, l, seqBatch(t, 20, 2, 50, 99), 0); res.BaseOffset != end {
		t.Fatalf("append after recovery from ENOSPC at %d, want %d", res.BaseOffset, end)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg)
	wantSeq(t, values(readAllBatches(t, l, 100)), 0, 22)
	checkIndexFiles(t, dir, "00000000000000000000")
}

// TestIndexWriteFailure: appends keep an active segment's index entries in
// memory, so a failing index file does not fail them; it fails the append
// that rolls the segment (which then stays active, and rolls once the files
// can be written) and Close, which then leaves no clean marker, so the
// next open rebuilds the indexes. Nothing acknowledged is lost.
func TestIndexWriteFailure(t *testing.T) {
	for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
		t.Run(suffix, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig()
			cfg.IndexIntervalBytes = 1 // every batch adds index entries
			fs := &faultFS{suffix: suffix}
			l := openFault(t, dir, cfg, fs)
			fs.failWrite.Store(true)
			n := 0
			for segCount(l) == 1 {
				res, err := l.Append(seqBatch(t, n, 2, 500, int64(n)), 0)
				if err != nil {
					if !errors.Is(err, ErrStorage) || !errors.Is(err, syscall.ENOSPC) {
						t.Fatalf("append %d: want ErrStorage wrapping ENOSPC, got %v", n, err)
					}
					break // the roll could not write the full segment's indexes
				}
				if res.BaseOffset != int64(n) {
					t.Fatalf("append at %d, want %d", res.BaseOffset, n)
				}
				n += 2
			}
			if segCount(l) != 1 || n < 10 {
				t.Fatalf("%d segments after %d records with failing index writes; want the roll refused", segCount(l), n)
			}
			fs.failWrite.Store(false)
			mustAppend(t, l, seqBatch(t, n, 2, 500, int64(n)), 0) // rolls now
			n += 2
			if segCount(l) != 2 {
				t.Fatalf("%d segments once index writes work, want 2", segCount(l))
			}
			checkIndexFiles(t, dir, "00000000000000000000")
			mustAppend(t, l, seqBatch(t, n, 2, 500, int64(n)), 0)
			n += 2
			fs.failWrite.Store(true)
			if err := l.Close(); !errors.Is(err, ErrStorage) {
				t.Fatalf("Close with failing index writes: %v, want ErrStorage", err)
			}
			l = openTest(t, dir, cfg)
			wantSeq(t, values(readAllBatches(t, l, 1<<20)), 0, n)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			for _, seg := range []string{"00000000000000000000", fmt.Sprintf("%020d", n-4)} {
				checkIndexFiles(t, dir, seg)
			}
		})
	}
}

func TestFailedRollbackStopsAppends(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{suffix: logSuffix}
	l := openFault(t, dir, testConfig(), fs)
	mustAppend(t, l, seqBatch(t, 0, 2, 50, 1), 0)
	fs.failWrite.Store(true)
	fs.failTruncate.Store(true)
	if _, err := l.Append(seqBatch(t, 2, 2, 50, 1), 0); !errors.Is(err, ErrStorage) {
		t.Fatalf("append: %v", err)
	}
	fs.failWrite.Store(false)
	fs.failTruncate.Store(false)
	if _, err := l.Append(seqBatch(t, 2, 2, 50, 1), 0); !errors.Is(err, ErrStorage) {
		t.Fatalf("append after failed rollback: %v", err)
	}
	wantSeq(t, values(readAllBatches(t, l, 100)), 0, 2)
	// Reopening cuts the half-written batch.
	_ = l.Close()
	l = openTest(t, dir, testConfig())
	wantSeq(t, values(readAllBatches(t, l, 100)), 0, 2)
}

func TestFsyncFailureIsSticky(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.Fsync = FsyncAlways
	fs := &faultFS{suffix: logSuffix}
	l := openFault(t, dir, cfg, fs)
	mustAppend(t, l, seqBatch(t, 0, 2, 50, 1), 0)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, seqBatch(t, 2, 2, 50, 1), 0)
	fs.failSync.Store(true)
	if err := l.Sync(); !errors.Is(err, ErrStorage) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("want ErrStorage wrapping EIO, got %v", err)
	}
	fs.failSync.Store(false)
	if err := l.Sync(); !errors.Is(err, ErrStorage) {
		t.Fatalf("second Sync after EIO must fail too: %v", err)
	}
	if _, err := l.Append(seqBatch(t, 4, 2, 50, 1), 0); !errors.Is(err, ErrStorage) {
		t.Fatalf("append after EIO: %v", err)
	}
	wantSeq(t, values(readAllBatches(t, l, 100)), 0, 4)
	_ = l.Close()
	l = openTest(t, dir, cfg)
	wantSeq(t, values(readAllBatches(t, l, 100)), 0, 4)
	mustAppend(t, l, seqBatch(t, 4, 2, 50, 1), 0)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
}

// segCount is how many segments l has.
func segCount(l *Log) int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.segs)
}
