package server

// RemoveRaftVoter (key 81): version 0 (KIP-853).
//
// Behaviour: demotes a voter of the controller's Raft group to non-voter
// (raftmeta.Node.RemoveRaftVoter, run on the controller): as in KRaft it
// keeps replicating the metadata log as an observer while it runs, and
// DescribeQuorum lists it there. Strom's membership reconciler keeps
// bootstrap-expect voters: when the removal would leave fewer, a live
// non-voter is promoted in its place first, and without one the request is
// INVALID_REQUEST (Kafka has no such floor; Strom would otherwise promote
// the node straight back). Checks, in Kafka's order:
//   - ALTER on CLUSTER (CLUSTER_AUTHORIZATION_FAILED).
//   - A ClusterID that is not null and not this cluster's is
//     INCONSISTENT_CLUSTER_ID.
//   - A negative VoterID or a zero VoterDirectoryID is INVALID_REQUEST.
//   - A node that is not a voter, a directory id other than the voter's
//     (DescribeQuorum v2 reports it), or the last voter is VOTER_NOT_FOUND.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/wire"
)

func (s *Server) handleRemoveRaftVoter(ctx context.Context, req *wire.Request, r *kmsg.RemoveRaftVoterRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.RemoveRaftVoterResponse)
	resp.Version = r.Version
	err := s.checkVoterRequest(req, r.ClusterID, r.VoterID, r.VoterDirectoryID)
	if err == nil {
		wctx, cancel := context.WithTimeout(ctx, requestTimeout(0))
		defer cancel()
		err = s.meta.RemoveRaftVoter(wctx, r.VoterID, r.VoterDirectoryID)
	}
	resp.ErrorCode = errorCode(err)
	resp.ErrorMessage = errorMessage(err)
	return resp
}
