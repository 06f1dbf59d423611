package server

// EndTxn (key 26), v0-v5.
//
// Commits or aborts the producer's transaction on its coordinator: the
// decision (PrepareCommit/PrepareAbort) is persisted to
// __transaction_state, the markers are written to every partition in the
// transaction, then the completion is persisted (internal/txn). A retried
// EndTxn of a completed transaction succeeds; one that does not match the
// state is INVALID_TXN_STATE. WRITE on the transactional id is required.
// A stale producer epoch is PRODUCER_FENCED from v2, INVALID_PRODUCER_EPOCH
// before. v4 only adds TRANSACTION_ABORTABLE, which Strom never answers.
// v5 (transaction version 2, KIP-890 part 2) bumps the producer epoch with
// every transaction and answers the producer id and epoch to use next
// (a new id when the epoch runs out); a retry of a completed EndTxn, one
// epoch behind, gets the same answer, and an abort with no transaction
// open still bumps the epoch.

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
	pid, epoch, err := s.txns.EndTxn(ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit, r.Version >= 5)
	resp.ErrorCode = fencedCode(errorCode(err), r.Version, 2)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if err == nil && r.Version >= 5 {
		resp.ProducerID, resp.ProducerEpoch = pid, epoch
	}
	return resp
}
