package server

// UnregisterBroker (key 64): version 0.
//
// Behaviour: removes a broker that is gone for good from the controller's
// registrations (raftmeta.Node.UnregisterBroker, forwarded to the
// controller like every metadata write): it is no longer listed as a
// fenced broker (DescribeCluster v2), leaves the ISRs that keep another
// member, and partitions it still led are given another leader by the
// controller; replica assignments stay until a reassignment moves them.
//   - ALTER on CLUSTER is required (CLUSTER_AUTHORIZATION_FAILED), as in
//     Kafka.
//   - An id that is not registered is BROKER_ID_NOT_REGISTERED, as in Kafka.
//   - A broker that is alive (not fenced: still in the membership) is
//     INVALID_REQUEST. Kafka unregisters it anyway and the broker registers
//     again at its next heartbeat; a Strom broker registers only when it
//     starts, so it would go on serving while invisible to clients. Stop it
//     first; it is fenced once the membership notices (seconds).
//
// ErrorMessage says why a request failed.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleUnregisterBroker(ctx context.Context, req *wire.Request, r *kmsg.UnregisterBrokerRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.UnregisterBrokerResponse)
	resp.Version = r.Version
	var err error
	if !s.authorizeCluster(req, acl.OpAlter) {
		err = fmt.Errorf("%w: ALTER on the cluster", kerr.ClusterAuthorizationFailed)
	} else {
		wctx, cancel := context.WithTimeout(ctx, requestTimeout(0))
		defer cancel()
		err = s.meta.UnregisterBroker(wctx, r.BrokerID)
	}
	resp.ErrorCode = errorCode(err)
	resp.ErrorMessage = errorMessage(err)
	return resp
}
