package group

// Heartbeat (key 12), v0-v4.
//
//   - Resets the member's session timer. REBALANCE_IN_PROGRESS while the
//     group is PreparingRebalance tells the member to rejoin; NONE in
//     CompletingRebalance (members may heartbeat between join and sync).
//   - v3 adds group.instance.id (FENCED_INSTANCE_ID for a stale member id).
//   - While the partition loads the answer is NONE, as in Kafka.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Heartbeat keeps a member alive and tells it whether to rejoin.
func (c *Coordinator) Heartbeat(_ context.Context, req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	resp := kmsg.NewPtrHeartbeatResponse()
	resp.Version = req.Version
	resp.ErrorCode = c.heartbeat(req)
	return resp
}

func (c *Coordinator) heartbeat(req *kmsg.HeartbeatRequest) int16 {
	if req.Version < 0 || req.Version > Versions[apiHeartbeat][1] {
		return kerr.UnsupportedVersion.Code
	}
	if req.Group == "" {
		return kerr.InvalidGroupID.Code
	}
	_, g, code := c.lookup(req.Group)
	switch {
	case code == kerr.CoordinatorLoadInProgress.Code:
		return 0
	case code != 0:
		return code
	case g == nil:
		return kerr.UnknownMemberID.Code
	}
	var instanceID *string
	if req.Version >= 3 {
		instanceID = req.InstanceID
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if code := g.closedCode(); code != 0 {
		return code
	}
	m := g.members[req.MemberID]
	switch {
	case g.fenced(instanceID, req.MemberID):
		return kerr.FencedInstanceID.Code
	case m == nil:
		return kerr.UnknownMemberID.Code
	case req.Generation != g.generation:
		return kerr.IllegalGeneration.Code
	}
	switch g.state {
	case statePreparingRebalance:
		g.scheduleSession(m)
		return kerr.RebalanceInProgress.Code
	case stateCompletingRebalance, stateStable:
		g.scheduleSession(m)
		return 0
	default:
		return kerr.UnknownMemberID.Code
	}
}
