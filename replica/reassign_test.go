package replica

import (
	"slices"
	"testing"
	"time"
)

// TestKeepFollowers: a follower removed by a reassignment stops being an
// ISR candidate, and stops holding the high watermark as a pending
// addition, as soon as the leader learns the new replica list.
func TestKeepFollowers(t *testing.T) {
	m := newManager(t, "")
	p := openLeader(t, m, "keep", testSettings(), self)
	p.BecomeLeader(2, []int32{self})
	produce(t, p, 1, plain("a", "b", "c"))
	lag := 10 * time.Second
	t0 := time.Now()
	p.RecordFollowerFetch(2, 3, t0)
	p.RecordFollowerFetch(3, 3, t0)
	newISR, epoch, ok := p.isrProposal(t0, lag)
	if !ok || !slices.Equal(newISR, []int32{self, 2, 3}) || !p.beginProposal(epoch, newISR) {
		t.Fatalf("isrProposal = %v %v", newISR, ok)
	}
	p.KeepFollowers([]int32{self, 2})
	if got := p.ExpandCandidates(t0, lag); !slices.Equal(got, []int32{2}) {
		t.Fatalf("ExpandCandidates after removing 3 = %v, want [2]", got)
	}
	produce(t, p, 1, plain("d"))
	p.RecordFollowerFetch(2, 4, t0)
	if hw := p.HighWatermark(); hw != 4 {
		t.Fatalf("high watermark %d, want 4: the removed follower still holds it", hw)
	}
}
