package server

// AddOffsetsToTxn (key 25), v0-v3.
//
// Adds the group's __consumer_offsets partition to the producer's
// transaction, so that EndTxn marks it and the offsets committed with
// TxnOffsetCommit take effect with the transaction. WRITE on the
// transactional id and READ on the group are required. A stale producer
// epoch is PRODUCER_FENCED from v2, INVALID_PRODUCER_EPOCH before.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleAddOffsetsToTxn(ctx context.Context, req *wire.Request, r *kmsg.AddOffsetsToTxnRequest) kmsg.Response {
	resp := kmsg.NewPtrAddOffsetsToTxnResponse()
	resp.Version = r.Version
	switch {
	case !s.authorize(req, acl.OpWrite, acl.ResourceTransactionalID, r.TransactionalID):
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
	case !s.authorize(req, acl.OpRead, acl.ResourceGroup, r.Group):
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
	default:
		err := s.txns.AddOffsets(ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Group)
		resp.ErrorCode = fencedCode(errorCode(err), r.Version, 2)
	}
	return resp
}
