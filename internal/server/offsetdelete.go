package server

// OffsetDelete (key 47), v0; served by the group coordinator.
//
//   - Deletes committed offsets of a group that is Empty, or of a consumer
//     group for topics none of its members subscribes to
//     (GROUP_SUBSCRIBED_TO_TOPIC per partition otherwise; a group whose
//     subscriptions cannot be read counts as subscribed to everything). A
//     non-consumer group with members gets NON_EMPTY_GROUP, an unknown
//     group GROUP_ID_NOT_FOUND.
//   - A top-level error answers no topics.
//   - Tombstones are appended before the offsets are dropped.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleOffsetDelete(ctx context.Context, req *wire.Request, r *kmsg.OffsetDeleteRequest) kmsg.Response {
	resp := kmsg.NewPtrOffsetDeleteResponse()
	resp.Version = r.Version
	// Kafka's checks: DELETE on the group (top-level
	// GROUP_AUTHORIZATION_FAILED), READ on each topic (its partitions
	// TOPIC_AUTHORIZATION_FAILED; only allowed topics are deleted).
	if !s.authorize(req, acl.OpDelete, acl.ResourceGroup, r.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp
	}
	allowed := *r
	allowed.Topics = nil
	topicOK := make([]bool, len(r.Topics))
	for i, t := range r.Topics {
		if topicOK[i] = s.authorize(req, acl.OpRead, acl.ResourceTopic, t.Topic); topicOK[i] {
			allowed.Topics = append(allowed.Topics, t)
		}
	}
	res, err := s.groups.OffsetDelete(ctx, &allowed)
	resp.ErrorCode = errorCode(err)
	if err != nil {
		return resp
	}
	k := 0
	for i, t := range r.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			if !topicOK[i] {
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			} else {
				rp.ErrorCode = errorCode(res[k].Err)
				k++
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
