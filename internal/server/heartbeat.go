package server

// Heartbeat (key 12), v0-v4; served by the group coordinator.
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

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleHeartbeat(ctx context.Context, req *wire.Request, r *kmsg.HeartbeatRequest) kmsg.Response {
	resp := kmsg.NewPtrHeartbeatResponse()
	resp.Version = r.Version
	if !s.authorize(req, acl.OpRead, acl.ResourceGroup, r.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp
	}
	resp.ErrorCode = errorCode(s.groups.Heartbeat(ctx, r))
	return resp
}
