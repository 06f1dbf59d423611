package server

// WriteTxnMarkers (key 27), v0-v1; broker to broker.
//
// A transaction coordinator on another broker asks this one to append
// COMMIT or ABORT markers to partitions it leads (replica's
// WriteTxnMarker, acks=all); on __consumer_offsets the transaction's
// offsets are then applied or dropped. A marker from a producer epoch
// older than the partition's latest is INVALID_PRODUCER_EPOCH; a partition
// not led here NOT_LEADER_OR_FOLLOWER (the coordinator retries). Requires
// CLUSTER_ACTION on the cluster (CLUSTER_AUTHORIZATION_FAILED).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/txn"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleWriteTxnMarkers(ctx context.Context, req *wire.Request, r *kmsg.WriteTxnMarkersRequest) kmsg.Response {
	resp := kmsg.NewPtrWriteTxnMarkersResponse()
	resp.Version = r.Version
	authorized := s.authorizeCluster(req, acl.OpClusterAction)
	for _, m := range r.Markers {
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		for _, t := range m.Topics {
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				rp.Partition = p
				if !authorized {
					rp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
				} else {
					err := s.writeLocalMarker(ctx, txn.TP{Topic: t.Topic, Partition: p}, m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch)
					rp.ErrorCode = errorCode(err)
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	return resp
}
