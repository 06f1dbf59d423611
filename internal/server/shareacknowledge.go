package server

// ShareAcknowledge (key 79), v1 (v0 was early access; v2's renew
// acknowledgements are not offered).
//
//   - Sent to each partition's leader with the member's share session
//     epoch: a positive epoch must be the session's next (it moves on, as
//     a ShareFetch does; INVALID_SHARE_SESSION_EPOCH otherwise, and no
//     session is SHARE_SESSION_NOT_FOUND); -1 applies the
//     acknowledgements and closes the session, releasing the records the
//     member still holds here; 0 cannot open a session
//     (INVALID_SHARE_SESSION_EPOCH).
//   - Each batch is FirstOffset..LastOffset with one type for all or one
//     per offset: 0 gap and 3 reject archive, 1 accept acknowledges, 2
//     release makes the record available again (archived once
//     group.share.delivery.count.limit deliveries are reached). Every
//     offset must be acquired by this member (INVALID_RECORD_STATE, and
//     nothing of the partition's batches is applied). An acknowledgement is
//     persisted before it is answered.
//   - Needs READ on the group and the topics; NOT_LEADER_OR_FOLLOWER
//     carries CurrentLeader and NodeEndpoints.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/share"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleShareAcknowledge(ctx context.Context, req *wire.Request, r *kmsg.ShareAcknowledgeRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ShareAcknowledgeResponse)
	fail := func(err error) kmsg.Response {
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
		return resp
	}
	group, member, err := s.shareMember(req, r.GroupID, r.MemberID)
	if err != nil {
		return fail(err)
	}
	switch epoch := r.ShareSessionEpoch; {
	case epoch == -1:
		err = s.shares.CheckClose(group, member)
	case epoch <= 0:
		err = fmt.Errorf("%w: share session epoch %d", share.ErrInvalidSessionEpoch, epoch)
	default:
		err = s.shares.UpdateSession(group, member, epoch, nil, nil)
	}
	if err != nil {
		return fail(err)
	}
	var ans shareAnswers
	st := s.meta.State()
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			tp := share.TopicPartition{TopicID: t.TopicID, Partition: p.Partition}
			rp := ans.get(tp)
			aerr := s.shareAck(ctx, req, st, group, member, tp, shareAcks(p.AcknowledgementBatches))
			rp.ErrorCode, rp.ErrorMessage = errorCode(aerr), errorMessage(aerr)
		}
	}
	if r.ShareSessionEpoch == -1 {
		s.shares.CloseSession(ctx, group, member)
	}
	// Reuse ShareFetch's assembly, then copy into this response's types.
	fr := kmsg.NewPtrShareFetchResponse()
	s.finishShareFetch(req, fr, &ans)
	for _, ft := range fr.Topics {
		rt := kmsg.NewShareAcknowledgeResponseTopic()
		rt.TopicID = ft.TopicID
		for _, fp := range ft.Partitions {
			rp := kmsg.NewShareAcknowledgeResponseTopicPartition()
			rp.Partition, rp.ErrorCode, rp.ErrorMessage = fp.Partition, fp.ErrorCode, fp.ErrorMessage
			rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = fp.CurrentLeader.LeaderID, fp.CurrentLeader.LeaderEpoch
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	for _, ne := range fr.NodeEndpoints {
		resp.NodeEndpoints = append(resp.NodeEndpoints, kmsg.ShareAcknowledgeResponseNodeEndpoint{NodeID: ne.NodeID, Host: ne.Host, Port: ne.Port, Rack: ne.Rack})
	}
	return resp
}
