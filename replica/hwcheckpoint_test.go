package replica

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A restarted replica must not take records past the old high watermark as
// committed: it starts from the checkpoint, and only a leader whose ISR has
// the records (here: itself alone) moves past it.
func TestHighWatermarkCheckpointSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	m, err := NewManager(Config{NodeID: self, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	p := openLeader(t, m, "hwc", testSettings())
	produce(t, p, 1, plain("a", "b"))
	// A second ISR member that never fetches: these records stay above
	// the high watermark.
	p.BecomeLeader(2, []int32{self, 2})
	produce(t, p, 1, plain("c"))
	if hw, leo := p.HighWatermark(), p.LogEndOffset(); hw != 2 || leo != 3 {
		t.Fatalf("before restart: hw %d leo %d, want 2 and 3", hw, leo)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	m2 := newManager(t, dir)
	p2, err := m2.Open("hwc", 0, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	if hw, leo := p2.HighWatermark(), p2.LogEndOffset(); hw != 2 || leo != 3 {
		t.Fatalf("after restart: hw %d leo %d, want the checkpointed 2 and 3", hw, leo)
	}
	if res, _ := p2.Fetch(0, 1<<20, false); res.HighWatermark != 2 {
		t.Fatalf("consumers see up to %d", res.HighWatermark)
	}
	// Leading alone, it may commit its whole log.
	p2.BecomeLeader(3, []int32{self})
	if hw := p2.HighWatermark(); hw != 3 {
		t.Fatalf("sole leader: hw %d, want 3", hw)
	}
}

// TestHighWatermarkCheckpointFsynced: the checkpoint is fsynced, then
// renamed into place, then its directory fsynced, so that a power loss
// leaves the old value or the new one.
func TestHighWatermarkCheckpointFsynced(t *testing.T) {
	m := newManager(t, "")
	p := openLeader(t, m, "hwsync", testSettings())
	var synced []string
	p.fsync = func(f *os.File) error {
		synced = append(synced, filepath.Base(f.Name()))
		return f.Sync()
	}
	produce(t, p, 1, plain("a"))
	if err := p.checkpointHW(); err != nil {
		t.Fatal(err)
	}
	want := []string{hwCheckpointFile + ".tmp", filepath.Base(p.log.Dir())}
	if !slices.Equal(synced, want) {
		t.Fatalf("fsynced %q, want %q", synced, want)
	}
	if hw, ok := readHWCheckpoint(p.log.Dir()); !ok || hw != 1 {
		t.Fatalf("checkpoint %d %v, want 1", hw, ok)
	}
	// A failed fsync is reported and the value is written again next time.
	p.fsync = func(*os.File) error { return errors.New("injected fsync failure") }
	produce(t, p, 1, plain("b"))
	if err := p.checkpointHW(); err == nil {
		t.Fatal("checkpoint with a failing fsync succeeded")
	}
	p.fsync = (*os.File).Sync
	if err := p.checkpointHW(); err != nil {
		t.Fatal(err)
	}
	if hw, ok := readHWCheckpoint(p.log.Dir()); !ok || hw != 2 {
		t.Fatalf("checkpoint %d %v, want 2", hw, ok)
	}
}
