package storage

import (
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// benchBatch is a ~16 KiB batch of 100-byte records.
func benchBatch(b *testing.B) ([]byte, int) {
	b.Helper()
	n := 0
	var batch []byte
	for {
		vals := make([][]byte, n+1)
		for i := range vals {
			vals[i] = make([]byte, 100)
		}
		next := makeBatch(b, batchSpec{values: vals, timestamp: time.Now().UnixMilli()})
		if len(next) > 16<<10 {
			return batch, n
		}
		batch, n = next, n+1
	}
}

func benchConfig() Config {
	c := DefaultConfig()
	c.SegmentBytes = 256 << 20
	c.Fsync = FsyncNever
	c.RetentionMs = -1
	return c
}

// syncCountFS counts fsyncs by file suffix (.log, .index, .timeindex, ...).
type syncCountFS struct {
	mu sync.Mutex
	n  map[string]int64
}

func (fs *syncCountFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	f, err := osFS{}.OpenFile(name, flag, perm)
	if err != nil {
		return f, err
	}
	return &countingFile{file: f, fs: fs, suffix: filepath.Ext(name)}, nil
}

// take returns the counts so far and starts again from zero.
func (fs *syncCountFS) take() map[string]int64 {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := fs.n
	fs.n = map[string]int64{}
	return n
}

type countingFile struct {
	file
	fs     *syncCountFS
	suffix string
}

func (f *countingFile) Sync() error {
	f.fs.mu.Lock()
	if f.fs.n == nil {
		f.fs.n = map[string]int64{}
	}
	f.fs.n[f.suffix]++
	f.fs.mu.Unlock()
	return f.file.Sync()
}

func reportRecords(b *testing.B, perOp int) {
	b.ReportMetric(float64(perOp)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkAppend(b *testing.B) {
	batch, n := benchBatch(b)
	l, err := Open(b.TempDir(), benchConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.SetBytes(int64(len(batch)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Append(batch, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRecords(b, n)
}

// BenchmarkAppendFsyncAlways: each goroutine appends a batch and Syncs
// before "acking", as the produce path does with FsyncAlways. fsyncs/op
// below 1 is group commit at work.
func BenchmarkAppendFsyncAlways(b *testing.B) {
	for _, tc := range []struct {
		name        string
		parallelism int // x GOMAXPROCS goroutines
	}{{"serial", 0}, {"8goroutines", 8}} {
		b.Run(tc.name, func(b *testing.B) {
			batch, n := benchBatch(b)
			cfg := benchConfig()
			cfg.Fsync = FsyncAlways
			fs := &syncCountFS{}
			l, err := openLog(b.TempDir(), cfg, nil, fs)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			b.SetBytes(int64(len(batch)))
			fs.take()
			b.ResetTimer()
			if tc.parallelism == 0 {
				for i := 0; i < b.N; i++ {
					if _, err := l.Append(batch, 1); err != nil {
						b.Fatal(err)
					}
					if err := l.Sync(); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				procs := max(1, tc.parallelism/max(1, runtimeProcs()))
				b.SetParallelism(procs)
				b.RunParallel(func(pb *testing.PB) {
					own := append([]byte(nil), batch...) // Append rewrites the header
					for pb.Next() {
						if _, err := l.Append(own, 1); err != nil {
							b.Error(err)
							return
						}
						if err := l.Sync(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.StopTimer()
			reportRecords(b, n)
			b.ReportMetric(float64(fs.take()[logSuffix])/float64(b.N), "fsyncs/op")
		})
	}
}

// BenchmarkReadTail: a consumer following the producer, reading each batch
// right after it is appended (the cached-position fast path).
func BenchmarkReadTail(b *testing.B) {
	batch, n := benchBatch(b)
	l, err := Open(b.TempDir(), benchConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.SetBytes(int64(len(batch)))
	b.ResetTimer()
	var off int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if _, err := l.Append(batch, 1); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		data, err := l.Read(off, 1<<20, l.LogEndOffset())
		if err != nil || len(data) != len(batch) {
			b.Fatalf("read %d bytes: %v", len(data), err)
		}
		off += int64(n)
	}
	b.StopTimer()
	reportRecords(b, n)
}

// BenchmarkReadSequential: catching up through 64 MiB already on disk with
// 1 MiB fetches.
func BenchmarkReadSequential(b *testing.B) {
	batch, _ := benchBatch(b)
	cfg := benchConfig()
	cfg.SegmentBytes = 16 << 20
	l, err := Open(b.TempDir(), cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for l.Size() < 64<<20 {
		if _, err := l.Append(batch, 1); err != nil {
			b.Fatal(err)
		}
	}
	end := l.LogEndOffset()
	var off int64
	b.ResetTimer()
	var read int64
	for i := 0; i < b.N; i++ {
		if off >= end {
			off = 0
		}
		data, err := l.Read(off, 1<<20, end)
		if err != nil || len(data) == 0 {
			b.Fatalf("read at %d: %d bytes, %v", off, len(data), err)
		}
		read += int64(len(data))
		hs, _ := parseBatches(data[len(data)-len(batch):], 0, false)
		off = hs[0].LastOffset() + 1
	}
	b.StopTimer()
	b.ReportMetric(float64(read)/1e6/b.Elapsed().Seconds(), "MB/s")
}

// BenchmarkRecovery: Open after a crash (no clean-shutdown marker) of a log
// whose active segment holds 256 MiB, i.e. a full CRC scan.
func BenchmarkRecovery(b *testing.B) {
	batch, _ := benchBatch(b)
	cfg := benchConfig()
	cfg.SegmentBytes = 1 << 30
	dir := b.TempDir()
	l, err := Open(dir, cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	for l.Size() < 256<<20 {
		if _, err := l.Append(batch, 1); err != nil {
			b.Fatal(err)
		}
	}
	size := l.Size()
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = os.Remove(filepath.Join(dir, cleanShutdownFile))
		l, err := Open(dir, cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		if l.Size() != size {
			b.Fatalf("recovered %d of %d bytes", l.Size(), size)
		}
		b.StopTimer()
		_ = l.Close()
		b.StartTimer()
	}
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
