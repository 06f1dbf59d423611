package group

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestCommitted: the metrics snapshot lists each group with its state,
// member count and latest committed offsets, and nothing once closed.
func TestCommitted(t *testing.T) {
	c, _ := newTestCoordinator(t, testConfig(), nil)
	ctx := context.Background()
	allCodes(t, c.OffsetCommit(ctx, commitReq(7, "standalone", "", -1, map[string]map[int32]int64{"a": {0: 10, 1: 11}})), nil)
	allCodes(t, c.OffsetCommit(ctx, commitReq(7, "standalone", "", -1, map[string]map[int32]int64{"a": {0: 12}})), nil)
	ids, gen := stableGroup(t, c, "consumers", 2, time.Minute)
	allCodes(t, c.OffsetCommit(ctx, commitReq(8, "consumers", ids[0], gen, map[string]map[int32]int64{"t": {3: 7}})), nil)

	got := c.Committed()
	want := "[{consumers Stable 2 map[t:map[3:7]]} {standalone Empty 0 map[a:map[0:12 1:11]]}]"
	if fmt.Sprint(got) != want {
		t.Fatalf("Committed() = %v, want %v", got, want)
	}
	c.Close()
	if got := c.Committed(); got != nil {
		t.Fatalf("after Close: %v", got)
	}
}
