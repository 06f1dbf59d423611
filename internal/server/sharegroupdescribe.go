package server

// ShareGroupDescribe (key 77), v1 (v0 was early access).
//
//   - Served by each group's coordinator; every group has its own error
//     (NOT_COORDINATOR, GROUP_ID_NOT_FOUND for an unknown or classic
//     group, GROUP_AUTHORIZATION_FAILED without DESCRIBE on it).
//   - State is Empty or Stable (assignments take effect at once in share
//     groups, so there is no reconciling state); the assignor is "simple".
//   - AuthorizedOperations when asked, as DescribeGroups gives them.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleShareGroupDescribe(_ context.Context, req *wire.Request, r *kmsg.ShareGroupDescribeRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ShareGroupDescribeResponse)
	for _, id := range r.GroupIDs {
		g := kmsg.NewShareGroupDescribeResponseGroup()
		g.GroupID = id
		fail := func(err error) {
			g.ErrorCode, g.ErrorMessage = errorCode(err), errorMessage(err)
		}
		switch {
		case id == "":
			fail(kerr.InvalidGroupID)
		case !s.authorize(req, acl.OpDescribe, acl.ResourceGroup, id):
			fail(kerr.GroupAuthorizationFailed)
		default:
			if err := s.describeShareGroup(&g); err != nil {
				fail(err)
			} else if r.IncludeAuthorizedOperations {
				g.AuthorizedOperations = s.authorizedOps(req, acl.ResourceGroup, id)
			}
		}
		resp.Groups = append(resp.Groups, g)
	}
	return resp
}

// describeShareGroup fills g from the group's membership.
func (s *Server) describeShareGroup(g *kmsg.ShareGroupDescribeResponseGroup) error {
	if err := s.shareGroupCoordinator(g.GroupID); err != nil {
		return err
	}
	d, err := s.shareGroups.Describe(g.GroupID)
	if err != nil {
		return err
	}
	g.GroupState, g.GroupEpoch, g.AssignmentEpoch, g.Assignor = d.State, d.Epoch, d.Epoch, "simple"
	for _, m := range d.Members {
		rm := kmsg.NewShareGroupDescribeResponseGroupMember()
		rm.MemberID, rm.RackID, rm.MemberEpoch = m.ID, m.Rack, m.Epoch
		rm.ClientID, rm.ClientHost, rm.SubscribedTopicNames = m.ClientID, m.Host, m.Topics
		for _, a := range m.Assignment {
			tp := kmsg.NewShareGroupDescribeResponseGroupMemberAssignmentTopicPartition()
			tp.TopicID, tp.Topic, tp.Partitions = a.TopicID, a.Topic, a.Partitions
			rm.Assignment.TopicPartitions = append(rm.Assignment.TopicPartitions, tp)
		}
		g.Members = append(g.Members, rm)
	}
	return nil
}
