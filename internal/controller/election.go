package controller

import (
	"maps"
	"slices"

	"github.com/strombroker/strom/raftmeta"
)

// Partition leader election. These are pure functions over a raftmeta.State: the
// server on the controller computes the changes and applies each with
// AlterPartition, whose partition-epoch check rejects a change computed from
// a state that has moved on (recompute and retry then). The results are
// deterministic: topics in name order, partitions in index order.

// ElectLeaders returns a leader change for every partition whose leader is in
// fencedOrDead, and for every offline partition (leader -1) that can get a
// leader again.
//
//   - Clean election: the new leader is the first replica, in replica-list
//     order (the preferred order), that is in the ISR and not in
//     fencedOrDead. The ISR shrinks to its live members, in ISR order. The
//     FSM bumps the leader epoch because the leader changes.
//   - No live ISR member, and uncleanAllowed(topic) (Kafka's
//     unclean.leader.election.enable; nil means never): the first live
//     replica leads with ISR = [it]. Records acknowledged only by the lost
//     ISR are gone; that is what the topic opted into.
//   - Otherwise the partition goes offline: leader -1 with the ISR left as
//     it was, as Kafka's KRaft controller does: the ISR never empties, so it
//     still names the replicas holding every acknowledged record, and the
//     first of them to return is elected cleanly. A partition already
//     offline with nobody electable yields no change.
//
// Each change carries the partition epoch it was computed from.
func ElectLeaders(s *raftmeta.State, fencedOrDead map[int32]bool, uncleanAllowed func(topic string) bool) []raftmeta.PartitionChange {
	var out []raftmeta.PartitionChange
	for _, name := range slices.Sorted(maps.Keys(s.Topics)) {
		t := s.Topics[name]
		for _, p := range t.Partitions {
			if p.Leader >= 0 && !fencedOrDead[p.Leader] {
				continue
			}
			ch := raftmeta.PartitionChange{Topic: name, Partition: p.Index, Leader: -1, ISR: slices.Clone(p.ISR), PartitionEpoch: p.PartitionEpoch}
			liveISR := slices.DeleteFunc(slices.Clone(p.ISR), func(id int32) bool { return fencedOrDead[id] })
			if i := slices.IndexFunc(p.Replicas, func(id int32) bool { return slices.Contains(liveISR, id) }); i >= 0 {
				ch.Leader, ch.ISR = p.Replicas[i], liveISR
			} else if uncleanAllowed != nil && uncleanAllowed(name) {
				if i := slices.IndexFunc(p.Replicas, func(id int32) bool { return !fencedOrDead[id] }); i >= 0 {
					ch.Leader, ch.ISR = p.Replicas[i], []int32{p.Replicas[i]}
				}
			}
			if ch.Leader == -1 && p.Leader == -1 {
				continue // offline and staying offline: nothing to write
			}
			out = append(out, ch)
		}
	}
	return out
}

// PreferredLeaderChanges returns, for auto.leader.rebalance, a change moving
// leadership back to the preferred replica (the first in the replica list)
// of every partition it does not lead, provided it is alive and in the ISR.
// The ISR is unchanged.
func PreferredLeaderChanges(s *raftmeta.State, alive map[int32]bool) []raftmeta.PartitionChange {
	var out []raftmeta.PartitionChange
	for _, name := range slices.Sorted(maps.Keys(s.Topics)) {
		for _, p := range s.Topics[name].Partitions {
			if len(p.Replicas) == 0 {
				continue
			}
			pref := p.Replicas[0]
			if p.Leader == pref || !alive[pref] || !slices.Contains(p.ISR, pref) {
				continue
			}
			out = append(out, raftmeta.PartitionChange{Topic: name, Partition: p.Index, Leader: pref,
				ISR: slices.Clone(p.ISR), PartitionEpoch: p.PartitionEpoch})
		}
	}
	return out
}

// ShrinkISRs drops dead or fenced brokers from the ISR of partitions whose
// leader is alive, as KRaft does for fenced brokers; otherwise acks=all
// writes would stall until the leader's own lag check
// (replica.lag.time.max.ms) noticed. Partitions that already have a change
// in pending (an election) are left to it, and an ISR is never emptied.
func ShrinkISRs(s *raftmeta.State, dead map[int32]bool, pending []raftmeta.PartitionChange) []raftmeta.PartitionChange {
	type key struct {
		topic string
		p     int32
	}
	skip := make(map[key]bool, len(pending))
	for _, ch := range pending {
		skip[key{ch.Topic, ch.Partition}] = true
	}
	var out []raftmeta.PartitionChange
	for _, name := range slices.Sorted(maps.Keys(s.Topics)) {
		for _, p := range s.Topics[name].Partitions {
			if p.Leader < 0 || dead[p.Leader] || skip[key{name, p.Index}] {
				continue
			}
			isr := slices.DeleteFunc(slices.Clone(p.ISR), func(id int32) bool { return dead[id] })
			if len(isr) == len(p.ISR) || len(isr) == 0 {
				continue
			}
			out = append(out, raftmeta.PartitionChange{Topic: name, Partition: p.Index, Leader: p.Leader, ISR: isr, PartitionEpoch: p.PartitionEpoch})
		}
	}
	return out
}
