package group

// OffsetDelete deletes committed offsets of a group that is Empty, or of a
// consumer group for topics none of its members subscribes to
// (ErrGroupSubscribedToTopic otherwise; a group whose subscriptions cannot be
// read counts as subscribed to everything). A non-consumer group with members
// gets ErrNonEmptyGroup. Tombstones are appended before the offsets are
// dropped.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetDelete deletes committed offsets. Unless the whole request fails it
// returns one result per request partition, in request order.
func (c *Coordinator) OffsetDelete(ctx context.Context, req *kmsg.OffsetDeleteRequest) ([]PartitionResult, error) {
	if err := checkVersion(apiOffsetDelete, req.Version); err != nil {
		return nil, err
	}
	if req.Group == "" {
		return nil, ErrInvalidGroupID
	}
	_, g, err := c.lookup(req.Group)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, fmt.Errorf("%w: %q", ErrGroupIDNotFound, req.Group)
	}
	g.appendMu.Lock()
	defer g.appendMu.Unlock()
	g.mu.Lock()
	res, which, err := g.offsetDeleteCheck(req)
	if err != nil || len(which) == 0 {
		g.mu.Unlock()
		return res, err
	}
	recs := g.tombstones(which)
	g.mu.Unlock()

	if err := g.append(ctx, recs); err != nil {
		c.log.Warn("cannot write offset tombstones", "group", req.Group, "err", err)
		return nil, fmt.Errorf("delete offsets: %w", err)
	}
	g.mu.Lock()
	for _, k := range which {
		delete(g.offsets, k)
	}
	g.mu.Unlock()
	return res, nil
}

// offsetDeleteCheck answers each partition and lists the committed ones to
// delete. Caller holds g.mu.
func (g *group) offsetDeleteCheck(req *kmsg.OffsetDeleteRequest) ([]PartitionResult, []tp, error) {
	switch {
	case g.unloaded:
		return nil, nil, g.closedErr()
	case g.state == stateDead:
		return nil, nil, fmt.Errorf("%w: %q", ErrGroupIDNotFound, g.id)
	case g.state != stateEmpty && g.protocolType != consumerProtocolType:
		return nil, nil, fmt.Errorf("%w: %q is %s", ErrNonEmptyGroup, g.id, g.state)
	}
	var res []PartitionResult
	var which []tp
	exists := g.c.cfg.TopicPartitionExists
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			r := PartitionResult{Topic: t.Topic, Partition: p.Partition}
			switch {
			case exists != nil && !exists(t.Topic, p.Partition):
				r.Err = fmt.Errorf("%w: %s/%d", ErrUnknownTopicOrPartition, t.Topic, p.Partition)
			case g.cons != nil && g.cons.subMeta[t.Topic].Name != "" && len(g.cons.members) > 0:
				r.Err = fmt.Errorf("%w: consumer group %q subscribes to %s", ErrGroupSubscribedToTopic, g.id, t.Topic)
			case g.state != stateEmpty && (g.subscribed == nil || g.subscribed[t.Topic]):
				r.Err = fmt.Errorf("%w: %q subscribes to %s", ErrGroupSubscribedToTopic, g.id, t.Topic)
			default:
				if _, ok := g.offsets[tp{t.Topic, p.Partition}]; ok {
					which = append(which, tp{t.Topic, p.Partition})
				}
			}
			res = append(res, r)
		}
	}
	return res, which, nil
}
