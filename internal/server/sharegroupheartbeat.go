package server

// ShareGroupHeartbeat (key 76), v1 (KIP-932; v0 was Kafka 4.0's early
// access and is not offered).
//
//   - Served by the group's coordinator (the leader of its
//     __consumer_offsets partition; NOT_COORDINATOR elsewhere). The member
//     id is the client's own (a UUID, at most 36 characters).
//   - Epoch 0 joins (SubscribedTopicNames required), -1 leaves, any other
//     must be the member's current epoch (FENCED_MEMBER_EPOCH; an unknown
//     member UNKNOWN_MEMBER_ID, e.g. after a coordinator failover: the
//     client rejoins).
//   - Assignment: the "simple" assignor (share.Groups: partitions spread
//     over subscribers, shared when they outnumber them), sent when the
//     member's changed; its epoch then becomes the group's.
//   - A classic group of the same id is GROUP_ID_NOT_FOUND ("not a share
//     group"), as Kafka answers. Needs READ on the group and DESCRIBE on
//     the subscribed topics (TOPIC_AUTHORIZATION_FAILED).

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/share"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleShareGroupHeartbeat(ctx context.Context, req *wire.Request, r *kmsg.ShareGroupHeartbeatRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ShareGroupHeartbeatResponse)
	fail := func(err error) kmsg.Response {
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
		return resp
	}
	switch {
	case s.featureLevel(featureShare) < 1: // downgraded by UpdateFeatures
		return fail(fmt.Errorf("%w: share groups are off (share.version 0)", kerr.UnsupportedVersion))
	case strings.TrimSpace(r.GroupID) == "":
		return fail(fmt.Errorf("%w: empty group id", errInvalidRequest))
	case r.MemberID == "" || len(r.MemberID) > 36:
		return fail(fmt.Errorf("%w: member id must be 1-36 characters", errInvalidRequest))
	case r.MemberEpoch < -1:
		return fail(fmt.Errorf("%w: member epoch %d", errInvalidRequest, r.MemberEpoch))
	case r.RackID != nil && strings.TrimSpace(*r.RackID) == "":
		return fail(fmt.Errorf("%w: empty rack id", errInvalidRequest))
	case !s.authorize(req, acl.OpRead, acl.ResourceGroup, r.GroupID):
		return fail(kerr.GroupAuthorizationFailed)
	}
	for _, t := range r.SubscribedTopicNames {
		if !s.authorize(req, acl.OpDescribe, acl.ResourceTopic, t) {
			return fail(kerr.TopicAuthorizationFailed)
		}
	}
	if err := s.shareGroupCoordinator(r.GroupID); err != nil {
		return fail(err)
	}
	res, err := s.shareGroups.Heartbeat(share.Heartbeat{
		Group: r.GroupID, Member: r.MemberID, Epoch: r.MemberEpoch, Rack: r.RackID,
		Topics: r.SubscribedTopicNames, ClientID: req.ClientID, Host: clientHost(req),
		ResolveTopics: s.shareTopics(s.meta.State()),
	})
	if err != nil {
		return fail(err)
	}
	resp.MemberID = &r.MemberID
	resp.MemberEpoch = res.Epoch
	resp.HeartbeatIntervalMillis = int32(s.shareGroups.HeartbeatInterval().Milliseconds())
	if res.Assignment != nil {
		a := kmsg.NewShareGroupHeartbeatResponseAssignment()
		for _, t := range res.Assignment {
			tp := kmsg.NewShareGroupHeartbeatResponseAssignmentTopicPartition()
			tp.TopicID, tp.Partitions = t.TopicID, t.Partitions
			a.TopicPartitions = append(a.TopicPartitions, tp)
		}
		resp.Assignment = &a
	}
	return resp
}

// shareGroupCoordinator checks that this broker coordinates group and that
// no classic group has its id.
func (s *Server) shareGroupCoordinator(group string) error {
	part := s.replicas.Get(offsetsTopic, s.groups.PartitionFor(group))
	if part == nil || !part.IsLeader() {
		return fmt.Errorf("%w: group %q", share.ErrNotCoordinator, group)
	}
	if d := s.groups.DescribeGroups(context.Background(), []string{group}); len(d) == 1 && d[0].Err == nil && d[0].State != "Dead" {
		return fmt.Errorf("%w: group %q is not a share group", share.ErrGroupNotFound, group)
	}
	return nil
}

// shareTopics resolves subscribed topic names to their partitions in st
// (internal and unknown topics left out), sorted by name.
func (s *Server) shareTopics(st *raftmeta.State) func([]string) []share.Assigned {
	return func(names []string) []share.Assigned {
		var out []share.Assigned
		for _, n := range slices.Sorted(slices.Values(names)) {
			t := st.Topics[n]
			if t == nil || t.Internal {
				continue
			}
			a := share.Assigned{TopicID: t.ID, Topic: n}
			for i := range t.Partitions {
				a.Partitions = append(a.Partitions, int32(i))
			}
			out = append(out, a)
		}
		return out
	}
}

// clientHost is the "/ip" a group member is described with, as Kafka
// prints it.
func clientHost(req *wire.Request) string {
	if req.Conn != nil && req.Conn.RemoteAddr != nil {
		return "/" + hostOnly(req.Conn.RemoteAddr.String())
	}
	return ""
}
