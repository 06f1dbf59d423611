package group

// Reconciliation (Kafka's CurrentAssignmentBuilder): a member moves towards
// its target assignment one safe step at a time. Partitions it must give up
// are first listed as pending revocation while it keeps its epoch; only once
// a heartbeat no longer reports them as owned does it advance. Partitions
// still owned (assigned or pending revocation) by another member are held
// back (UNRELEASED_PARTITIONS) until that member lets go, so a partition
// never has two owners.

import "github.com/twmb/franz-go/pkg/kmsg"

// reconcile returns m advanced towards target at targetEpoch. owner names
// the member owning a partition ("" none); owned is what the request
// reports (nil: not sent).
func reconcile(m *cmember, targetEpoch int32, target parts, owner func(topicID, int32) string, owned []kmsg.ConsumerGroupHeartbeatRequestTopic) *cmember {
	switch m.state {
	case memberStable:
		if m.epoch != targetEpoch {
			return nextAssignment(m, m.epoch, targetEpoch, target, owner, owned)
		}
		return m
	case memberUnrevokedPartitions:
		if ownsAny(owned, m.revoking) {
			return m
		}
		return nextAssignment(m, m.epoch+1, targetEpoch, target, owner, owned)
	default: // UNRELEASED_PARTITIONS, or unknown: start over from the target
		return nextAssignment(m, m.epoch, targetEpoch, target, owner, owned)
	}
}

// ownsAny reports whether owned (nil: unknown, so assume yes) includes any
// partition of a.
func ownsAny(owned []kmsg.ConsumerGroupHeartbeatRequestTopic, a parts) bool {
	if owned == nil {
		return true
	}
	for _, t := range owned {
		for _, p := range t.Partitions {
			if a.has(t.TopicID, p) {
				return true
			}
		}
	}
	return false
}

// nextAssignment is Kafka's computeNextAssignment.
func nextAssignment(m *cmember, epoch, targetEpoch int32, target parts, owner func(topicID, int32) string, owned []kmsg.ConsumerGroupHeartbeatRequestTopic) *cmember {
	kept, revoke, pending := parts{}, parts{}, parts{}
	unreleased := false
	ids := make(map[topicID]bool)
	for id := range target {
		ids[id] = true
	}
	for id := range m.assigned {
		ids[id] = true
	}
	for id := range ids {
		for _, p := range m.assigned[id] {
			if target.has(id, p) {
				kept.add(id, p)
			} else {
				revoke.add(id, p)
			}
		}
		for _, p := range target[id] {
			if kept.has(id, p) {
				continue
			}
			if o := owner(id, p); o != "" && o != m.id {
				unreleased = true
				continue
			}
			pending.add(id, p)
		}
	}
	n := m.clone()
	setEpoch := func(e int32) {
		if e != n.epoch {
			n.prevEpoch, n.epoch = n.epoch, e
		}
	}
	switch {
	case len(revoke) > 0 && ownsAny(owned, revoke):
		n.state = memberUnrevokedPartitions
		setEpoch(epoch)
		n.assigned, n.revoking = kept, revoke
	default:
		for id, ps := range pending {
			kept.add(id, ps...)
		}
		n.state = memberStable
		if unreleased {
			n.state = memberUnreleasedPartitions
		}
		setEpoch(targetEpoch)
		n.assigned, n.revoking = kept, parts{}
	}
	return n
}
