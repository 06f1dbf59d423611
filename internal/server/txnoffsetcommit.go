package server

// TxnOffsetCommit (key 28), v0-v5; served by the group coordinator.
//
// Offsets committed inside a transaction: appended to __consumer_offsets as
// the producer's transactional batch and applied to the group only when
// the transaction's COMMIT marker reaches that partition (an ABORT drops
// them); until then OffsetFetch with require_stable answers
// UNSTABLE_OFFSET_COMMIT for them. v2 adds the leader epoch; v3 the
// member, generation and instance id, checked like OffsetCommit's. WRITE
// on the transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), READ on
// the group (GROUP_AUTHORIZATION_FAILED) and READ on each topic
// (TOPIC_AUTHORIZATION_FAILED) are required. v4 only adds
// TRANSACTION_ABORTABLE, never answered. v5 (transaction version 2) adds
// the group's __consumer_offsets partition to the transaction first, as
// AddOffsetsToTxn would (the client sends none). v6 (topic ids) is not
// implemented. Below v5 the coordinator is asked first whether the
// producer's transaction, at its epoch, holds the offsets partition
// (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH before v3, or INVALID_TXN_STATE
// otherwise).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/group"
	"github.com/strombroker/strom/internal/txn"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleTxnOffsetCommit(ctx context.Context, req *wire.Request, r *kmsg.TxnOffsetCommitRequest) kmsg.Response {
	var top int16
	switch {
	case !s.authorize(req, acl.OpWrite, acl.ResourceTransactionalID, r.TransactionalID):
		top = kerr.TransactionalIDAuthorizationFailed.Code
	case !s.authorize(req, acl.OpRead, acl.ResourceGroup, r.Group):
		top = kerr.GroupAuthorizationFailed.Code
	}
	allowed := *r
	allowed.Topics = nil
	topicOK := make([]bool, len(r.Topics))
	for i, t := range r.Topics {
		if topicOK[i] = top == 0 && s.authorize(req, acl.OpRead, acl.ResourceTopic, t.Topic); topicOK[i] {
			allowed.Topics = append(allowed.Topics, t)
		}
	}
	if top == 0 {
		// v5+: add the offsets partition (transaction version 2); before:
		// check that AddOffsetsToTxn added it at this epoch (KIP-890
		// verification), so a fenced producer's offsets never wait for
		// another transaction's marker.
		tp := txn.TP{Topic: offsetsTopic, Partition: s.groups.PartitionFor(r.Group)}
		if err := s.txnCoordinatorCall(ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch, tp, r.Version < 5); err != nil {
			top = fencedCode(errorCode(err), r.Version, 3)
			allowed.Topics = nil
		}
	}
	var res []group.PartitionResult
	if len(allowed.Topics) > 0 {
		res = s.groups.TxnOffsetCommit(ctx, &allowed)
	}
	resp := kmsg.NewPtrTxnOffsetCommitResponse()
	resp.Version = r.Version
	k := 0
	for i, t := range r.Topics {
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			switch {
			case top != 0:
				rp.ErrorCode = top
			case !topicOK[i]:
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			default:
				rp.ErrorCode = fencedCode(errorCode(res[k].Err), r.Version, 3)
				k++
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
