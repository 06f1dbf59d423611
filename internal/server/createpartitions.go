package server

// CreatePartitions: versions 0-3.
//
// Behaviour:
//   - Count is the new total. Equal to or below the current count:
//     INVALID_PARTITIONS with a message saying how many the topic has
//     (partitions can never be removed: keys would move between them).
//   - A topic named twice: INVALID_REQUEST for each copy (as Kafka).
//   - Unknown topic: UNKNOWN_TOPIC_OR_PARTITION.
//   - Assignment, when given, must list exactly one replica set per new
//     partition (INVALID_REPLICA_ASSIGNMENT otherwise); the controller checks
//     the brokers and the replication factor.
//   - __consumer_offsets cannot grow: the group coordinator maps groups to
//     its partitions by hash modulo offsets.topic.num.partitions, so growing
//     it would move every group and lose their offsets. INVALID_PARTITIONS.
//   - ValidateOnly runs every check and changes nothing.
//   - New partitions are opened locally by the reconciler before answering.
//
// Version notes: v0-1 are identical; v2 is flexible; v3 is the same as v2.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleCreatePartitions(ctx context.Context, req *wire.Request, r *kmsg.CreatePartitionsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)
	resp.Version = r.Version
	ctx, cancel := context.WithTimeout(ctx, requestTimeout(r.TimeoutMillis))
	defer cancel()

	count := make(map[string]int, len(r.Topics))
	for _, t := range r.Topics {
		count[t.Topic]++
	}
	changed := false
	for i := range r.Topics {
		t := &r.Topics[i]
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic = t.Topic
		var err error
		switch {
		case count[t.Topic] > 1:
			err = fmt.Errorf("%w: topic %q is named more than once in the request", errInvalidRequest, t.Topic)
		case !s.authorize(req, acl.OpAlter, acl.ResourceTopic, t.Topic): // Kafka's check
			err = fmt.Errorf("%w: ALTER on topic %s", errTopicAuthorization, t.Topic)
		default:
			err = s.createPartitions(ctx, t, r.ValidateOnly)
		}
		if err != nil {
			rt.ErrorCode = errorCode(err)
			rt.ErrorMessage = errorMessage(err)
		} else if !r.ValidateOnly {
			changed = true
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if changed {
		s.awaitLocal(ctx)
	}
	return resp
}

func (s *Server) createPartitions(ctx context.Context, t *kmsg.CreatePartitionsRequestTopic, validateOnly bool) error {
	topic, ok := s.meta.State().Topics[t.Topic]
	if !ok {
		return fmt.Errorf("%w: %q", errUnknownTopic, t.Topic)
	}
	cur := int32(len(topic.Partitions))
	switch {
	case t.Topic == offsetsTopic:
		return fmt.Errorf("%w: %s cannot grow: every consumer group would move to another partition and lose its offsets", raftmeta.ErrInvalidPartitions, offsetsTopic)
	case t.Topic == txnTopic:
		return fmt.Errorf("%w: %s cannot grow: every transactional id would move to another partition and lose its state", raftmeta.ErrInvalidPartitions, txnTopic)
	case t.Count < cur:
		return fmt.Errorf("%w: topic %q has %d partitions, more than the requested %d; partitions cannot be removed", raftmeta.ErrInvalidPartitions, t.Topic, cur, t.Count)
	case t.Count == cur:
		return fmt.Errorf("%w: topic %q already has %d partitions", raftmeta.ErrInvalidPartitions, t.Topic, cur)
	}
	var assign [][]int32
	if t.Assignment != nil {
		if add := t.Count - cur; int32(len(t.Assignment)) != add {
			return fmt.Errorf("%w: adding %d partitions needs %d replica assignments, got %d", raftmeta.ErrInvalidReplicaAssignment, add, add, len(t.Assignment))
		}
		for i, a := range t.Assignment {
			if len(a.Replicas) == 0 {
				return fmt.Errorf("%w: new partition %d has no replicas", raftmeta.ErrInvalidReplicaAssignment, cur+int32(i))
			}
			assign = append(assign, a.Replicas)
		}
	}
	return s.meta.CreatePartitions(ctx, t.Topic, t.Count, assign, validateOnly)
}
