package server

// DescribeGroups (key 15), v0-v5; served by the group coordinator.
//
//   - Members' metadata and assignment are reported only when the group is
//     Stable (as Kafka). An unknown group is state "Dead" with no error.
//   - Authorized operations (v3+) are -2147483648 unless requested;
//     requested, they are READ|DELETE|DESCRIBE (no authorizer here).
//   - v6 (KIP-1043 error messages) is not implemented.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupAuthorizedOps is READ(3) | DELETE(6) | DESCRIBE(8).
const groupAuthorizedOps = 1<<3 | 1<<6 | 1<<8

func (s *Server) handleDescribeGroups(ctx context.Context, r *kmsg.DescribeGroupsRequest) kmsg.Response {
	resp := kmsg.NewPtrDescribeGroupsResponse()
	resp.Version = r.Version
	for _, d := range s.groups.DescribeGroups(ctx, r.Groups) {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group, dg.ErrorCode = d.Group, errorCode(d.Err)
		dg.State, dg.ProtocolType, dg.Protocol = d.State, d.ProtocolType, d.Protocol
		for _, m := range d.Members {
			dm := kmsg.NewDescribeGroupsResponseGroupMember()
			dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.MemberID, m.InstanceID, m.ClientID, m.ClientHost
			dm.ProtocolMetadata, dm.MemberAssignment = m.ProtocolMetadata, m.MemberAssignment
			dg.Members = append(dg.Members, dm)
		}
		if r.Version >= 3 && r.IncludeAuthorizedOperations && dg.ErrorCode == 0 {
			dg.AuthorizedOperations = groupAuthorizedOps
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}
