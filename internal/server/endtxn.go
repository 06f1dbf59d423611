package server

// EndTxn (key 26), v0-v3.
//
// Commits or aborts the producer's transaction on its coordinator: the
// decision (PrepareCommit/PrepareAbort) is persisted to
// __transaction_state, the markers are written to every partition in the
// transaction, then the completion is persisted (internal/txn). A retried
// EndTxn of a completed transaction succeeds; one that does not match the
// state is INVALID_TXN_STATE. WRITE on the transactional id is required.
// A stale producer epoch is PRODUCER_FENCED from v2, INVALID_PRODUCER_EPOCH
// before. v4+ (transaction version 2, KIP-890) are not implemented.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleEndTxn(ctx context.Context, req *wire.Request, r *kmsg.EndTxnRequest) kmsg.Response {
	resp := kmsg.NewPtrEndTxnResponse()
	resp.Version = r.Version
	if !s.authorize(req, acl.OpWrite, acl.ResourceTransactionalID, r.TransactionalID) {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp
	}
	err := s.txns.EndTxn(ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit)
	resp.ErrorCode = fencedCode(errorCode(err), r.Version, 2)
	return resp
}
