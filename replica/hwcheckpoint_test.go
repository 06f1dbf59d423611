package replica

import (
	"encoding/binary"
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

// TestUncleanStopRecovery: after an unclean stop a replica claims nothing
// beyond its checkpointed high watermark (nothing at all without a
// checkpoint), and reports itself recovering until it has fetched up to its
// leader's high watermark.
func TestUncleanStopRecovery(t *testing.T) {
	dir := t.TempDir()
	m, err := NewManager(Config{NodeID: self, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	p := openLeader(t, m, "unclean", testSettings())
	produce(t, p, 1, plain("a", "b", "c"))
	pdir := p.log.Dir()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// As if the broker had died before its first checkpoint: no clean
	// shutdown marker, no high watermark checkpoint.
	for _, f := range []string{".clean-shutdown", hwCheckpointFile} {
		if err := os.Remove(filepath.Join(pdir, f)); err != nil {
			t.Fatal(err)
		}
	}
	m2 := newManager(t, dir)
	p2, err := m2.Open("unclean", 0, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	if hw, leo := p2.HighWatermark(), p2.LogEndOffset(); hw != 0 || leo != 3 {
		t.Fatalf("after an unclean stop without checkpoint: hw %d leo %d, want 0 and 3", hw, leo)
	}
	if !p2.RecoveringFromUncleanStop() {
		t.Fatal("not recovering after an unclean stop")
	}
	p2.BecomeFollower(2)
	p2.updateFollowerHW(2, 5) // the leader is ahead: not caught up yet
	if !p2.RecoveringFromUncleanStop() || p2.HighWatermark() != 3 {
		t.Fatalf("recovering %v hw %d with leader hw 5 and leo 3", p2.RecoveringFromUncleanStop(), p2.HighWatermark())
	}
	b := plain("d", "e")
	binary.BigEndian.PutUint64(b[:8], 3)
	if _, err := p2.appendAsFollower(2, b); err != nil {
		t.Fatal(err)
	}
	p2.updateFollowerHW(2, 5)
	if p2.RecoveringFromUncleanStop() {
		t.Fatal("still recovering after reaching the leader's high watermark")
	}

	// A clean stop is not an unclean one.
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
	m3 := newManager(t, dir)
	p3, err := m3.Open("unclean", 0, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	if p3.RecoveringFromUncleanStop() {
		t.Fatal("recovering after a clean stop")
	}
}
