package controller

import (
	"context"
	"maps"
	"slices"

	"github.com/strombroker/strom/raftmeta"
)

// ReadyReassignments returns a ReassignComplete for every partition whose
// running reassignment has all its target replicas in the ISR (Kafka's
// controller does the same check on every ISR change; Strom's controller
// does it on every step, so a new controller finishes what the old one
// started). Each carries the partition epoch it was computed from, so a
// completion based on a stale view is refused and recomputed next step.
func ReadyReassignments(s *raftmeta.State) []raftmeta.Reassignment {
	var out []raftmeta.Reassignment
	for _, name := range slices.Sorted(maps.Keys(s.Topics)) {
		for _, p := range s.Topics[name].Partitions {
			if raftmeta.ReassignmentReady(p) {
				out = append(out, raftmeta.Reassignment{Topic: name, Partition: p.Index,
					Op: raftmeta.ReassignComplete, PartitionEpoch: p.PartitionEpoch})
			}
		}
	}
	return out
}

// completeReassignments proposes the completions ReadyReassignments finds.
func (c *Controller) completeReassignments(ctx context.Context) {
	for _, r := range ReadyReassignments(c.meta.State()) {
		p, err := c.meta.ReassignPartition(ctx, r)
		if err != nil {
			c.logger.Warn("reassignment completion refused", "topic", r.Topic, "partition", r.Partition, "err", err)
			continue
		}
		c.logger.Info("reassignment completed", "topic", r.Topic, "partition", r.Partition, "replicas", p.Replicas, "leader", p.Leader)
	}
}
