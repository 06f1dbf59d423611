package server

// AlterPartitionReassignments (key 45): versions 0-1.
//
// Behaviour (KIP-455, Kafka's KRaft controller):
//   - ALTER on CLUSTER is required: CLUSTER_AUTHORIZATION_FAILED at the top
//     level and for every partition.
//   - Replicas given: the partition starts moving there (raftmeta
//     ReassignPartition): the new replicas are added and catch up as
//     followers; once all target replicas are in the ISR the controller
//     moves leadership into the target if needed and drops the removed
//     replicas, whose brokers delete their logs. A reassignment already
//     running is replaced (computed from the original replicas). A target
//     adding no replica completes at once.
//   - Replicas null: cancel; the original replicas come back.
//     NO_REASSIGNMENT_IN_PROGRESS when none runs.
//   - Empty, duplicate or unregistered replicas: INVALID_REPLICA_ASSIGNMENT.
//     A change leaving no in-sync replica: INVALID_REQUEST.
//   - Unknown topic or partition: UNKNOWN_TOPIC_OR_PARTITION.
//
// Version notes: v0 is flexible; v1 adds AllowReplicationFactorChange: when
// false, a target of another size than the original replicas gets
// INVALID_REPLICATION_FACTOR (v0 always allows it, as Kafka).

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleAlterPartitionReassignments(ctx context.Context, req *wire.Request, r *kmsg.AlterPartitionAssignmentsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	resp.Version = r.Version
	ctx, cancel := context.WithTimeout(ctx, requestTimeout(r.TimeoutMillis))
	defer cancel()
	var reqErr error
	if !s.authorizeCluster(req, acl.OpAlter) {
		reqErr = fmt.Errorf("%w: ALTER on the cluster", kerr.ClusterAuthorizationFailed)
		resp.ErrorCode, resp.ErrorMessage = errorCode(reqErr), errorMessage(reqErr)
	}
	allowRF := r.Version < 1 || r.AllowReplicationFactorChange
	changed := false
	for _, t := range r.Topics {
		rt := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			err := reqErr
			if err == nil {
				err = s.reassign(ctx, t.Topic, p.Partition, p.Replicas, allowRF)
				changed = changed || err == nil
			}
			rp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode, rp.ErrorMessage = errorCode(err), errorMessage(err)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if changed {
		s.awaitLocal(ctx)
	}
	return resp
}

// reassign starts (replicas not nil) or cancels one partition's reassignment.
func (s *Server) reassign(ctx context.Context, topic string, partition int32, replicas []int32, allowRF bool) error {
	r := raftmeta.Reassignment{Topic: topic, Partition: partition, Op: raftmeta.ReassignCancel}
	if replicas != nil {
		if len(replicas) == 0 {
			return fmt.Errorf("%w: empty replica list", raftmeta.ErrInvalidReplicaAssignment)
		}
		if t := s.meta.State().Topics[topic]; !allowRF && t != nil && partition >= 0 && int(partition) < len(t.Partitions) {
			if orig := raftmeta.OriginalReplicas(t.Partitions[partition]); len(orig) != len(replicas) {
				return fmt.Errorf("%w: %d target replicas for %d current ones, and the request does not allow a replication factor change",
					raftmeta.ErrInvalidReplicationFactor, len(replicas), len(orig))
			}
		}
		r.Op, r.Target = raftmeta.ReassignStart, replicas
	}
	_, err := s.meta.ReassignPartition(ctx, r)
	return err
}

// ListPartitionReassignments (key 46): version 0.
//
// Behaviour: DESCRIBE on CLUSTER is required (CLUSTER_AUTHORIZATION_FAILED
// at the top level). Lists the partitions with a reassignment running,
// each with its full replica list (target then removing) and the adding
// and removing replicas; null topics means every topic. Partitions without
// one, and unknown topics or partitions, are left out, as in Kafka.
//
// Version notes: v0 is flexible.
func (s *Server) handleListPartitionReassignments(req *wire.Request, r *kmsg.ListPartitionReassignmentsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	resp.Version = r.Version
	if !s.authorizeCluster(req, acl.OpDescribe) {
		err := fmt.Errorf("%w: DESCRIBE on the cluster", kerr.ClusterAuthorizationFailed)
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
		return resp
	}
	st := s.meta.State()
	want := map[string][]int32{}
	if r.Topics == nil {
		for name := range st.Topics {
			want[name] = nil
		}
	}
	for _, t := range r.Topics {
		want[t.Topic] = append(want[t.Topic], t.Partitions...)
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		t := st.Topics[name]
		if t == nil {
			continue
		}
		rt := kmsg.NewListPartitionReassignmentsResponseTopic()
		rt.Topic = name
		for _, p := range t.Partitions {
			if len(p.AddingReplicas) == 0 && len(p.RemovingReplicas) == 0 ||
				(want[name] != nil && !slices.Contains(want[name], p.Index)) {
				continue
			}
			rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
			rp.Partition = p.Index
			rp.Replicas = slices.Clone(p.Replicas)
			rp.AddingReplicas = slices.Clone(p.AddingReplicas)
			rp.RemovingReplicas = slices.Clone(p.RemovingReplicas)
			rt.Partitions = append(rt.Partitions, rp)
		}
		if len(rt.Partitions) > 0 {
			resp.Topics = append(resp.Topics, rt)
		}
	}
	return resp
}
