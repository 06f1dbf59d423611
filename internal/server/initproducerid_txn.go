package server

// InitProducerId with a transactional id: the coordinator of the id
// (NOT_COORDINATOR elsewhere) completes or aborts what a previous instance
// left open, then bumps the id's producer epoch, which fences that
// instance (its next request is PRODUCER_FENCED, or INVALID_PRODUCER_EPOCH
// for request versions before that code). transaction.timeout.ms must be
// in (0, transaction.max.timeout.ms] (INVALID_TRANSACTION_TIMEOUT). WRITE
// on the transactional id is required (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

func (s *Server) initTxnProducerID(ctx context.Context, req *wire.Request, r *kmsg.InitProducerIDRequest, resp *kmsg.InitProducerIDResponse) {
	id := *r.TransactionalID
	if !s.authorize(req, acl.OpWrite, acl.ResourceTransactionalID, id) {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return
	}
	reqPID, reqEpoch := int64(-1), int16(-1)
	if r.Version >= 3 {
		reqPID, reqEpoch = r.ProducerID, r.ProducerEpoch
	}
	timeout := time.Duration(r.TransactionTimeoutMillis) * time.Millisecond
	pid, epoch, err := s.txns.InitProducerID(ctx, id, timeout, reqPID, reqEpoch)
	if err != nil {
		resp.ErrorCode = fencedCode(errorCode(err), r.Version, 4)
		return
	}
	resp.ProducerID, resp.ProducerEpoch = pid, epoch
}
