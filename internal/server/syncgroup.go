package server

// SyncGroup (key 14), v0-v5; served by the group coordinator.
//
//   - The leader's SyncGroup carries every member's assignment; it is
//     persisted before the group becomes Stable and the waiting followers
//     are answered. Members missing from the leader's assignment get an
//     empty one.
//   - v3 adds group.instance.id (fencing); v5 echoes and checks the protocol
//     type and name (INCONSISTENT_GROUP_PROTOCOL on mismatch).
//   - While the partition loads, REBALANCE_IN_PROGRESS (not
//     COORDINATOR_LOAD_IN_PROGRESS, which old clients do not expect).
//   - The assignment is never null; protocol type and name only on success.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleSyncGroup(ctx context.Context, req *wire.Request, r *kmsg.SyncGroupRequest) kmsg.Response {
	if !s.authorize(req, acl.OpRead, acl.ResourceGroup, r.Group) {
		resp := kmsg.NewPtrSyncGroupResponse()
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		resp.MemberAssignment = []byte{}
		return resp
	}
	res, err := s.groups.SyncGroup(ctx, r)
	resp := kmsg.NewPtrSyncGroupResponse()
	resp.Version = r.Version
	resp.ErrorCode = errorCode(err)
	resp.MemberAssignment = res.MemberAssignment
	if resp.MemberAssignment == nil {
		resp.MemberAssignment = []byte{}
	}
	if err == nil {
		resp.ProtocolType, resp.Protocol = res.ProtocolType, res.Protocol
	}
	return resp
}
