package replica

import (
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
