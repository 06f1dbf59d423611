package controller

import (
	"errors"
	"fmt"
	"slices"

	"github.com/strombroker/strom/raftmeta"
)

// Sentinel errors of requested elections (ElectOne); the server maps them to
// Kafka's ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE and
// ELIGIBLE_LEADERS_NOT_AVAILABLE.
var (
	// ErrElectionNotNeeded: the preferred replica already leads (preferred),
	// or the partition has a leader (unclean).
	ErrElectionNotNeeded = errors.New("controller: election not needed")
	// ErrPreferredLeaderNotAvailable: the preferred replica is fenced, dead
	// or out of the ISR.
	ErrPreferredLeaderNotAvailable = errors.New("controller: preferred leader not available")
	// ErrEligibleLeadersNotAvailable: no live replica can lead.
	ErrEligibleLeadersNotAvailable = errors.New("controller: no eligible leader available")
)

// ElectOne computes one election asked for by a client (Kafka's
// ElectLeaders; ReplicationControlManager.electLeader):
//
//   - preferred: the first replica must be alive and in the ISR, and takes
//     leadership with the ISR unchanged. Already leading:
//     ErrElectionNotNeeded; otherwise unavailable:
//     ErrPreferredLeaderNotAvailable.
//   - unclean (preferred false): only for a partition without a live leader
//     (else ErrElectionNotNeeded). A live ISR member is preferred (a clean
//     election); failing that the first live replica leads with ISR = [it],
//     whatever the topic's unclean.leader.election.enable says: the
//     operator asked for it explicitly, as in Kafka. No live replica:
//     ErrEligibleLeadersNotAvailable.
//
// dead holds the fenced or unreachable brokers. The change carries the
// partition epoch it was computed from.
func ElectOne(s *raftmeta.State, topic string, partition int32, preferred bool, dead map[int32]bool) (raftmeta.PartitionChange, error) {
	t := s.Topics[topic]
	if t == nil {
		return raftmeta.PartitionChange{}, fmt.Errorf("%w: %q", raftmeta.ErrUnknownTopic, topic)
	}
	if partition < 0 || int(partition) >= len(t.Partitions) {
		return raftmeta.PartitionChange{}, fmt.Errorf("%w: %s-%d", raftmeta.ErrUnknownPartition, topic, partition)
	}
	p := t.Partitions[partition]
	ch := raftmeta.PartitionChange{Topic: topic, Partition: partition, Leader: p.Leader, ISR: slices.Clone(p.ISR), PartitionEpoch: p.PartitionEpoch}
	if preferred {
		pref := int32(-1)
		if len(p.Replicas) > 0 {
			pref = p.Replicas[0]
		}
		switch {
		case p.Leader == pref:
			return ch, fmt.Errorf("%w: %s-%d is led by its preferred replica %d", ErrElectionNotNeeded, topic, partition, pref)
		case pref < 0 || dead[pref] || !slices.Contains(p.ISR, pref):
			return ch, fmt.Errorf("%w: %s-%d: preferred replica %d is not alive and in the ISR %v", ErrPreferredLeaderNotAvailable, topic, partition, pref, p.ISR)
		}
		ch.Leader = pref
		return ch, nil
	}
	if p.Leader >= 0 && !dead[p.Leader] {
		return ch, fmt.Errorf("%w: %s-%d has leader %d", ErrElectionNotNeeded, topic, partition, p.Leader)
	}
	liveISR := slices.DeleteFunc(slices.Clone(p.ISR), func(id int32) bool { return dead[id] })
	if i := slices.IndexFunc(p.Replicas, func(id int32) bool { return slices.Contains(liveISR, id) }); i >= 0 {
		ch.Leader, ch.ISR = p.Replicas[i], liveISR
		return ch, nil
	}
	if i := slices.IndexFunc(p.Replicas, func(id int32) bool { return !dead[id] }); i >= 0 {
		ch.Leader, ch.ISR = p.Replicas[i], []int32{p.Replicas[i]}
		return ch, nil
	}
	return ch, fmt.Errorf("%w: %s-%d: no live replica among %v", ErrEligibleLeadersNotAvailable, topic, partition, p.Replicas)
}
