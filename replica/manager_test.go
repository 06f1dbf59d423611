package replica

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strombroker/strom/storage"
)

func TestManagerOpenGetPartitions(t *testing.T) {
	m := newManager(t, "")
	for _, k := range []struct {
		topic string
		index int32
	}{{"b", 1}, {"a", 2}, {"a", 0}, {"a", 10}} {
		if _, err := m.Open(k.topic, k.index, testSettings()); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, p := range m.Partitions() {
		got = append(got, DirName(p.Topic, p.Index))
	}
	if want := []string{"a-0", "a-2", "a-10", "b-1"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Partitions() = %v, want %v", got, want)
	}
	p := m.Get("a", 2)
	if p == nil || p.Topic != "a" || p.Index != 2 {
		t.Fatalf("Get(a, 2) = %+v", p)
	}
	if m.Get("a", 3) != nil || m.Get("c", 0) != nil {
		t.Fatal("Get of a replica never opened must be nil")
	}
	// Opening again returns the same replica.
	again, err := m.Open("a", 2, testSettings())
	if err != nil || again != p {
		t.Fatalf("second Open returned %p (err %v), want %p", again, err, p)
	}
	for _, name := range []string{"a-0", "a-2", "a-10", "b-1"} {
		if fi, err := os.Stat(filepath.Join(m.cfg.DataDir, name)); err != nil || !fi.IsDir() {
			t.Fatalf("partition directory %s: %v", name, err)
		}
	}
}

func TestManagerRemoveDeletesDirectory(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, dir)
	p := openLeader(t, m, "gone", testSettings())
	produce(t, p, 1, plain("a"))
	pdir := filepath.Join(dir, "gone-0")
	if _, err := os.Stat(pdir); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove("gone", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pdir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("directory still there after Remove: %v", err)
	}
	if m.Get("gone", 0) != nil || len(m.Partitions()) != 0 {
		t.Fatal("removed replica still listed")
	}

	// A directory left over by an interrupted deletion is removed too.
	left := filepath.Join(dir, "left-3")
	if err := os.MkdirAll(left, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(left, "00000000000000000000.log"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove("left", 3); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leftover directory not removed: %v", err)
	}
	// Removing what does not exist is not an error.
	if err := m.Remove("never", 0); err != nil {
		t.Fatalf("Remove of an unknown replica: %v", err)
	}
	// The same topic can be created again, empty.
	p = openLeader(t, m, "gone", testSettings())
	if leo := p.LogEndOffset(); leo != 0 {
		t.Fatalf("recreated replica has leo %d", leo)
	}
}

func TestManagerCloseIsIdempotent(t *testing.T) {
	m := newManager(t, "")
	p := openLeader(t, m, "c", testSettings())
	produce(t, p, 1, plain("a"))
	changed := m.Changed()
	for i := range 3 {
		if err := m.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if len(m.Partitions()) != 0 || m.Get("c", 0) != nil {
		t.Fatal("replicas still listed after Close")
	}
	if _, err := p.Produce(testCtx(t), plain("b"), 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("produce on a closed manager's replica: %v, want ErrClosed", err)
	}
	// Close wakes long-polling fetches so they can return.
	select {
	case <-changed:
	default:
		t.Fatal("Close did not wake Changed() waiters")
	}
}

func TestManagerChangedFiresOnProduce(t *testing.T) {
	m := newManager(t, "")
	solo := openLeader(t, m, "solo", testSettings())
	pair := openLeader(t, m, "pair", testSettings(), self, 2)

	ch := m.Changed()
	select {
	case <-ch:
		t.Fatal("Changed() already fired before any produce")
	default:
	}
	produce(t, solo, 1, plain("a"))
	// The high watermark moves inside Produce, so the wake-up has happened
	// by the time it returns.
	select {
	case <-ch:
	default:
		t.Fatal("Changed() did not fire on produce")
	}

	// A fresh channel; a produce that does not move the high watermark
	// (follower not caught up) does not wake fetchers...
	ch = m.Changed()
	produce(t, pair, 1, plain("b"))
	select {
	case <-ch:
		t.Fatal("Changed() fired although the high watermark did not move")
	default:
	}
	// ...the follower catching up does.
	pair.UpdateFollowerLEO(2, 1)
	select {
	case <-ch:
	default:
		t.Fatal("Changed() did not fire when the follower advanced the high watermark")
	}
}

func TestManagerRetentionLoop(t *testing.T) {
	m, err := NewManager(Config{NodeID: self, DataDir: t.TempDir(), RetentionCheckInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	s := testSettings()
	s.Log.SegmentBytes = 1024
	s.Log.RetentionBytes = 2048
	p := openLeader(t, m, "ret", s)
	for i := range 40 {
		produce(t, p, 1, plain(fmt.Sprintf("%0100d", i)))
	}
	waitFor(t, "retention to delete old segments", func() bool { return p.LogStartOffset() > 0 })
	waitFor(t, "the partition to shrink to retention.bytes", func() bool {
		return p.Size() <= s.Log.RetentionBytes+s.Log.SegmentBytes
	})
	if _, err := p.Fetch(0, 1<<20, false); !errors.Is(err, storage.ErrOffsetOutOfRange) {
		t.Fatalf("fetch of a deleted offset: %v", err)
	}
	_, recs := fetchAll(t, p, p.LogStartOffset(), false)
	if len(recs) == 0 || recs[len(recs)-1].offset != 39 {
		t.Fatalf("retained records end at %v, want offset 39", recs[len(recs)-1:])
	}
}

// Retention never deletes at or above the high watermark: records there may
// exist on the leader alone, and their (producer) timestamps can be old.
func TestManagerRetentionStopsAtHighWatermark(t *testing.T) {
	m, err := NewManager(Config{NodeID: self, DataDir: t.TempDir(), RetentionCheckInterval: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	s := testSettings()
	s.Log.SegmentBytes = 1024
	s.Log.RetentionBytes = 0 // delete every segment that may go
	p := openLeader(t, m, "ret-hw", s, self, 2)
	for i := range 40 {
		produce(t, p, 1, plain(fmt.Sprintf("%0100d", i)))
	}
	p.UpdateFollowerLEO(2, 10)
	if hw := p.HighWatermark(); hw != 10 {
		t.Fatalf("hw %d, want 10", hw)
	}
	time.Sleep(50 * time.Millisecond) // many retention passes
	if start := p.LogStartOffset(); start > 10 {
		t.Fatalf("retention moved the log start to %d, past the high watermark 10", start)
	}
	if _, recs := fetchAll(t, p, p.LogStartOffset(), true); len(recs) == 0 || recs[len(recs)-1].offset != 39 {
		t.Fatalf("records above the high watermark were deleted: %v", recs)
	}
	p.UpdateFollowerLEO(2, 40)
	waitFor(t, "retention once the follower has everything", func() bool { return p.LogStartOffset() > 10 })
}
