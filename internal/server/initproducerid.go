package server

// InitProducerId (key 22), v0-v4.
//
// Idempotent producers (no transactional id) get a fresh producer id at
// epoch 0, from blocks reserved through the controller so ids never repeat
// across restarts or brokers. v3+ (KIP-360): a producer that passes its
// current id and epoch gets the same id with the epoch bumped, which resets
// its sequence numbers; at the epoch limit it gets a new id. With a
// transactional id the request goes to the transaction coordinator
// (initproducerid_txn.go). An idempotent producer needs IDEMPOTENT_WRITE on the cluster or WRITE on some
// topic (else CLUSTER_AUTHORIZATION_FAILED), as in Kafka.

import (
	"context"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleInitProducerID(ctx context.Context, req *wire.Request, r *kmsg.InitProducerIDRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.Version = r.Version
	resp.ProducerID = -1
	resp.ProducerEpoch = -1
	if r.TransactionalID != nil {
		s.initTxnProducerID(ctx, req, r, resp)
		return resp
	}
	if !s.authorizeCluster(req, acl.OpIdempotentWrite) && !s.authorizeAny(req, acl.OpWrite, acl.ResourceTopic) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp
	}
	if r.ProducerID >= 0 && r.ProducerEpoch >= 0 && r.ProducerEpoch < math.MaxInt16-1 {
		resp.ProducerID = r.ProducerID
		resp.ProducerEpoch = r.ProducerEpoch + 1
		return resp
	}
	id, err := s.allocateProducerID(ctx)
	if err != nil {
		resp.ErrorCode = errorCode(err)
		return resp
	}
	resp.ProducerID = id
	resp.ProducerEpoch = 0
	return resp
}
