package server

// AddRaftVoter (key 80): version 0 (KIP-853).
//
// Behaviour: promotes a broker that replicates the metadata log as a
// non-voter (DescribeQuorum's observers) to voter of the controller's Raft
// group (raftmeta.Node.AddRaftVoter, run on the controller), which is what
// DescribeQuorum reports as __cluster_metadata's voters. Checks, in Kafka's
// order:
//   - ALTER on CLUSTER (CLUSTER_AUTHORIZATION_FAILED).
//   - A ClusterID that is not null and not this cluster's is
//     INCONSISTENT_CLUSTER_ID.
//   - A negative VoterID or a zero VoterDirectoryID is INVALID_REQUEST
//     ("didn't include a valid voter"), as in KRaft, which names voters by
//     id and directory id; Strom's are in DescribeQuorum v2.
//   - Listeners must name one of the voter's registered (advertised)
//     listeners: none is INVALID_REQUEST; one at another host or port is
//     REQUEST_TIMED_OUT (Kafka cannot reach the voter there and times out).
//   - An id already voting is DUPLICATE_VOTER; a node that is not an
//     observer with that directory id is REQUEST_TIMED_OUT, as Kafka, which
//     waits for such an observer to catch up, answers in the end.
//
// TimeoutMs bounds the wait for the configuration change to commit.

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleAddRaftVoter(ctx context.Context, req *wire.Request, r *kmsg.AddRaftVoterRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.AddRaftVoterResponse)
	resp.Version = r.Version
	err := s.checkVoterRequest(req, r.ClusterID, r.VoterID, r.VoterDirectoryID)
	if err == nil {
		err = voterListenersErr(s.meta.State(), r)
	}
	if err == nil {
		timeout := requestTimeout(0)
		if r.TimeoutMillis > 0 {
			timeout = time.Duration(r.TimeoutMillis) * time.Millisecond
		}
		wctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		err = s.meta.AddRaftVoter(wctx, r.VoterID, r.VoterDirectoryID)
	}
	resp.ErrorCode = errorCode(err)
	resp.ErrorMessage = errorMessage(err)
	return resp
}

// checkVoterRequest runs the checks AddRaftVoter and RemoveRaftVoter share:
// authorization, the cluster id, a valid voter key.
func (s *Server) checkVoterRequest(req *wire.Request, clusterID *string, id int32, dirID [16]byte) error {
	switch {
	case !s.authorizeCluster(req, acl.OpAlter):
		return fmt.Errorf("%w: ALTER on the cluster", kerr.ClusterAuthorizationFailed)
	case clusterID != nil && *clusterID != s.meta.State().ClusterID:
		return fmt.Errorf("%w: the given id %q doesn't match the cluster id %q", kerr.InconsistentClusterID, *clusterID, s.meta.State().ClusterID)
	case id < 0 || dirID == [16]byte{}:
		return fmt.Errorf("%w: the request didn't include a valid voter (id %d, directory id %s)", kerr.InvalidRequest, id, formatTopicID(dirID))
	}
	return nil
}

// voterListenersErr checks that r names an advertised listener of the
// voter (when it is registered; an unregistered node is refused later as
// not an observer).
func voterListenersErr(st *raftmeta.State, r *kmsg.AddRaftVoterRequest) error {
	b, ok := st.Brokers[r.VoterID]
	if !ok {
		return nil
	}
	named := false
	for _, rl := range r.Listeners {
		for _, l := range b.Listeners {
			if rl.Name != l.Name {
				continue
			}
			named = true
			if rl.Host == l.Host && int32(rl.Port) == l.Port {
				return nil
			}
		}
	}
	if !named {
		return fmt.Errorf("%w: the request didn't include the endpoint of a listener of node %d", kerr.InvalidRequest, r.VoterID)
	}
	return fmt.Errorf("%w: node %d is not reachable at the given endpoints", kerr.RequestTimedOut, r.VoterID)
}
