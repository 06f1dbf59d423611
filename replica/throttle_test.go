package replica

import (
	"testing"
	"time"
)

// TestFollowerBudget: the shared bucket starts full (one second's worth),
// goes into debt when charged past it, tells when bytes will be there
// again, refills at the rate, and a rate of 0 grants nothing but asks to
// look again.
func TestFollowerBudget(t *testing.T) {
	var b followerBudget
	t0 := time.Unix(1000, 0)
	if avail, _ := b.grant(t0, 1000); avail != 1000 {
		t.Fatalf("fresh bucket grants %d, want 1000", avail)
	}
	b.charge(1500) // one batch past the budget
	avail, retry := b.grant(t0, 1000)
	if avail != 0 || retry.Sub(t0) < 500*time.Millisecond || retry.Sub(t0) > 502*time.Millisecond {
		t.Fatalf("in debt: grants %d, retry in %v; want 0, ~501 ms", avail, retry.Sub(t0))
	}
	if avail, _ := b.grant(t0.Add(time.Second), 1000); avail != 500 {
		t.Fatalf("a second later grants %d, want 500", avail)
	}
	if avail, _ := b.grant(t0.Add(time.Hour), 1000); avail != 1000 {
		t.Fatalf("refill is capped at one second: %d", avail)
	}
	b.charge(1000)
	if avail, retry := b.grant(t0.Add(time.Hour), 0); avail != 0 || retry.IsZero() {
		t.Fatalf("rate 0: grants %d, retry %v; want none, and a time to look again", avail, retry)
	}
}
