package server

// FindCoordinator (key 10), v0-v6.
//
// The coordinator of group G is the leader of __consumer_offsets partition
// abs(javaHashCode(G)) % offsets.topic.num.partitions, as in Kafka; the
// client is given that broker's address on the listener it connected to.
// v4+ batch several keys. The coordinator of transactional id T (key type
// 1) is the leader of __transaction_state partition abs(javaHashCode(T)) %
// transaction.state.log.num.partitions; the first such request creates
// the topic (txn.go). It needs DESCRIBE on the transactional id. v6 adds
// key type 2, a share-partition "group:topicId:partition" (share.go): the
// leader of its __share_group_state partition, for brokers (CLUSTER_ACTION;
// a malformed key is INVALID_REQUEST). Share groups themselves are found
// with key type 0 like any group. Before v6 key type 2 is INVALID_REQUEST.

import (
	"context"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/share"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleFindCoordinator(ctx context.Context, req *wire.Request, r *kmsg.FindCoordinatorRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
	resp.Version = r.Version
	keyType := r.CoordinatorType
	if keyType == 2 && r.Version < 6 {
		keyType = -1 // share keys are v6+: INVALID_REQUEST
	}
	if r.Version <= 3 {
		c := s.findCoordinator(ctx, req, r.CoordinatorKey, keyType)
		resp.ErrorCode, resp.ErrorMessage = c.ErrorCode, c.ErrorMessage
		resp.NodeID, resp.Host, resp.Port = c.NodeID, c.Host, c.Port
		return resp
	}
	for _, key := range r.CoordinatorKeys {
		resp.Coordinators = append(resp.Coordinators, s.findCoordinator(ctx, req, key, keyType))
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
	case 2:
		if r := s.findShareCoordinator(ctx, req, c, key); r != nil {
			return *r
		}
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

// findShareCoordinator answers a share-partition key's share coordinator,
// creating __share_group_state first if needed.
func (s *Server) findShareCoordinator(ctx context.Context, req *wire.Request, c kmsg.FindCoordinatorResponseCoordinator, key string) *kmsg.FindCoordinatorResponseCoordinator {
	if !s.authorizeCluster(req, acl.OpClusterAction) {
		c.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return &c
	}
	if !validShareKey(key) {
		c.ErrorCode = kerr.InvalidRequest.Code
		return &c
	}
	if err := s.ensureShareStateTopic(ctx); err != nil {
		s.logger.Warn("cannot create the share state topic", "err", err)
		c.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return &c
	}
	st := s.meta.State()
	n := int32(len(st.Topics[share.StateTopic].Partitions))
	r := s.coordinatorAt(req, c, share.StateTopic, share.PartitionForKey(key, n))
	return &r
}

// validShareKey checks "group:topicId:partition" (the group may hold
// colons; the last two fields may not).
func validShareKey(key string) bool {
	i := strings.LastIndexByte(key, ':')
	if i <= 0 {
		return false
	}
	if p, err := strconv.ParseInt(key[i+1:], 10, 32); err != nil || p < 0 {
		return false
	}
	j := strings.LastIndexByte(key[:i], ':')
	return j > 0 && j < i-1
}
