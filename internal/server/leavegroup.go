package server

// LeaveGroup (key 13), v0-v5; served by the group coordinator.
//
//   - v0-v2 name one member id; the member's error is the top-level error.
//   - v3 (KIP-345) names a batch of members by member id and/or
//     group.instance.id, each with its own error (no member list when the
//     whole request fails); an empty member id with an instance id removes
//     the static member registered under it.
//   - v5 adds a per-member reason (logged).
//   - A leaving member triggers a rebalance of the remaining members.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleLeaveGroup(ctx context.Context, req *wire.Request, r *kmsg.LeaveGroupRequest) kmsg.Response {
	if !s.authorize(req, acl.OpRead, acl.ResourceGroup, r.Group) {
		resp := kmsg.NewPtrLeaveGroupResponse()
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp
	}
	errs, err := s.groups.LeaveGroup(ctx, r)
	resp := kmsg.NewPtrLeaveGroupResponse()
	resp.Version = r.Version
	resp.ErrorCode = errorCode(err)
	if err != nil {
		return resp
	}
	if r.Version < 3 {
		if len(errs) == 1 {
			resp.ErrorCode = errorCode(errs[0])
		}
		return resp
	}
	for i, lm := range r.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ErrorCode = lm.MemberID, lm.InstanceID, errorCode(errs[i])
		resp.Members = append(resp.Members, rm)
	}
	return resp
}
