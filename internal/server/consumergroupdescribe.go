package server

// ConsumerGroupDescribe (key 69), v0-v1; served by the group coordinator.
//
//   - Per group: state (Empty, Assigning, Reconciling, Stable), group and
//     assignment epochs, the assignor in use, and per member its epoch,
//     subscription, current and target assignment (topic id and name).
//   - An unknown or classic group answers GROUP_ID_NOT_FOUND; DESCRIBE on
//     the group is required (GROUP_AUTHORIZATION_FAILED).
//   - v1 (KIP-1099) adds the member type: 1, every member here speaks the
//     consumer protocol.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/group"
	"github.com/strombroker/strom/wire"
)

// memberTypeConsumer is ConsumerGroupDescribe v1's MemberType of a member
// using the consumer protocol (0 would be classic).
const memberTypeConsumer = 1

func (s *Server) handleConsumerGroupDescribe(ctx context.Context, req *wire.Request, r *kmsg.ConsumerGroupDescribeRequest) kmsg.Response {
	resp := kmsg.NewPtrConsumerGroupDescribeResponse()
	resp.Version = r.Version
	allowed := s.describableGroups(req, r.Groups, func(g string) {
		dg := kmsg.NewConsumerGroupDescribeResponseGroup()
		dg.Group, dg.ErrorCode = g, kerr.GroupAuthorizationFailed.Code
		resp.Groups = append(resp.Groups, dg)
	})
	if len(allowed) == 0 {
		return resp
	}
	for _, d := range s.groups.ConsumerGroupDescribe(ctx, allowed) {
		dg := kmsg.NewConsumerGroupDescribeResponseGroup()
		dg.Group = d.Group
		if d.Err != nil {
			dg.ErrorCode = errorCode(d.Err)
			msg := d.Err.Error()
			dg.ErrorMessage = &msg
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		dg.State, dg.Epoch, dg.AssignmentEpoch, dg.AssignorName = d.State, d.Epoch, d.AssignmentEpoch, d.Assignor
		for _, m := range d.Members {
			dm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
			dm.MemberID, dm.InstanceID, dm.RackID, dm.MemberEpoch = m.MemberID, m.InstanceID, m.RackID, m.MemberEpoch
			dm.ClientID, dm.ClientHost = m.ClientID, m.ClientHost
			dm.SubscribedTopics, dm.SubscribedTopicRegex = m.SubscribedTopics, m.SubscribedRegex
			dm.Assignment.TopicPartitions = assignmentOf(m.Assignment)
			dm.TargetAssignment.TopicPartitions = assignmentOf(m.TargetAssignment)
			if r.Version >= 1 {
				dm.MemberType = memberTypeConsumer
			}
			dg.Members = append(dg.Members, dm)
		}
		if r.IncludeAuthorizedOperations {
			dg.AuthorizedOperations = s.authorizedOps(req, acl.ResourceGroup, d.Group)
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}

func assignmentOf(ts []group.AssignedTopic) []kmsg.AssignmentTopicPartition {
	out := make([]kmsg.AssignmentTopicPartition, 0, len(ts))
	for _, t := range ts {
		tp := kmsg.NewAssignmentTopicPartition()
		tp.TopicID, tp.Topic, tp.Partitions = t.TopicID, t.Topic, t.Partitions
		out = append(out, tp)
	}
	return out
}
