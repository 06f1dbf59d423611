package server

// The share-group offset admin APIs, v0 each, served by the group's
// coordinator (NOT_COORDINATOR elsewhere; a classic group of the id is
// GROUP_ID_NOT_FOUND):
//
//   - DescribeShareGroupOffsets (90): each share-partition's start offset
//     (SPSO) and the leader epoch last written, read from the share
//     coordinator; a partition never consumed has StartOffset -1. Topics
//     null lists the topics the members subscribe to and those whose
//     offsets were altered. DESCRIBE on the group and each topic. v1's Lag
//     is not offered.
//   - AlterShareGroupOffsets (91): sets start offsets on an empty group
//     (NON_EMPTY_GROUP otherwise; a group nobody joined yet is created
//     empty, so offsets can be set before the first consumer starts). The
//     state epoch moves on, so the partitions' in-flight state is
//     forgotten. READ on the group and the topics.
//   - DeleteShareGroupOffsets (92): forgets the share-partitions of the
//     topics named on an empty group; consumption starts again from
//     share.auto.offset.reset. DELETE on the group, READ on the topics.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/share"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleDescribeShareGroupOffsets(ctx context.Context, req *wire.Request, r *kmsg.DescribeShareGroupOffsetsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeShareGroupOffsetsResponse)
	for _, g := range r.Groups {
		rg := kmsg.NewDescribeShareGroupOffsetsResponseGroup()
		rg.GroupID = g.GroupID
		if err := s.describeShareOffsets(ctx, req, g, &rg); err != nil {
			rg.ErrorCode, rg.ErrorMessage = errorCode(err), errorMessage(err)
			rg.Topics = nil
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}

func (s *Server) describeShareOffsets(ctx context.Context, req *wire.Request, g kmsg.DescribeShareGroupOffsetsRequestGroup, rg *kmsg.DescribeShareGroupOffsetsResponseGroup) error {
	if !s.authorize(req, acl.OpDescribe, acl.ResourceGroup, g.GroupID) {
		return kerr.GroupAuthorizationFailed
	}
	if err := s.shareGroupCoordinator(g.GroupID); err != nil {
		return err
	}
	st := s.meta.State()
	topics := g.Topics
	if topics == nil {
		names, err := s.shareGroups.Topics(g.GroupID)
		if err != nil {
			return err
		}
		for _, n := range names {
			if t := st.Topics[n]; t != nil {
				dt := kmsg.NewDescribeShareGroupOffsetsRequestGroupTopic()
				dt.Topic = n
				for i := range t.Partitions {
					dt.Partitions = append(dt.Partitions, int32(i))
				}
				topics = append(topics, dt)
			}
		}
	}
	for _, t := range topics {
		rt := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopic()
		rt.Topic = t.Topic
		meta := st.Topics[t.Topic]
		if meta != nil {
			rt.TopicID = meta.ID
		}
		for _, p := range t.Partitions {
			rp := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopicPartition()
			rp.Partition, rp.StartOffset, rp.LeaderEpoch = p, -1, -1
			err := s.shareTopicAllowed(req, st, t.Topic, p, acl.OpDescribe)
			if err == nil {
				var ps share.State
				var ok bool
				ps, ok, err = sharePersister{s}.Read(ctx, share.Key{Group: g.GroupID, TopicID: meta.ID, Partition: p})
				if err == nil && ok {
					rp.StartOffset, rp.LeaderEpoch = ps.StartOffset, ps.LeaderEpoch
				}
			}
			rp.ErrorCode, rp.ErrorMessage = errorCode(err), errorMessage(err)
			rt.Partitions = append(rt.Partitions, rp)
		}
		rg.Topics = append(rg.Topics, rt)
	}
	return nil
}

// shareTopicAllowed checks that topic/partition exists and op is allowed.
func (s *Server) shareTopicAllowed(req *wire.Request, st *raftmeta.State, topic string, partition int32, op acl.Operation) error {
	if !s.authorize(req, op, acl.ResourceTopic, topic) {
		return kerr.TopicAuthorizationFailed
	}
	t := st.Topics[topic]
	if t == nil || partition < 0 || int(partition) >= len(t.Partitions) {
		return fmt.Errorf("%w: %s/%d", errUnknownTopic, topic, partition)
	}
	return nil
}

func (s *Server) handleAlterShareGroupOffsets(ctx context.Context, req *wire.Request, r *kmsg.AlterShareGroupOffsetsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.AlterShareGroupOffsetsResponse)
	fail := func(err error) kmsg.Response {
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
		return resp
	}
	if !s.authorize(req, acl.OpRead, acl.ResourceGroup, r.GroupID) {
		return fail(kerr.GroupAuthorizationFailed)
	}
	if err := s.shareGroupCoordinator(r.GroupID); err != nil {
		return fail(err)
	}
	names := make([]string, 0, len(r.Topics))
	for _, t := range r.Topics {
		names = append(names, t.Topic)
	}
	if err := s.shareGroups.Ensure(r.GroupID, names...); err != nil {
		return fail(err)
	}
	st := s.meta.State()
	for _, t := range r.Topics {
		rt := kmsg.NewAlterShareGroupOffsetsResponseTopic()
		rt.Topic = t.Topic
		if meta := st.Topics[t.Topic]; meta != nil {
			rt.TopicID = meta.ID
		}
		for _, p := range t.Partitions {
			rp := kmsg.NewAlterShareGroupOffsetsResponseTopicPartition()
			rp.Partition = p.Partition
			err := s.shareTopicAllowed(req, st, t.Topic, p.Partition, acl.OpRead)
			if err == nil && p.StartOffset < 0 {
				err = fmt.Errorf("%w: start offset %d", errInvalidRequest, p.StartOffset)
			}
			if err == nil {
				k := share.Key{Group: r.GroupID, TopicID: rt.TopicID, Partition: p.Partition}
				err = sharePersister{s}.Initialize(ctx, k, p.StartOffset)
			}
			rp.ErrorCode, rp.ErrorMessage = errorCode(err), errorMessage(err)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func (s *Server) handleDeleteShareGroupOffsets(ctx context.Context, req *wire.Request, r *kmsg.DeleteShareGroupOffsetsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DeleteShareGroupOffsetsResponse)
	fail := func(err error) kmsg.Response {
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
		return resp
	}
	if !s.authorize(req, acl.OpDelete, acl.ResourceGroup, r.GroupID) {
		return fail(kerr.GroupAuthorizationFailed)
	}
	if err := s.shareGroupCoordinator(r.GroupID); err != nil {
		return fail(err)
	}
	if !s.shareGroups.Exists(r.GroupID) {
		return fail(fmt.Errorf("%w: %q", share.ErrGroupNotFound, r.GroupID))
	}
	if err := s.shareGroups.Ensure(r.GroupID); err != nil {
		return fail(err)
	}
	st := s.meta.State()
	var done []string
	for _, t := range r.Topics {
		rt := kmsg.NewDeleteShareGroupOffsetsResponseTopic()
		rt.Topic = t.Topic
		err := s.shareTopicAllowed(req, st, t.Topic, 0, acl.OpRead)
		if err == nil {
			meta := st.Topics[t.Topic]
			rt.TopicID = meta.ID
			for i := range meta.Partitions {
				if err = (sharePersister{s}).Delete(ctx, share.Key{Group: r.GroupID, TopicID: meta.ID, Partition: int32(i)}); err != nil {
					break
				}
			}
		}
		if err == nil {
			done = append(done, t.Topic)
		}
		rt.ErrorCode, rt.ErrorMessage = errorCode(err), errorMessage(err)
		resp.Topics = append(resp.Topics, rt)
	}
	s.shareGroups.ForgetTopics(r.GroupID, done)
	return resp
}
