package server

// DescribeCluster: versions 0-2.
//
// Behaviour:
//   - Cluster id and controller id come from the metadata; the controller is
//     the broker currently leading the metadata Raft group (-1 if none).
//   - Brokers are the registered, unfenced brokers (v2: fenced ones too when
//     asked), sorted by id, each with the advertised host/port of the
//     listener the request arrived on
//     (matched by name, falling back to the broker's first listener, as a
//     broker registered with other listener names still has to be
//     reachable somehow), and its rack.
//   - ClusterAuthorizedOperations: -2147483648 (omitted) unless asked for;
//     when asked, the cluster operations the principal may do (every one
//     with no authorizer; 0 without DESCRIBE on the cluster, as Kafka).
//     Describing the cluster itself needs no permission.
//
// Version notes:
//   - v1: EndpointType. Brokers answer only for broker endpoints (1); asking
//     a broker for controller endpoints (2) is MISMATCHED_ENDPOINT_TYPE and
//     anything else UNSUPPORTED_ENDPOINT_TYPE, as Kafka.
//   - v2 (KIP-1073): IncludeFencedBrokers adds the registered brokers that
//     are fenced (gone from the membership, so never given new replicas or
//     leaderships), with IsFenced set; operators use it to see a broker that
//     is down but still part of the cluster.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

// authorizedOpsOmitted is Kafka's "not requested" value of an
// authorized-operations bit field.
const authorizedOpsOmitted = -2147483648

const (
	endpointBroker     = 1
	endpointController = 2
)

func (s *Server) handleDescribeCluster(req *wire.Request, r *kmsg.DescribeClusterRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.Version = r.Version
	resp.EndpointType = endpointBroker
	resp.ClusterAuthorizedOperations = authorizedOpsOmitted
	if r.Version >= 1 && r.EndpointType != endpointBroker {
		err := errUnsupportedEndpoint
		if r.EndpointType == endpointController {
			err = errMismatchedEndpoint
		}
		resp.ErrorCode = errorCode(err)
		resp.ErrorMessage = errorMessage(err)
		return resp
	}
	if r.IncludeClusterAuthorizedOperations {
		// Kafka: 0 unless the principal may DESCRIBE the cluster.
		resp.ClusterAuthorizedOperations = 0
		if s.authorizeCluster(req, acl.OpDescribe) {
			resp.ClusterAuthorizedOperations = s.authorizedOps(req, acl.ResourceCluster, acl.ClusterName)
		}
	}

	st := s.meta.State()
	resp.ClusterID = st.ClusterID
	resp.ControllerID = s.clientControllerID(st) // metadata.go
	var conn *wire.ConnInfo
	if req != nil {
		conn = req.Conn
	}
	ids := make([]int32, 0, len(st.Brokers))
	includeFenced := r.Version >= 2 && r.IncludeFencedBrokers
	for id, b := range st.Brokers {
		if !b.Fenced || includeFenced {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		b := st.Brokers[id]
		l := listenerFor(b, conn)
		if len(b.Listeners) == 0 {
			continue // registered without any listener: nothing to tell clients
		}
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID = id
		rb.Host = l.Host
		rb.Port = l.Port
		rb.IsFenced = b.Fenced
		if b.Rack != "" {
			rb.Rack = kmsg.StringPtr(b.Rack)
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
	return resp
}
