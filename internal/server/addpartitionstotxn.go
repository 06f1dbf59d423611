package server

// AddPartitionsToTxn (key 24), v0-v4.
//
// Adds partitions to the producer's transaction on its coordinator
// (internal/txn), starting the transaction if none is open. Every partition
// gets the same answer: the coordinator persists the whole set or nothing.
// A partition of an unknown topic fails the request
// (UNKNOWN_TOPIC_OR_PARTITION for it, OPERATION_NOT_ATTEMPTED for the
// others), as does one whose topic the principal may not WRITE
// (TOPIC_AUTHORIZATION_FAILED). WRITE on the transactional id is required
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); for v4, the batched form brokers
// send, CLUSTER_ACTION on the cluster also does. A stale producer epoch is
// PRODUCER_FENCED from v2, INVALID_PRODUCER_EPOCH before. v4 carries
// several transactions, each either added or, with VerifyOnly, only checked
// (KIP-890: a partition leader asks before appending a transactional
// batch; txn_verify.go). v5 (transaction version 2) is not implemented.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/txn"
	"github.com/strombroker/strom/wire"
)

// txnAdd is one transaction of an AddPartitionsToTxn request.
type txnAdd struct {
	id         string
	pid        int64
	epoch      int16
	verifyOnly bool
	parts      []txn.TP
}

func (s *Server) handleAddPartitionsToTxn(ctx context.Context, req *wire.Request, r *kmsg.AddPartitionsToTxnRequest) kmsg.Response {
	resp := kmsg.NewPtrAddPartitionsToTxnResponse()
	resp.Version = r.Version
	if r.Version < 4 {
		a := txnAdd{id: r.TransactionalID, pid: r.ProducerID, epoch: r.ProducerEpoch}
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				a.parts = append(a.parts, txn.TP{Topic: t.Topic, Partition: p})
			}
		}
		codes := s.addPartitionsToTxn(ctx, req, a, r.Version, false)
		for i, tp := range a.parts {
			if n := len(resp.Topics); n == 0 || resp.Topics[n-1].Topic != tp.Topic {
				rt := kmsg.NewAddPartitionsToTxnResponseTopic()
				rt.Topic = tp.Topic
				resp.Topics = append(resp.Topics, rt)
			}
			rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			rp.Partition, rp.ErrorCode = tp.Partition, codes[i]
			resp.Topics[len(resp.Topics)-1].Partitions = append(resp.Topics[len(resp.Topics)-1].Partitions, rp)
		}
		return resp
	}
	cluster := s.authorizeCluster(req, acl.OpClusterAction)
	for _, tr := range r.Transactions {
		a := txnAdd{id: tr.TransactionalID, pid: tr.ProducerID, epoch: tr.ProducerEpoch, verifyOnly: tr.VerifyOnly}
		for _, t := range tr.Topics {
			for _, p := range t.Partitions {
				a.parts = append(a.parts, txn.TP{Topic: t.Topic, Partition: p})
			}
		}
		codes := s.addPartitionsToTxn(ctx, req, a, r.Version, cluster)
		rtr := kmsg.NewAddPartitionsToTxnResponseTransaction()
		rtr.TransactionalID = tr.TransactionalID
		for i, tp := range a.parts {
			if n := len(rtr.Topics); n == 0 || rtr.Topics[n-1].Topic != tp.Topic {
				rt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
				rt.Topic = tp.Topic
				rtr.Topics = append(rtr.Topics, rt)
			}
			rp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
			rp.Partition, rp.ErrorCode = tp.Partition, codes[i]
			rtr.Topics[len(rtr.Topics)-1].Partitions = append(rtr.Topics[len(rtr.Topics)-1].Partitions, rp)
		}
		resp.Transactions = append(resp.Transactions, rtr)
	}
	return resp
}

// addPartitionsToTxn checks and adds (or only verifies) one transaction's
// partitions and returns each partition's code, in a.parts order.
func (s *Server) addPartitionsToTxn(ctx context.Context, req *wire.Request, a txnAdd, version int16, cluster bool) []int16 {
	codes := make([]int16, len(a.parts))
	failed := false
	st := s.meta.State()
	for i, tp := range a.parts {
		switch tm := st.Topics[tp.Topic]; {
		case !cluster && !s.authorize(req, acl.OpWrite, acl.ResourceTopic, tp.Topic):
			codes[i], failed = kerr.TopicAuthorizationFailed.Code, true
		case tm == nil || tp.Partition < 0 || int(tp.Partition) >= len(tm.Partitions):
			codes[i], failed = kerr.UnknownTopicOrPartition.Code, true
		}
	}
	var code int16
	switch {
	case !cluster && !s.authorize(req, acl.OpWrite, acl.ResourceTransactionalID, a.id):
		code = kerr.TransactionalIDAuthorizationFailed.Code
	case failed:
		code = kerr.OperationNotAttempted.Code
	case a.verifyOnly:
		code = fencedCode(errorCode(s.txns.Verify(ctx, a.id, a.pid, a.epoch, a.parts)), version, 2)
	default:
		code = fencedCode(errorCode(s.txns.AddPartitions(ctx, a.id, a.pid, a.epoch, a.parts)), version, 2)
	}
	for i := range codes {
		if codes[i] == 0 {
			codes[i] = code
		}
	}
	return codes
}
