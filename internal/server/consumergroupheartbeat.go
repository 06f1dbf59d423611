package server

// ConsumerGroupHeartbeat (key 68), v0-v1; served by the group coordinator
// (KIP-848 consumer groups, internal/group/cgheartbeat.go).
//
//   - One request joins (member epoch 0), heartbeats, acknowledges revoked
//     partitions (Topics: what the member owns now) and leaves (epoch -1; a
//     static member -2 to come back with the same instance id).
//   - The coordinator answers the member's epoch, the heartbeat interval
//     (group.consumer.heartbeat.interval.ms) and, on a full request or a
//     change, the member's assignment by topic id.
//   - v0: a joining member may leave its id empty and gets one; v1
//     (KIP-1082): the client always generates it (INVALID_REQUEST if empty).
//   - Regex subscriptions use Go's RE2 syntax (Kafka uses RE2/J) and match
//     whole topic names.
//   - READ on the group (GROUP_AUTHORIZATION_FAILED) and DESCRIBE on each
//     subscribed topic name (TOPIC_AUTHORIZATION_FAILED), as Kafka checks.
//   - Errors carry Kafka's message in ErrorMessage.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/group"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleConsumerGroupHeartbeat(ctx context.Context, req *wire.Request, r *kmsg.ConsumerGroupHeartbeatRequest) kmsg.Response {
	resp := kmsg.NewPtrConsumerGroupHeartbeatResponse()
	resp.Version = r.Version
	resp.MemberEpoch = -1
	if s.featureLevel(featureGroup) < 1 { // downgraded by UpdateFeatures
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		msg := "the consumer group protocol is off (group.version 0)"
		resp.ErrorMessage = &msg
		return resp
	}
	if !s.authorize(req, acl.OpRead, acl.ResourceGroup, r.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp
	}
	for _, t := range r.SubscribedTopicNames {
		if !s.authorize(req, acl.OpDescribe, acl.ResourceTopic, t) {
			resp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			return resp
		}
	}
	host := ""
	if req.Conn != nil && req.Conn.RemoteAddr != nil {
		host = "/" + hostOnly(req.Conn.RemoteAddr.String())
	}
	res, err := s.groups.ConsumerGroupHeartbeat(group.WithClient(ctx, req.ClientID, host), r)
	if err != nil {
		resp.ErrorCode = errorCode(err)
		msg := err.Error()
		resp.ErrorMessage = &msg
		return resp
	}
	resp.MemberID = &res.MemberID
	resp.MemberEpoch = res.MemberEpoch
	resp.HeartbeatIntervalMillis = int32(res.HeartbeatInterval.Milliseconds())
	if res.HasAssignment {
		a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
		a.Topics = make([]kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic, 0, len(res.Assignment))
		for _, t := range res.Assignment {
			at := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			at.TopicID, at.Partitions = t.TopicID, t.Partitions
			a.Topics = append(a.Topics, at)
		}
		resp.Assignment = &a
	}
	return resp
}
