package server

// JoinGroup (key 11), v0-v9; served by the group coordinator.
//
//   - v0 has no rebalance timeout (the session timeout is used); v1 adds it.
//   - v4 (KIP-394): a dynamic member joining with an empty member id gets
//     MEMBER_ID_REQUIRED and a generated id to join again with.
//   - v5 (KIP-345): group.instance.id. A static member rejoining with an
//     empty member id takes over its old member id's place; in Stable with
//     unchanged protocols this does not rebalance.
//   - v7 returns the protocol type; v8 carries a reason (logged); v9
//     (KIP-814) tells a static leader rejoining a Stable group to skip the
//     assignment. Older leaders in that case run it and their SyncGroup is
//     answered with the current assignment.
//   - The id of a share group is INCONSISTENT_GROUP_PROTOCOL.
//   - Any error answers generation -1; MEMBER_ID_REQUIRED carries the new
//     member id. Request bodies don't carry who is asking: the client id
//     and host go to the coordinator in the context (DescribeGroups shows
//     them).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/group"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleJoinGroup(ctx context.Context, req *wire.Request, r *kmsg.JoinGroupRequest) kmsg.Response {
	host := ""
	if req.Conn != nil && req.Conn.RemoteAddr != nil {
		host = "/" + hostOnly(req.Conn.RemoteAddr.String())
	}
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Version = r.Version
	if !s.authorize(req, acl.OpRead, acl.ResourceGroup, r.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		resp.MemberID = r.MemberID
		return resp
	}
	if s.shareGroups.Exists(r.Group) {
		// A share group has the id (sharegroupheartbeat.go): Kafka
		// refuses a classic member with INCONSISTENT_GROUP_PROTOCOL.
		resp.ErrorCode, resp.Generation, resp.MemberID = kerr.InconsistentGroupProtocol.Code, -1, r.MemberID
		return resp
	}
	res, err := s.groups.JoinGroup(group.WithClient(ctx, req.ClientID, host), r)
	resp.ErrorCode = errorCode(err)
	resp.MemberID = res.MemberID
	resp.Generation = res.Generation
	resp.ProtocolType, resp.Protocol = res.ProtocolType, res.Protocol
	resp.LeaderID = res.LeaderID
	resp.SkipAssignment = res.SkipAssignment
	for _, m := range res.Members {
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID, jm.InstanceID, jm.ProtocolMetadata = m.MemberID, m.InstanceID, m.ProtocolMetadata
		resp.Members = append(resp.Members, jm)
	}
	return resp
}
