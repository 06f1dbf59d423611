package server

// DescribeProducers (key 61), v0.
//
// The producers each partition (led here) tracks: id, epoch, last
// sequence, and the first offset of an open transaction (-1 if none).
// LastTimestamp is the max timestamp of its latest batch, CoordinatorEpoch
// that of its latest transaction marker (-1 if none).
// READ on the topic is required (TOPIC_AUTHORIZATION_FAILED); a partition
// not led here is NOT_LEADER_OR_FOLLOWER, an unknown one
// UNKNOWN_TOPIC_OR_PARTITION.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleDescribeProducers(req *wire.Request, r *kmsg.DescribeProducersRequest) kmsg.Response {
	resp := kmsg.NewPtrDescribeProducersResponse()
	resp.Version = r.Version
	st := s.meta.State()
	for _, t := range r.Topics {
		rt := kmsg.NewDescribeProducersResponseTopic()
		rt.Topic = t.Topic
		allowed := s.authorize(req, acl.OpRead, acl.ResourceTopic, t.Topic)
		for _, idx := range t.Partitions {
			rp := kmsg.NewDescribeProducersResponseTopicPartition()
			rp.Partition = idx
			tm := st.Topics[t.Topic]
			part := s.replicas.Get(t.Topic, idx)
			switch {
			case !allowed:
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case tm == nil || idx < 0 || int(idx) >= len(tm.Partitions):
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case part == nil || !part.IsLeader():
				rp.ErrorCode = kerr.NotLeaderForPartition.Code
			default:
				for _, p := range part.Producers() {
					ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
					ap.ProducerID, ap.ProducerEpoch, ap.LastSequence = p.ProducerID, int32(p.Epoch), p.LastSequence
					ap.LastTimestamp, ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = p.LastTimestamp, p.CoordinatorEpoch, p.TxnStartOffset
					rp.ActiveProducers = append(rp.ActiveProducers, ap)
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
