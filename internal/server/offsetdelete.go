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

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleOffsetDelete(ctx context.Context, r *kmsg.OffsetDeleteRequest) kmsg.Response {
	res, err := s.groups.OffsetDelete(ctx, r)
	resp := kmsg.NewPtrOffsetDeleteResponse()
	resp.Version = r.Version
	resp.ErrorCode = errorCode(err)
	if err != nil {
		return resp
	}
	k := 0
	for _, t := range r.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = errorCode(res[k].Err)
			k++
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
