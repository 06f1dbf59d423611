package server

// The share coordinator's broker-to-broker APIs, v0 each:
// InitializeShareGroupState (83), ReadShareGroupState (84),
// WriteShareGroupState (85), DeleteShareGroupState (86) and
// ReadShareGroupStateSummary (87).
//
//   - A share-partition leader (sharePersister) or a group coordinator
//     (the share-group offset APIs) sends them to the leader of the key's
//     __share_group_state partition; elsewhere the answer is
//     NOT_COORDINATOR and the sender looks again (FindCoordinator key type
//     2 finds the same leader).
//   - Write is fenced by an older state epoch (FENCED_STATE_EPOCH: the
//     offsets were altered meanwhile) or leader epoch (FENCED_LEADER_EPOCH).
//     Read of a key never written answers StartOffset -1.
//   - Need CLUSTER_ACTION on the cluster (CLUSTER_AUTHORIZATION_FAILED),
//     as Kafka's inter-broker APIs do. WriteShareGroupState v1's
//     DeliveryCompleteCount (Kafka 4.2) is not offered.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/share"
	"github.com/strombroker/strom/wire"
)

// stateIndex is k's __share_group_state partition, which must be led here.
func (s *Server) stateIndex(req *wire.Request, k share.Key) (int32, error) {
	if !s.authorizeCluster(req, acl.OpClusterAction) {
		return 0, kerr.ClusterAuthorizationFailed
	}
	if k.Group == "" {
		return 0, errInvalidRequest
	}
	return s.shareStateIndex(s.meta.State(), k), nil
}

// onStateKey runs op on the state key of one partition of a share-state
// request once stateIndex has checked that it is served here; the error is
// the check's or op's, for the partition's answer.
func (s *Server) onStateKey(req *wire.Request, group string, topicID [16]byte, partition int32, op func(idx int32, k share.Key) error) error {
	k := share.Key{Group: group, TopicID: topicID, Partition: partition}
	idx, err := s.stateIndex(req, k)
	if err != nil {
		return err
	}
	return op(idx, k)
}

// readStateKey reads one partition's state for ReadShareGroupState and
// ReadShareGroupStateSummary; found false when it was never written.
func (s *Server) readStateKey(ctx context.Context, req *wire.Request, group string, topicID [16]byte, partition int32) (st share.State, found bool, err error) {
	err = s.onStateKey(req, group, topicID, partition, func(idx int32, k share.Key) error {
		var e error
		st, found, e = s.shareStore.Read(ctx, idx, k)
		return e
	})
	return st, found, err
}

func (s *Server) handleReadShareGroupState(ctx context.Context, req *wire.Request, r *kmsg.ReadShareGroupStateRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ReadShareGroupStateResponse)
	for _, t := range r.Topics {
		rt := kmsg.NewReadShareGroupStateResponseTopic()
		rt.TopicID = t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewReadShareGroupStateResponseTopicPartition()
			rp.Partition, rp.StartOffset = p.Partition, -1
			st, ok, err := s.readStateKey(ctx, req, r.GroupID, t.TopicID, p.Partition)
			rp.ErrorCode, rp.ErrorMessage = errorCode(err), errorMessage(err)
			if err == nil && ok {
				rp.StateEpoch, rp.StartOffset = st.StateEpoch, st.StartOffset
				for _, b := range st.Batches {
					sb := kmsg.NewReadShareGroupStateResponseTopicPartitionStateBatch()
					sb.FirstOffset, sb.LastOffset, sb.DeliveryState, sb.DeliveryCount = b.First, b.Last, int8(b.State), b.DeliveryCount
					rp.StateBatches = append(rp.StateBatches, sb)
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func (s *Server) handleWriteShareGroupState(ctx context.Context, req *wire.Request, r *kmsg.WriteShareGroupStateRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.WriteShareGroupStateResponse)
	for _, t := range r.Topics {
		rt := kmsg.NewWriteShareGroupStateResponseTopic()
		rt.TopicID = t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewWriteShareGroupStateResponseTopicPartition()
			rp.Partition = p.Partition
			err := s.onStateKey(req, r.GroupID, t.TopicID, p.Partition, func(idx int32, k share.Key) error {
				st := share.State{StateEpoch: p.StateEpoch, LeaderEpoch: p.LeaderEpoch, StartOffset: p.StartOffset}
				for _, b := range p.StateBatches {
					st.Batches = append(st.Batches, share.StateBatch{First: b.FirstOffset, Last: b.LastOffset, State: share.RecordState(b.DeliveryState), DeliveryCount: b.DeliveryCount})
				}
				if err := share.ValidateState(st); err != nil {
					return err
				}
				return s.shareStore.Write(ctx, idx, k, st)
			})
			rp.ErrorCode, rp.ErrorMessage = errorCode(err), errorMessage(err)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func (s *Server) handleInitializeShareGroupState(ctx context.Context, req *wire.Request, r *kmsg.InitializeShareGroupStateRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.InitializeShareGroupStateResponse)
	for _, t := range r.Topics {
		rt := kmsg.NewInitializeShareGroupStateResponseTopic()
		rt.TopicID = t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewInitializeShareGroupStateResponseTopicPartition()
			rp.Partition = p.Partition
			err := s.onStateKey(req, r.GroupID, t.TopicID, p.Partition, func(idx int32, k share.Key) error {
				return s.shareStore.Initialize(ctx, idx, k, p.StartOffset)
			})
			rp.ErrorCode, rp.ErrorMessage = errorCode(err), errorMessage(err)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func (s *Server) handleDeleteShareGroupState(ctx context.Context, req *wire.Request, r *kmsg.DeleteShareGroupStateRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DeleteShareGroupStateResponse)
	for _, t := range r.Topics {
		rt := kmsg.NewDeleteShareGroupStateResponseTopic()
		rt.TopicID = t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewDeleteShareGroupStateResponseTopicPartition()
			rp.Partition = p.Partition
			err := s.onStateKey(req, r.GroupID, t.TopicID, p.Partition, func(idx int32, k share.Key) error {
				return s.shareStore.Delete(ctx, idx, k)
			})
			rp.ErrorCode, rp.ErrorMessage = errorCode(err), errorMessage(err)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func (s *Server) handleReadShareGroupStateSummary(ctx context.Context, req *wire.Request, r *kmsg.ReadShareGroupStateSummaryRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ReadShareGroupStateSummaryResponse)
	for _, t := range r.Topics {
		rt := kmsg.NewReadShareGroupStateSummaryResponseTopic()
		rt.TopicID = t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewReadShareGroupStateSummaryResponseTopicPartition()
			rp.Partition, rp.StartOffset = p.Partition, -1
			st, ok, err := s.readStateKey(ctx, req, r.GroupID, t.TopicID, p.Partition)
			rp.ErrorCode, rp.ErrorMessage = errorCode(err), errorMessage(err)
			if err == nil && ok {
				rp.StateEpoch, rp.LeaderEpoch, rp.StartOffset = st.StateEpoch, st.LeaderEpoch, st.StartOffset
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
