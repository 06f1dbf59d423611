package server

// DescribeTransactions (key 65), v0.
//
// The state of each transactional id this broker coordinates (clients send
// each id to its coordinator): state name, producer id and epoch, timeout,
// start of the open transaction and its partitions. An id elsewhere is
// NOT_COORDINATOR, one never seen TRANSACTIONAL_ID_NOT_FOUND, one the
// principal may not DESCRIBE TRANSACTIONAL_ID_AUTHORIZATION_FAILED.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/txn"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleDescribeTransactions(ctx context.Context, req *wire.Request, r *kmsg.DescribeTransactionsRequest) kmsg.Response {
	resp := kmsg.NewPtrDescribeTransactionsResponse()
	resp.Version = r.Version
	for _, id := range r.TransactionalIDs {
		ts := kmsg.NewDescribeTransactionsResponseTransactionState()
		ts.TransactionalID = id
		ts.ProducerID, ts.ProducerEpoch, ts.StartTimestamp = -1, -1, -1
		if !s.authorize(req, acl.OpDescribe, acl.ResourceTransactionalID, id) {
			ts.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			resp.TransactionStates = append(resp.TransactionStates, ts)
			continue
		}
		info, ok, err := s.txns.Describe(ctx, id)
		switch {
		case err != nil:
			ts.ErrorCode = errorCode(err)
		case !ok:
			ts.ErrorCode = kerr.TransactionalIDNotFound.Code
		default:
			ts.State = txn.StateName(info.State)
			ts.TimeoutMillis, ts.StartTimestamp = info.TimeoutMillis, info.StartMillis
			ts.ProducerID, ts.ProducerEpoch = info.ProducerID, info.ProducerEpoch
			ts.Topics = describeTxnTopics(info.Partitions)
		}
		resp.TransactionStates = append(resp.TransactionStates, ts)
	}
	return resp
}

// describeTxnTopics groups sorted partitions by topic.
func describeTxnTopics(parts []txn.TP) []kmsg.DescribeTransactionsResponseTransactionStateTopic {
	var out []kmsg.DescribeTransactionsResponseTransactionStateTopic
	for _, tp := range parts {
		if n := len(out); n == 0 || out[n-1].Topic != tp.Topic {
			t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
			t.Topic = tp.Topic
			out = append(out, t)
		}
		out[len(out)-1].Partitions = append(out[len(out)-1].Partitions, tp.Partition)
	}
	return out
}
