package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// openShared opens a log through files and closes it at cleanup.
func openShared(t testing.TB, dir string, cfg Config, files *FileCache) *Log {
	t.Helper()
	l, err := OpenShared(dir, cfg, testLogger(t), files)
	if err != nil {
		t.Fatalf("OpenShared: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

// openFDs counts the descriptors this process holds on files under dir.
func openFDs(t testing.TB, dir string) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	n := 0
	for _, e := range es {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && len(target) > len(dir) && target[:len(dir)] == dir {
			n++
		}
	}
	return n
}

// Many logs sharing a small FileCache hold at most its limit of descriptors
// while idle, and every log still appends, rolls, reads (copied and as a
// sendfile Slice), fsyncs, closes cleanly and reopens with all its records.
func TestFileCacheBoundsDescriptors(t *testing.T) {
	const logs, limit, rounds = 60, 16, 40
	root := t.TempDir()
	files := NewFileCache(limit)
	cfg := testConfig()
	cfg.SegmentBytes = 4 << 10 // several segments per log
	open := func() []*Log {
		ls := make([]*Log, logs)
		for i := range ls {
			ls[i] = openShared(t, filepath.Join(root, fmt.Sprint(i)), cfg, files)
		}
		return ls
	}
	ls := open()
	for r := 0; r < rounds; r++ {
		for _, l := range ls {
			mustAppend(t, l, seqBatch(t, r, 1, 100, int64(r+1)), 0)
		}
	}
	if n := openFDs(t, root); n > limit {
		t.Fatalf("%d descriptors open under the data dir, limit %d", n, limit)
	}
	if st := files.Stats(); st.Open > limit || st.Opens <= int64(limit) {
		t.Fatalf("stats %+v: want at most %d open and reopens", st, limit)
	}
	for i, l := range ls {
		if err := l.Sync(); err != nil {
			t.Fatalf("log %d: Sync: %v", i, err)
		}
		wantSeq(t, values(readAllBatches(t, l, 1000)), 0, rounds)
		sl, ok, err := l.ReadSlice(l.LogStartOffset(), 1<<20, l.LogEndOffset())
		if err != nil || !ok || sl.Len == 0 {
			t.Fatalf("log %d: ReadSlice = %+v, %v, %v", i, sl, ok, err)
		}
		if sl.File != nil {
			sl.File.Close()
		}
	}
	for i, l := range ls {
		if err := l.Close(); err != nil {
			t.Fatalf("log %d: Close: %v", i, err)
		}
	}
	if st := files.Stats(); st.Open != 0 {
		t.Fatalf("%d descriptors open after every log closed", st.Open)
	}
	for i, l := range open() {
		if !l.CleanShutdown() {
			t.Fatalf("log %d: reopened as not cleanly shut down", i)
		}
		wantSeq(t, values(readAllBatches(t, l, 1000)), 0, rounds)
	}
}

// Concurrent appends, reads and fsyncs on logs whose descriptors are evicted
// under them (run with -race).
func TestFileCacheConcurrentEviction(t *testing.T) {
	const logs, per = 12, 60
	root := t.TempDir()
	files := NewFileCache(minOpenFiles)
	cfg := testConfig()
	cfg.Fsync = FsyncAlways
	var wg sync.WaitGroup
	errc := make(chan error, logs)
	for i := 0; i < logs; i++ {
		l := openShared(t, filepath.Join(root, fmt.Sprint(i)), cfg, files)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < per; r++ {
				if _, err := l.Append(seqBatch(t, r, 1, 200, int64(r+1)), 0); err != nil {
					errc <- err
					return
				}
				if err := l.Sync(); err != nil {
					errc <- err
					return
				}
				if _, err := l.Read(l.LogStartOffset(), 4096, l.LogEndOffset()); err != nil {
					errc <- err
					return
				}
			}
		}()
		t.Cleanup(func() {
			if n := l.LogEndOffset(); n != per && !t.Failed() {
				t.Errorf("log %d ends at %d, want %d", i, n, per)
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

// A closed handle refuses operations; closing it twice is ErrClosed.
func TestFileCacheClosedHandle(t *testing.T) {
	files := NewFileCache(0)
	f, err := files.OpenFile(filepath.Join(t.TempDir(), "x"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("abc"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadAt(make([]byte, 3), 0); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("ReadAt after Close: %v", err)
	}
	if err := f.Close(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if files.Stats().Open != 0 {
		t.Fatal("descriptor left open")
	}
}

// An idle log holds no timer: the interval flush is armed by an append and
// the recovery point checkpoint by a Sync that moved it.
func TestFlushTimersArmOnDemand(t *testing.T) {
	cfg := testConfig()
	cfg.Fsync = FsyncInterval
	cfg.FlushInterval = 5 * time.Millisecond
	l := openTest(t, t.TempDir(), cfg)
	l.rpEvery = 5 * time.Millisecond
	pending := func() (flush, ck bool) {
		l.timers.mu.Lock()
		defer l.timers.mu.Unlock()
		return l.timers.flush != nil, l.timers.ck != nil
	}
	eventually(t, "timers of the new log to settle", func() bool { f, c := pending(); return !f && !c })
	mustAppend(t, l, seqBatch(t, 0, 1, 10, 1), 0)
	eventually(t, "background flush", func() bool { return !l.dirty() })
	eventually(t, "recovery point checkpoint", func() bool {
		rp, err := readStartCheckpoint(filepath.Join(l.dir, recoveryCheckpoint))
		return err == nil && rp == 1
	})
	eventually(t, "timers to go idle", func() bool { f, c := pending(); return !f && !c })
}
