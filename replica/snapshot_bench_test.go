package replica

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
)

// BenchmarkOpenPartitionLongLog opens a partition holding 1 M idempotent
// records (100 000 batches of 10, from 100 producers) in about 100
// segments, after a clean close: with the snapshot the close took (nothing
// to replay), with only the roll snapshots (as after a crash: the active
// segment is replayed), and with no snapshot (the whole log is replayed,
// as before snapshots existed).
//
//	go test -run '^$' -bench OpenPartitionLongLog -benchtime 5x ./replica/
func BenchmarkOpenPartitionLongLog(b *testing.B) {
	const (
		producers = 100
		batches   = 100_000
		perBatch  = 10
	)
	dir := b.TempDir()
	s := testSettings()
	s.Log.SegmentBytes = 180_000 // ~100 segments of ~180 bytes batches
	logger := slog.New(slog.DiscardHandler)
	p, err := openPartition(dir, "bench", 0, self, s, nil, nil, logger)
	if err != nil {
		b.Fatal(err)
	}
	p.BecomeLeader(1, []int32{self})
	vals := make([]string, perBatch)
	for i := range vals {
		vals[i] = fmt.Sprintf("value-%d", i)
	}
	for i := range batches {
		pid := int64(1000 + i%producers)
		seq := int32(i/producers) * perBatch
		if _, err := p.Produce(context.Background(), batch(pid, 0, seq, vals...), 1); err != nil {
			b.Fatal(err)
		}
	}
	leo := p.LogEndOffset()
	if err := p.close(false); err != nil {
		b.Fatal(err)
	}
	saved := map[int64][]byte{}
	offs, err := listSnapshots(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, off := range offs {
		if saved[off], err = os.ReadFile(snapshotPath(dir, off)); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%d records in %d segments; snapshots at %v", leo, countSegments(b, dir), offs)
	for _, c := range []struct {
		name string
		keep func(off int64) bool
	}{
		{"snapshot-at-log-end", func(int64) bool { return true }},
		{"roll-snapshots-only", func(off int64) bool { return off != leo }},
		{"no-snapshot", func(int64) bool { return false }},
	} {
		b.Run(c.name, func(b *testing.B) {
			var replayed int64
			for range b.N {
				b.StopTimer()
				restoreSnapshots(b, dir, saved, c.keep)
				b.StartTimer()
				p, err := openPartition(dir, "bench", 0, self, s, nil, nil, logger)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				replayed = leo - p.replayedFrom
				if e := p.Producers(); len(e) != producers || e[0].LastSequence != batches/producers*perBatch-1 {
					b.Fatalf("producer state after open: %d producers, first %+v", len(e), e[0])
				}
				if err := p.close(false); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(replayed), "offsets-replayed")
		})
	}
}

// restoreSnapshots leaves exactly the saved snapshots keep accepts in dir.
func restoreSnapshots(b *testing.B, dir string, saved map[int64][]byte, keep func(int64) bool) {
	b.Helper()
	offs, err := listSnapshots(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, off := range offs {
		if err := os.Remove(snapshotPath(dir, off)); err != nil {
			b.Fatal(err)
		}
	}
	for off, data := range saved {
		if keep(off) {
			if err := os.WriteFile(snapshotPath(dir, off), data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func countSegments(b *testing.B, dir string) int {
	b.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if len(e.Name()) == 24 && e.Name()[20:] == ".log" {
			n++
		}
	}
	return n
}
