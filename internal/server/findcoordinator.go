package server

// FindCoordinator (key 10), v0-v5.
//
// The coordinator of group G is the leader of __consumer_offsets partition
// abs(javaHashCode(G)) % offsets.topic.num.partitions, as in Kafka; the
// client is given that broker's address on the listener it connected to.
// v4+ batch several keys. The coordinator of transactional id T (key type
// 1) is the leader of __transaction_state partition abs(javaHashCode(T)) %
// transaction.state.log.num.partitions; the first such request creates
// the topic (txn.go). It needs DESCRIBE on the transactional id.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleFindCoordinator(ctx context.Context, req *wire.Request, r *kmsg.FindCoordinatorRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
	resp.Version = r.Version
	if r.Version <= 3 {
		c := s.findCoordinator(ctx, req, r.CoordinatorKey, r.CoordinatorType)
		resp.ErrorCode, resp.ErrorMessage = c.ErrorCode, c.ErrorMessage
		resp.NodeID, resp.Host, resp.Port = c.NodeID, c.Host, c.Port
		return resp
	}
	for _, key := range r.CoordinatorKeys {
		resp.Coordinators = append(resp.Coordinators, s.findCoordinator(ctx, req, key, r.CoordinatorType))
	}
	return resp
}

func (s *Server) findCoordinator(ctx context.Context, req *wire.Request, key string, keyType int8) kmsg.FindCoordinatorResponseCoordinator {
	c := kmsg.NewFindCoordinatorResponseCoordinator()
	c.Key = key
	c.NodeID = -1
	fail := func(err error) kmsg.FindCoordinatorResponseCoordinator {
		c.ErrorCode = errorCode(err)
		c.ErrorMessage = errorMessage(err)
		return c
	}
	switch keyType {
	case 0:
	case 1:
		return s.findTxnCoordinator(ctx, req, c, key)
	default:
		return fail(kerr.InvalidRequest)
	}
	if !s.authorize(req, acl.OpDescribe, acl.ResourceGroup, key) {
		return fail(kerr.GroupAuthorizationFailed)
	}
	if key == "" {
		return fail(kerr.InvalidGroupID)
	}
	return s.coordinatorAt(req, c, offsetsTopic, s.groups.PartitionFor(key))
}

// coordinatorAt answers with the leader of partition idx of topic.
func (s *Server) coordinatorAt(req *wire.Request, c kmsg.FindCoordinatorResponseCoordinator, topic string, idx int32) kmsg.FindCoordinatorResponseCoordinator {
	fail := func(err error) kmsg.FindCoordinatorResponseCoordinator {
		c.ErrorCode = errorCode(err)
		c.ErrorMessage = errorMessage(err)
		return c
	}
	st := s.meta.State()
	t := st.Topics[topic]
	if t == nil || int(idx) >= len(t.Partitions) {
		return fail(kerr.CoordinatorNotAvailable)
	}
	leader := t.Partitions[idx].Leader
	b, ok := st.Brokers[leader]
	if !ok || b.Fenced {
		return fail(kerr.CoordinatorNotAvailable)
	}
	l := listenerFor(b, req.Conn)
	c.NodeID, c.Host, c.Port = b.ID, l.Host, l.Port
	return c
}

// findTxnCoordinator answers a transactional id's coordinator, creating
// __transaction_state first if needed.
func (s *Server) findTxnCoordinator(ctx context.Context, req *wire.Request, c kmsg.FindCoordinatorResponseCoordinator, key string) kmsg.FindCoordinatorResponseCoordinator {
	switch {
	case !s.authorize(req, acl.OpDescribe, acl.ResourceTransactionalID, key):
		c.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return c
	case key == "":
		c.ErrorCode = kerr.InvalidRequest.Code
		return c
	}
	if err := s.ensureTxnTopic(ctx); err != nil {
		s.logger.Warn("cannot create the transaction state topic", "err", err)
		c.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return c
	}
	return s.coordinatorAt(req, c, txnTopic, s.txns.PartitionFor(key))
}
