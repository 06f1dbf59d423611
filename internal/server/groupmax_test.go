package server

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawJoin sends a JoinGroup v3 (no KIP-394 round trip) and returns its error
// code, retrying while the coordinator is still starting.
func rawJoin(t *testing.T, addr, group string) int16 {
	t.Helper()
	c := dialRaw(t, addr)
	ctx := testCtx(t, 20*time.Second)
	for {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Version = 3
		req.Group = group
		req.SessionTimeoutMillis = 30000
		req.RebalanceTimeoutMillis = 30000
		req.ProtocolType = "consumer"
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name = "range"
		req.Protocols = append(req.Protocols, p)
		resp, err := c.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		code := resp.(*kmsg.JoinGroupResponse).ErrorCode
		if code != kerr.CoordinatorNotAvailable.Code && code != kerr.CoordinatorLoadInProgress.Code && code != kerr.NotCoordinator.Code {
			return code
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGroupMaxSizeReached: group.max.size=1 lets one member in and answers
// the second GROUP_MAX_SIZE_REACHED.
func TestGroupMaxSizeReached(t *testing.T) {
	_, addr := startTestServer(t, func(c *Config) { c.GroupMaxSize = 1 })
	if code := rawJoin(t, addr, "solo"); code != 0 {
		t.Fatalf("first member: error %d", code)
	}
	if code := rawJoin(t, addr, "solo"); code != kerr.GroupMaxSizeReached.Code {
		t.Fatalf("second member: error %d, want GROUP_MAX_SIZE_REACHED (%d)", code, kerr.GroupMaxSizeReached.Code)
	}
}
