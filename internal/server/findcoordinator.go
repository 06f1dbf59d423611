package server

// FindCoordinator (key 10), v0-v5.
//
// The coordinator of group G is the leader of __consumer_offsets partition
// abs(javaHashCode(G)) % offsets.topic.num.partitions, as in Kafka; the
// client is given that broker's address on the listener it connected to.
// v4+ batch several keys. Transaction coordinators (key type 1) are not
// implemented: such keys get TRANSACTIONAL_ID_AUTHORIZATION_FAILED with a
// message rather than an endless COORDINATOR_NOT_AVAILABLE retry loop.

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

var errNoTransactions = errors.New("transactions are not supported by Strom yet")

func (s *Server) handleFindCoordinator(req *wire.Request, r *kmsg.FindCoordinatorRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
	resp.Version = r.Version
	if r.Version <= 3 {
		c := s.findCoordinator(req, r.CoordinatorKey, r.CoordinatorType)
		resp.ErrorCode, resp.ErrorMessage = c.ErrorCode, c.ErrorMessage
		resp.NodeID, resp.Host, resp.Port = c.NodeID, c.Host, c.Port
		return resp
	}
	for _, key := range r.CoordinatorKeys {
		resp.Coordinators = append(resp.Coordinators, s.findCoordinator(req, key, r.CoordinatorType))
	}
	return resp
}

func (s *Server) findCoordinator(req *wire.Request, key string, keyType int8) kmsg.FindCoordinatorResponseCoordinator {
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
		return fail(kerr.TransactionalIDAuthorizationFailed)
	default:
		return fail(kerr.InvalidRequest)
	}
	if !s.authorize(req, acl.OpDescribe, acl.ResourceGroup, key) {
		return fail(kerr.GroupAuthorizationFailed)
	}
	if key == "" {
		return fail(kerr.InvalidGroupID)
	}
	st := s.meta.State()
	t := st.Topics[offsetsTopic]
	idx := s.groups.PartitionFor(key)
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
