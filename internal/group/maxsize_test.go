package group

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func pendingCount(t *testing.T, c *Coordinator, id string) int {
	t.Helper()
	_, g, err := c.lookup(id)
	if err != nil || g == nil {
		t.Fatalf("lookup %s: %v", id, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}

// TestGroupMaxSize: with group.max.size 2, a third member is refused with
// ErrGroupMaxSizeReached whether the first two are pending (KIP-394 ids
// handed out) or joined, and a flood of id-less joins cannot grow the
// pending set.
func TestGroupMaxSize(t *testing.T) {
	cfg := testConfig()
	cfg.MaxSize = 2
	// Both members must land in the group's first join phase.
	cfg.InitialRebalanceDelay = 300 * time.Millisecond
	c, _ := newTestCoordinator(t, cfg, nil)
	ctx := context.Background()
	var ids []string
	for range 2 {
		r := doJoin(c, ctx, joinReq(4, "capped", "", time.Minute))
		if !errors.Is(r.Err, ErrMemberIDRequired) {
			t.Fatalf("first join: %v, want member id required", r.Err)
		}
		ids = append(ids, r.MemberID)
	}
	for i := range 1000 {
		if r := doJoin(c, ctx, joinReq(4, "capped", "", time.Minute)); !errors.Is(r.Err, ErrGroupMaxSizeReached) {
			t.Fatalf("join %d beyond the size: %v, want ErrGroupMaxSizeReached", i, r.Err)
		}
	}
	if n := pendingCount(t, c, "capped"); n != 2 {
		t.Fatalf("%d pending members, want 2", n)
	}

	// The two pending members complete their join together.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = doJoin(c, ctx, joinReq(4, "capped", id, time.Minute)).Err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("member %d rejoin: %v", i, err)
		}
	}
	// Now joined: a newcomer is still refused, with any version.
	for _, v := range []int16{0, 3, 9} {
		if r := doJoin(c, ctx, joinReq(v, "capped", "", time.Minute)); !errors.Is(r.Err, ErrGroupMaxSizeReached) {
			t.Fatalf("v%d join into a full group: %v, want ErrGroupMaxSizeReached", v, r.Err)
		}
	}
}
