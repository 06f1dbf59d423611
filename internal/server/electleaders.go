package server

// ElectLeaders (key 43): versions 0-2.
//
// Behaviour (Kafka's KRaft controller, ReplicationControlManager.electLeader):
//   - ALTER on CLUSTER is required: CLUSTER_AUTHORIZATION_FAILED for every
//     partition (and at the top level from v1).
//   - PREFERRED (0, and all of v0): the first replica takes leadership if it
//     is alive and in the ISR (PREFERRED_LEADER_NOT_AVAILABLE otherwise);
//     ELECTION_NOT_NEEDED when it leads already.
//   - UNCLEAN (1): only for partitions without a live leader
//     (ELECTION_NOT_NEEDED otherwise). A live ISR member is elected if there
//     is one, else the first live replica, whatever the topic's
//     unclean.leader.election.enable: the operator asked explicitly.
//     ELIGIBLE_LEADERS_NOT_AVAILABLE when no replica is alive.
//   - Null topics: every partition of every topic; as in Kafka, partitions
//     answering ELECTION_NOT_NEEDED are then left out of the response.
//   - Unknown topic or partition: UNKNOWN_TOPIC_OR_PARTITION. Another type:
//     INVALID_REQUEST.
//   - Changes are computed on this broker's metadata and applied through the
//     controller (AlterPartition, forwarded); a change computed from a stale
//     view is recomputed, after catching up with the controller (Sync), a
//     few times before the error (INVALID_UPDATE_VERSION) is returned.
//
// Version notes: v1 adds ElectionType and the top-level ErrorCode; v2 is
// flexible.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/controller"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

// electRetries bounds recomputing an election refused for a stale epoch
// (the partition changed between reading the state and applying).
const electRetries = 3

func (s *Server) handleElectLeaders(ctx context.Context, req *wire.Request, r *kmsg.ElectLeadersRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ElectLeadersResponse)
	resp.Version = r.Version
	ctx, cancel := context.WithTimeout(ctx, requestTimeout(r.TimeoutMillis))
	defer cancel()
	var reqErr error
	switch {
	case !s.authorizeCluster(req, acl.OpAlter):
		reqErr = fmt.Errorf("%w: ALTER on the cluster", kerr.ClusterAuthorizationFailed)
	case r.Version >= 1 && r.ElectionType != 0 && r.ElectionType != 1:
		reqErr = fmt.Errorf("%w: election type %d", errInvalidRequest, r.ElectionType)
	}
	if reqErr != nil && r.Version >= 1 {
		resp.ErrorCode = errorCode(reqErr)
	}
	preferred := r.Version == 0 || r.ElectionType == 0
	all := r.Topics == nil
	for _, t := range electTargets(s.meta.State(), r.Topics) {
		rt := kmsg.NewElectLeadersResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			err := reqErr
			if err == nil {
				err = s.electOne(ctx, t.Topic, p, preferred)
			}
			if all && errors.Is(err, controller.ErrElectionNotNeeded) {
				continue
			}
			rp := kmsg.NewElectLeadersResponseTopicPartition()
			rp.Partition = p
			rp.ErrorCode = errorCode(err)
			rp.ErrorMessage = errorMessage(err)
			rt.Partitions = append(rt.Partitions, rp)
		}
		if len(rt.Partitions) > 0 || !all {
			resp.Topics = append(resp.Topics, rt)
		}
	}
	return resp
}

// electTargets is the request's topics, or every partition of every topic
// (sorted) when it names none.
func electTargets(st *raftmeta.State, topics []kmsg.ElectLeadersRequestTopic) []kmsg.ElectLeadersRequestTopic {
	if topics != nil {
		return topics
	}
	var out []kmsg.ElectLeadersRequestTopic
	for _, name := range slices.Sorted(maps.Keys(st.Topics)) {
		t := kmsg.NewElectLeadersRequestTopic()
		t.Topic = name
		for _, p := range st.Topics[name].Partitions {
			t.Partitions = append(t.Partitions, p.Index)
		}
		out = append(out, t)
	}
	return out
}

// electOne computes and applies one requested election.
func (s *Server) electOne(ctx context.Context, topic string, partition int32, preferred bool) error {
	var err error
	for range electRetries {
		st := s.meta.State()
		var ch raftmeta.PartitionChange
		if ch, err = controller.ElectOne(st, topic, partition, preferred, st.FencedBrokers()); err != nil {
			return err
		}
		if _, err = s.meta.AlterPartition(ctx, ch); !errors.Is(err, raftmeta.ErrStalePartitionEpoch) {
			return err
		}
		if serr := s.meta.Sync(ctx); serr != nil { // this broker's view lags: catch up first
			return err
		}
	}
	return err
}
