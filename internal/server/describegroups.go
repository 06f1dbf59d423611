package server

// DescribeGroups (key 15), v0-v6; served by the group coordinator.
//
//   - Members' metadata and assignment are reported only when the group is
//     Stable (as Kafka). An unknown group is state "Dead" with no error up
//     to v5, and so is a KIP-848 consumer group (see ConsumerGroupDescribe);
//     v6+ (KIP-1043) answer them GROUP_ID_NOT_FOUND, "Group X not found."
//     or "Group X is not a classic group.", as Kafka 4 does.
//   - Each group needs DESCRIBE (GROUP_AUTHORIZATION_FAILED, Kafka's
//     check). Authorized operations (v3+) are -2147483648 unless
//     requested; requested, the principal's among READ, DELETE, DESCRIBE.
//   - v6 adds ErrorMessage: set with every group's error.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleDescribeGroups(ctx context.Context, req *wire.Request, r *kmsg.DescribeGroupsRequest) kmsg.Response {
	resp := kmsg.NewPtrDescribeGroupsResponse()
	resp.Version = r.Version
	allowed := s.describableGroups(req, r.Groups, func(g string) {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group, dg.ErrorCode = g, kerr.GroupAuthorizationFailed.Code
		if r.Version >= 6 {
			dg.ErrorMessage = errorMessage(fmt.Errorf("not authorized to describe group %s", g))
		}
		resp.Groups = append(resp.Groups, dg)
	})
	if len(allowed) == 0 {
		return resp
	}
	for _, d := range s.groups.DescribeGroups(ctx, allowed) {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group, dg.ErrorCode = d.Group, errorCode(d.Err)
		dg.State, dg.ProtocolType, dg.Protocol = d.State, d.ProtocolType, d.Protocol
		if r.Version >= 6 {
			switch {
			case d.Unknown && d.Err == nil:
				dg.ErrorCode = kerr.GroupIDNotFound.Code
				msg := "Group " + d.Group + " not found." // Kafka's wording
				dg.ErrorMessage = &msg
			case d.NotClassic && d.Err == nil:
				dg.ErrorCode = kerr.GroupIDNotFound.Code
				msg := "Group " + d.Group + " is not a classic group."
				dg.ErrorMessage = &msg
			default:
				dg.ErrorMessage = errorMessage(d.Err)
			}
		}
		for _, m := range d.Members {
			dm := kmsg.NewDescribeGroupsResponseGroupMember()
			dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.MemberID, m.InstanceID, m.ClientID, m.ClientHost
			dm.ProtocolMetadata, dm.MemberAssignment = m.ProtocolMetadata, m.MemberAssignment
			dg.Members = append(dg.Members, dm)
		}
		if r.Version >= 3 && r.IncludeAuthorizedOperations && dg.ErrorCode == 0 {
			dg.AuthorizedOperations = s.authorizedOps(req, acl.ResourceGroup, d.Group)
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}

// describableGroups is groups, in order, less those the client may not
// DESCRIBE; denied answers each of those (GROUP_AUTHORIZATION_FAILED in the
// handler's own response type). DescribeGroups and ConsumerGroupDescribe
// share it.
func (s *Server) describableGroups(req *wire.Request, groups []string, denied func(g string)) []string {
	var allowed []string
	for _, g := range groups {
		if s.authorize(req, acl.OpDescribe, acl.ResourceGroup, g) {
			allowed = append(allowed, g)
		} else {
			denied(g)
		}
	}
	return allowed
}
