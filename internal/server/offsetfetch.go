package server

// OffsetFetch (key 9), v0-v9; served by the group coordinator.
//
//   - v0-v1: per-partition errors only (a group error is reported on every
//     requested partition); v2+ a top-level error and null topics meaning
//     "every committed offset of the group".
//   - v5 returns leader epochs; v7 RequireStable: partitions with a commit
//     still being appended answer UNSTABLE_OFFSET_COMMIT.
//   - v8 batches groups, each with its own error; v9 adds member id/epoch:
//     for KIP-848 groups a member id not in the group is UNKNOWN_MEMBER_ID
//     and another epoch STALE_MEMBER_EPOCH (a null member id with epoch -1,
//     as admin clients send, is not checked); ignored for classic groups.
//   - v10 identifies topics by id and is not implemented.
//   - Unknown offsets are -1 with empty metadata; an unknown group is not an
//     error. A topic named twice is answered once.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/group"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleOffsetFetch(ctx context.Context, req *wire.Request, r *kmsg.OffsetFetchRequest) kmsg.Response {
	resp := kmsg.NewPtrOffsetFetchResponse()
	resp.Version = r.Version
	if r.Version >= 8 {
		for _, rg := range r.Groups {
			var topics []group.FetchTopic // null: every committed offset
			if rg.Topics != nil {
				topics = make([]group.FetchTopic, 0, len(rg.Topics))
				for _, t := range rg.Topics {
					topics = append(topics, group.FetchTopic{Topic: t.Topic, Partitions: t.Partitions})
				}
			}
			var fts []group.FetchedTopic
			err := s.checkFetchMember(req, r, rg)
			if err == nil {
				fts, err = s.authorizedOffsetFetch(ctx, req, rg.Group, topics, r.RequireStable)
			}
			g := kmsg.NewOffsetFetchResponseGroup()
			g.Group, g.ErrorCode = rg.Group, errorCode(err)
			for _, ft := range fts {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic = ft.Topic
				for _, p := range ft.Partitions {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, errorCode(p.Err)
					md := p.Metadata
					rp.Metadata = &md
					rt.Partitions = append(rt.Partitions, rp)
				}
				g.Topics = append(g.Topics, rt)
			}
			resp.Groups = append(resp.Groups, g)
		}
		return resp
	}
	fts, err := s.fetchOffsetsV0(ctx, req, r)
	resp.ErrorCode = errorCode(err)
	for _, ft := range fts {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = ft.Topic
		for _, p := range ft.Partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, errorCode(p.Err)
			md := p.Metadata
			rp.Metadata = &md
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// fetchOffsetsV0 answers the single group of OffsetFetch v0-v7. Before v2
// null topics mean none, and a group error goes on every partition.
func (s *Server) fetchOffsetsV0(ctx context.Context, req *wire.Request, r *kmsg.OffsetFetchRequest) ([]group.FetchedTopic, error) {
	var topics []group.FetchTopic
	if r.Topics != nil || r.Version < 2 {
		topics = make([]group.FetchTopic, 0, len(r.Topics))
		for _, t := range r.Topics {
			topics = append(topics, group.FetchTopic{Topic: t.Topic, Partitions: t.Partitions})
		}
	}
	fts, err := s.authorizedOffsetFetch(ctx, req, r.Group, topics, r.Version >= 7 && r.RequireStable)
	if err == nil || r.Version >= 2 {
		return fts, err
	}
	fts = nil
	for _, t := range group.MergeFetchTopics(topics) {
		ft := group.FetchedTopic{Topic: t.Topic}
		for _, p := range t.Partitions {
			ft.Partitions = append(ft.Partitions, group.FetchedPartition{Partition: p, Offset: -1, LeaderEpoch: -1, Err: err})
		}
		fts = append(fts, ft)
	}
	return fts, err
}

// authorizedOffsetFetch is the coordinator's OffsetFetch under Kafka's
// checks: DESCRIBE on the group (else GROUP_AUTHORIZATION_FAILED); of the
// named topics, those without DESCRIBE are answered
// TOPIC_AUTHORIZATION_FAILED per partition, and a request for every
// committed offset (topics nil) leaves them out.
func (s *Server) authorizedOffsetFetch(ctx context.Context, req *wire.Request, g string, topics []group.FetchTopic, stable bool) ([]group.FetchedTopic, error) {
	if !s.authorize(req, acl.OpDescribe, acl.ResourceGroup, g) {
		return nil, kerr.GroupAuthorizationFailed
	}
	topicOK := func(t string) bool { return s.authorize(req, acl.OpDescribe, acl.ResourceTopic, t) }
	if topics == nil {
		fts, err := s.groups.OffsetFetch(ctx, g, nil, stable)
		return slices.DeleteFunc(fts, func(ft group.FetchedTopic) bool { return !topicOK(ft.Topic) }), err
	}
	allowed := make([]group.FetchTopic, 0, len(topics))
	var denied []group.FetchedTopic
	for _, t := range topics {
		if topicOK(t.Topic) {
			allowed = append(allowed, t)
			continue
		}
		ft := group.FetchedTopic{Topic: t.Topic}
		for _, p := range t.Partitions {
			ft.Partitions = append(ft.Partitions, group.FetchedPartition{Partition: p, Offset: -1, LeaderEpoch: -1, Err: errTopicAuthorization})
		}
		denied = append(denied, ft)
	}
	fts, err := s.groups.OffsetFetch(ctx, g, allowed, stable)
	if err != nil {
		return fts, err
	}
	return append(fts, denied...), nil
}

// checkFetchMember: v9+ carries the member id and epoch of a
// consumer-protocol member, checked as Kafka's validateOffsetFetch
// (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH) once the group may be described.
func (s *Server) checkFetchMember(req *wire.Request, r *kmsg.OffsetFetchRequest, rg kmsg.OffsetFetchRequestGroup) error {
	if r.Version < 9 || !s.authorize(req, acl.OpDescribe, acl.ResourceGroup, rg.Group) {
		return nil // authorizedOffsetFetch answers the authorization error
	}
	return s.groups.CheckFetchMember(rg.Group, rg.MemberID, rg.MemberEpoch)
}
