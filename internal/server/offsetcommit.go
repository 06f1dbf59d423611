package server

// OffsetCommit (key 8), v0-v9; served by the group coordinator.
//
//   - v0 has no generation or member id: a standalone (simple) commit.
//   - v1 carries a per-partition commit timestamp (-1 = now); v2-v4 a
//     retention time (-1 = broker default), stored as Kafka does in an
//     OffsetCommitValue v1 with an explicit expire timestamp.
//   - v6 adds the leader epoch; v7 group.instance.id; v8 is flexible.
//   - v10 identifies topics by id and is not implemented.
//   - Generation -1 with an empty member id commits for a group that has no
//     members (creating it if needed; UNKNOWN_MEMBER_ID if it has members);
//     otherwise member and generation must match the group's
//     (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID;
//     REBALANCE_IN_PROGRESS while CompletingRebalance). In a KIP-848
//     consumer group the generation is the member epoch: another epoch is
//     STALE_MEMBER_EPOCH, and members must commit with v9+
//     (UNSUPPORTED_VERSION), as Kafka checks.
//   - Per partition: UNKNOWN_TOPIC_OR_PARTITION, OFFSET_METADATA_TOO_LARGE.
//   - Commits are answered only after they are appended to the offsets log;
//     an append that finds this broker no longer leads the offsets partition
//     answers NOT_COORDINATOR (the client rediscovers the coordinator), one
//     that cannot be made durable now COORDINATOR_NOT_AVAILABLE.
//   - Every partition of the request is answered, in request order.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/group"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleOffsetCommit(ctx context.Context, req *wire.Request, r *kmsg.OffsetCommitRequest) kmsg.Response {
	// Kafka's checks: READ on the group (else every partition is
	// GROUP_AUTHORIZATION_FAILED), READ on each topic (else its partitions
	// are TOPIC_AUTHORIZATION_FAILED); only the allowed topics are committed.
	groupOK := s.authorize(req, acl.OpRead, acl.ResourceGroup, r.Group)
	allowed := *r
	allowed.Topics = nil
	topicOK := make([]bool, len(r.Topics))
	for i, t := range r.Topics {
		if topicOK[i] = groupOK && s.authorize(req, acl.OpRead, acl.ResourceTopic, t.Topic); topicOK[i] {
			allowed.Topics = append(allowed.Topics, t)
		}
	}
	var res []group.PartitionResult
	if len(allowed.Topics) > 0 || (groupOK && len(r.Topics) == 0) {
		res = s.groups.OffsetCommit(ctx, &allowed)
	}
	resp := kmsg.NewPtrOffsetCommitResponse()
	resp.Version = r.Version
	k := 0
	for i, t := range r.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			switch {
			case !groupOK:
				rp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			case !topicOK[i]:
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			default:
				rp.ErrorCode = errorCode(res[k].Err)
				k++
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
