package server

// OffsetForLeaderEpoch: versions 0-4.
//
// Behaviour:
//   - For each partition led here: the largest epoch <= the requested one
//     that has records, and the offset where it ended (the log end offset
//     for the current epoch), from replica.Partition.EndOffsetForEpoch. A
//     consumer uses this to detect a truncated log after a leader change
//     (KIP-320); a follower uses it to truncate a divergent tail.
//   - Unknown topic or partition: UNKNOWN_TOPIC_OR_PARTITION. A partition
//     this broker does not host, or hosts as a follower:
//     NOT_LEADER_OR_FOLLOWER (the client refreshes metadata).
//   - Errors carry LeaderEpoch -1 and EndOffset -1.
//   - A partition unknown, not led here or asked at a newer epoch is looked
//     up again, once per request, after catching up with the controller
//     (catchup.go).
//
// Version notes:
//   - v1: LeaderEpoch in the response.
//   - v2: CurrentLeaderEpoch fencing: older than ours FENCED_LEADER_EPOCH,
//     newer UNKNOWN_LEADER_EPOCH; -1 skips the check. Checked before
//     leadership, as Kafka.
//   - v3: ReplicaID (-1 for consumers); answered the same way.
//   - v4: flexible.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/replica"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleOffsetForLeaderEpoch(ctx context.Context, req *wire.Request, r *kmsg.OffsetForLeaderEpochRequest) kmsg.Response {
	resp, missed := s.offsetsForLeaderEpoch(req, r)
	if missed {
		// Unknown, not led here or an epoch newer than ours: maybe only
		// not yet (a follower truncating before it first fetches a
		// partition this broker was just made leader of). Catch up once.
		s.catchUp(ctx)
		resp, _ = s.offsetsForLeaderEpoch(req, r)
	}
	return resp
}

// offsetsForLeaderEpoch answers r from the current state; missed reports a
// partition refused in a way metadata that has not caught up can cause.
func (s *Server) offsetsForLeaderEpoch(req *wire.Request, r *kmsg.OffsetForLeaderEpochRequest) (_ *kmsg.OffsetForLeaderEpochResponse, missed bool) {
	resp := r.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	resp.Version = r.Version
	replica := s.authorizeCluster(req, acl.OpClusterAction) // Kafka: else DESCRIBE per topic
	for _, t := range r.Topics {
		rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
		rt.Topic = t.Topic
		if !replica && !s.authorize(req, acl.OpDescribe, acl.ResourceTopic, t.Topic) {
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
				rp.Partition, rp.LeaderEpoch, rp.EndOffset = p.Partition, -1, -1
				rp.ErrorCode = errorCode(errTopicAuthorization)
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			rp.Partition = p.Partition
			rp.LeaderEpoch, rp.EndOffset = -1, -1
			current := p.CurrentLeaderEpoch
			if r.Version < 2 {
				current = -1
			}
			part, err := s.leaderPartition(t.Topic, p.Partition, current)
			if err == nil {
				rp.LeaderEpoch, rp.EndOffset = part.EndOffsetForEpoch(p.LeaderEpoch)
			} else {
				rp.ErrorCode = errorCode(err)
				missed = missed || isMiss(err)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, missed
}

// leaderPartition returns the partition if this broker leads it, checking
// the client's current leader epoch first (-1: no check).
func (s *Server) leaderPartition(topic string, partition, currentEpoch int32) (*replica.Partition, error) {
	t, ok := s.meta.State().Topics[topic]
	if !ok || partition < 0 || int(partition) >= len(t.Partitions) {
		return nil, fmt.Errorf("%w: %s-%d", errUnknownTopic, topic, partition)
	}
	part := s.replicas.Get(topic, partition)
	if part == nil {
		return nil, fmt.Errorf("%w: %s-%d is not hosted on broker %d", replica.ErrNotLeader, topic, partition, s.cfg.NodeID)
	}
	if currentEpoch >= 0 {
		switch ours := part.LeaderEpoch(); {
		case currentEpoch < ours:
			return nil, fmt.Errorf("%w: %s-%d: request epoch %d, ours %d", errFencedLeaderEpoch, topic, partition, currentEpoch, ours)
		case currentEpoch > ours:
			return nil, fmt.Errorf("%w: %s-%d: request epoch %d, ours %d", errUnknownLeaderEpoch, topic, partition, currentEpoch, ours)
		}
	}
	if !part.IsLeader() {
		return nil, fmt.Errorf("%w: %s-%d", replica.ErrNotLeader, topic, partition)
	}
	return part, nil
}
