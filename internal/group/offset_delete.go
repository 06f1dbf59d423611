package group

// OffsetDelete (key 47), v0.
//
//   - Deletes committed offsets of a group that is Empty, or of a consumer
//     group for topics none of its members subscribes to
//     (GROUP_SUBSCRIBED_TO_TOPIC otherwise; a group whose subscriptions
//     cannot be read counts as subscribed to everything). A non-consumer
//     group with members gets NON_EMPTY_GROUP.
//   - Tombstones are appended before the offsets are dropped.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetDelete deletes committed offsets.
func (c *Coordinator) OffsetDelete(ctx context.Context, req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	resp := kmsg.NewPtrOffsetDeleteResponse()
	resp.Version = req.Version
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	resp.ErrorCode = c.offsetDelete(ctx, req, resp)
	if resp.ErrorCode != 0 {
		resp.Topics = nil
	}
	return resp
}

func (c *Coordinator) offsetDelete(ctx context.Context, req *kmsg.OffsetDeleteRequest, resp *kmsg.OffsetDeleteResponse) int16 {
	if req.Version < 0 || req.Version > Versions[apiOffsetDelete][1] {
		return kerr.UnsupportedVersion.Code
	}
	if req.Group == "" {
		return kerr.InvalidGroupID.Code
	}
	_, g, code := c.lookup(req.Group)
	if code != 0 {
		return code
	}
	if g == nil {
		return kerr.GroupIDNotFound.Code
	}
	g.appendMu.Lock()
	defer g.appendMu.Unlock()
	g.mu.Lock()
	switch {
	case g.unloaded:
		g.mu.Unlock()
		return kerr.NotCoordinator.Code
	case g.state == stateDead:
		g.mu.Unlock()
		return kerr.GroupIDNotFound.Code
	case g.state != stateEmpty && g.protocolType != consumerProtocolType:
		g.mu.Unlock()
		return kerr.NonEmptyGroup.Code
	}
	var which []tp
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			rp := &resp.Topics[i].Partitions[j]
			switch {
			case c.cfg.TopicPartitionExists != nil && !c.cfg.TopicPartitionExists(t.Topic, p.Partition):
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case g.state != stateEmpty && (g.subscribed == nil || g.subscribed[t.Topic]):
				rp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			default:
				if _, ok := g.offsets[tp{t.Topic, p.Partition}]; ok {
					which = append(which, tp{t.Topic, p.Partition})
				}
			}
		}
	}
	if len(which) == 0 {
		g.mu.Unlock()
		return 0
	}
	recs := g.tombstones(which)
	g.mu.Unlock()

	if err := g.append(ctx, recs); err != nil {
		c.log.Warn("cannot write offset tombstones", "group", req.Group, "err", err)
		return appendErrorCode(err)
	}
	g.mu.Lock()
	for _, k := range which {
		delete(g.offsets, k)
	}
	g.mu.Unlock()
	return 0
}
