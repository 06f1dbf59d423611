package replica

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strombroker/strom/storage"
)

// openFilesUnder counts this process's descriptors on segment and index
// files under dir (the ones the FileCache bounds; checkpoint writes and
// directory fsyncs hold others for a moment).
func openFilesUnder(tb testing.TB, dir string) int {
	tb.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Skip("no /proc/self/fd")
	}
	n := 0
	for _, e := range es {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(target, dir+"/") &&
			(strings.HasSuffix(target, ".log") || strings.HasSuffix(target, ".index") || strings.HasSuffix(target, ".timeindex")) {
			n++
		}
	}
	return n
}

// openMany opens n partitions (topics of 3) on m concurrently, as the
// reconciler does at start-up, and makes each leader.
func openMany(tb testing.TB, m *Manager, n int, s Settings) []*Partition {
	tb.Helper()
	parts := make([]*Partition, n)
	errc := make(chan error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range parts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			p, err := m.Open(fmt.Sprintf("t%05d", i/3), int32(i%3), s)
			if err != nil {
				errc <- err
				return
			}
			p.BecomeLeader(1, []int32{self})
			parts[i] = p
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		tb.Fatal(err)
	}
	return parts
}

// A broker-sized number of partitions under a descriptor limit far below
// three per partition: every partition still takes produces (acks=1 and
// acks=all) and serves them back, the descriptors held under the data
// directory stay within the limit, and after a restart every record is
// still there.
func TestManyPartitionsBoundedFiles(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 300
	}
	// slack: the limit is soft, exceeded while more files than it are in
	// use at once (here: background interval fsyncs in progress).
	const limit, slack = 128, 8
	dir := t.TempDir()
	s := testSettings()
	s.Log.SegmentBytes = 1 << 20
	s.Log.Fsync = storage.FsyncNever // fsync cost is not what this test is about
	open := func() *Manager {
		m, err := NewManager(Config{NodeID: self, DataDir: dir, MaxOpenFiles: limit})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := open()
	parts := openMany(t, m, n, s)
	for round, acks := range []int16{1, -1} {
		for i, p := range parts {
			produce(t, p, acks, plain(fmt.Sprintf("p%d-r%d", i, round)))
		}
		if got := openFilesUnder(t, dir); got > limit+slack {
			t.Fatalf("round %d: %d descriptors open under the data dir, limit %d", round, got, limit)
		}
	}
	check := func(parts []*Partition) {
		t.Helper()
		for i, p := range parts {
			_, recs := fetchAll(t, p, 0, false)
			want := []string{fmt.Sprintf("p%d-r0", i), fmt.Sprintf("p%d-r1", i)}
			if got := values(recs); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("partition %d: fetched %v, want %v", i, got, want)
			}
		}
	}
	check(parts)
	if got := openFilesUnder(t, dir); got > limit+slack {
		t.Fatalf("after fetching: %d descriptors open under the data dir, limit %d", got, limit)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := openFilesUnder(t, dir); got != 0 {
		t.Fatalf("%d descriptors left open after Close", got)
	}

	m = open()
	defer m.Close()
	parts = openMany(t, m, n, s)
	for i, p := range parts {
		if !p.log.CleanShutdown() {
			t.Fatalf("partition %d reopened as not cleanly shut down", i)
		}
	}
	check(parts)
}

// BenchmarkOpenPartitions measures a broker restart's replica side: it
// creates STROM_BENCH_PARTITIONS partitions (default 10 000, in topics of
// 3) holding a few records each, closes them, and then times reopening all
// of them (concurrently, as the reconciler does) and closing them again.
// It reports seconds per start and stop, the heap in use and the
// descriptors held with every partition open:
//
//	go test -run '^$' -bench BenchmarkOpenPartitions -benchtime 3x ./replica/
func BenchmarkOpenPartitions(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("STROM_BENCH_PARTITIONS")); err == nil && v > 0 {
		n = v
	}
	dir := b.TempDir()
	s := testSettings()
	s.Log.SegmentBytes = 1 << 30
	cfg := Config{NodeID: self, DataDir: dir}
	m, err := NewManager(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for i, p := range openMany(b, m, n, s) {
		if _, err := p.Produce(b.Context(), plain(fmt.Sprintf("p%d", i)), 1); err != nil {
			b.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		b.Fatal(err)
	}
	var open, closeDur time.Duration
	var heap uint64
	var fds int
	b.ResetTimer()
	for range b.N {
		began := time.Now()
		m, err := NewManager(cfg)
		if err != nil {
			b.Fatal(err)
		}
		openMany(b, m, n, s)
		open += time.Since(began)
		b.StopTimer()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = ms.HeapInuse
		fds = openFilesUnder(b, dir)
		b.StartTimer()
		began = time.Now()
		if err := m.Close(); err != nil {
			b.Fatal(err)
		}
		closeDur += time.Since(began)
	}
	b.ReportMetric(open.Seconds()/float64(b.N), "s/start")
	b.ReportMetric(closeDur.Seconds()/float64(b.N), "s/stop")
	b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(fds), "fds")
	b.ReportMetric(float64(n), "partitions")
}

// Concurrent opens of one partition (the reconciler's preopen racing a
// produce path, say) share one replica, and a Remove racing them never
// leaves a replica open on a removed directory.
func TestManagerConcurrentOpenAndRemove(t *testing.T) {
	m := newManager(t, "")
	const openers = 8
	for round := range 20 {
		var wg sync.WaitGroup
		got := make([]*Partition, openers)
		for i := range openers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p, err := m.Open("race", int32(round), testSettings())
				if err != nil {
					t.Errorf("open: %v", err)
				}
				got[i] = p
			}()
		}
		wg.Wait()
		for _, p := range got {
			if p != got[0] {
				t.Fatalf("round %d: concurrent opens returned different replicas", round)
			}
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := m.Remove("race", int32(round)); err != nil {
				t.Errorf("remove: %v", err)
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := m.Open("race", int32(round), testSettings()); err != nil {
				t.Errorf("open during remove: %v", err)
			}
		}()
		wg.Wait()
		if p := m.Get("race", int32(round)); p != nil {
			if _, err := os.Stat(p.log.Dir()); err != nil {
				t.Fatalf("round %d: replica open on a missing directory: %v", round, err)
			}
			p.BecomeLeader(1, []int32{self})
			produce(t, p, 1, plain("x"))
		}
	}
}
