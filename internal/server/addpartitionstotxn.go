package server

// AddPartitionsToTxn (key 24), v0-v3.
//
// Adds partitions to the producer's transaction on its coordinator
// (internal/txn), starting the transaction if none is open. Every partition
// gets the same answer: the coordinator persists the whole set or nothing.
// A partition of an unknown topic fails the request
// (UNKNOWN_TOPIC_OR_PARTITION for it, OPERATION_NOT_ATTEMPTED for the
// others), as does one whose topic the principal may not WRITE
// (TOPIC_AUTHORIZATION_FAILED). WRITE on the transactional id is required
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED). A stale producer epoch is
// PRODUCER_FENCED from v2, INVALID_PRODUCER_EPOCH before. The v4+
// broker-to-broker batched form (KIP-890 verification) is not implemented.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/txn"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleAddPartitionsToTxn(ctx context.Context, req *wire.Request, r *kmsg.AddPartitionsToTxnRequest) kmsg.Response {
	resp := kmsg.NewPtrAddPartitionsToTxnResponse()
	resp.Version = r.Version
	codes := map[txn.TP]int16{}
	var parts []txn.TP
	failed := false
	st := s.meta.State()
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			tp := txn.TP{Topic: t.Topic, Partition: p}
			parts = append(parts, tp)
			switch tm := st.Topics[t.Topic]; {
			case !s.authorize(req, acl.OpWrite, acl.ResourceTopic, t.Topic):
				codes[tp], failed = kerr.TopicAuthorizationFailed.Code, true
			case tm == nil || p < 0 || int(p) >= len(tm.Partitions):
				codes[tp], failed = kerr.UnknownTopicOrPartition.Code, true
			}
		}
	}
	var code int16
	switch {
	case !s.authorize(req, acl.OpWrite, acl.ResourceTransactionalID, r.TransactionalID):
		code = kerr.TransactionalIDAuthorizationFailed.Code
	case failed:
		code = kerr.OperationNotAttempted.Code
	default:
		err := s.txns.AddPartitions(ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch, parts)
		code = fencedCode(errorCode(err), r.Version, 2)
	}
	byTopic := map[string]int{}
	for _, tp := range parts {
		i, ok := byTopic[tp.Topic]
		if !ok {
			i = len(resp.Topics)
			byTopic[tp.Topic] = i
			rt := kmsg.NewAddPartitionsToTxnResponseTopic()
			rt.Topic = tp.Topic
			resp.Topics = append(resp.Topics, rt)
		}
		rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
		rp.Partition = tp.Partition
		rp.ErrorCode = code
		if c, ok := codes[tp]; ok {
			rp.ErrorCode = c
		}
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
	return resp
}
