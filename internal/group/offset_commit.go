package group

// OffsetCommit (key 8), v0-v9.
//
//   - v0 has no generation or member id: a standalone (simple) commit.
//   - v1 carries a per-partition commit timestamp (-1 = now); v2-v4 a
//     retention time (-1 = broker default), stored as Kafka does in an
//     OffsetCommitValue v1 with an explicit expire timestamp.
//   - v6 adds the leader epoch; v7 group.instance.id; v8 is flexible.
//   - v10 identifies topics by id and is not implemented.
//   - Generation -1 with an empty member id commits for a group that has no
//     members (creating it if needed); otherwise member and generation must
//     match the group's (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION;
//     REBALANCE_IN_PROGRESS while CompletingRebalance). Commits are answered
//     only after they are appended to the offsets log.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetCommit stores offsets for a group.
func (c *Coordinator) OffsetCommit(ctx context.Context, req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	resp := kmsg.NewPtrOffsetCommitResponse()
	resp.Version = req.Version
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	setAll := func(code int16) *kmsg.OffsetCommitResponse {
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if resp.Topics[i].Partitions[j].ErrorCode == 0 {
					resp.Topics[i].Partitions[j].ErrorCode = code
				}
			}
		}
		return resp
	}
	if req.Version < 0 || req.Version > Versions[apiOffsetCommit][1] {
		return setAll(kerr.UnsupportedVersion.Code)
	}

	now := nowMillis(c.now())
	generation, memberID := req.Generation, req.MemberID
	if req.Version == 0 {
		generation, memberID = -1, ""
	}
	var instanceID *string
	if req.Version >= 7 {
		instanceID = req.InstanceID
	}
	expire := int64(-1)
	if req.Version >= 2 && req.Version <= 4 && req.RetentionTimeMillis != -1 {
		expire = now + req.RetentionTimeMillis
	}

	// Per-partition validation first; only valid partitions are written.
	var recs []kv
	var entries []struct {
		tp tp
		e  offsetEntry
	}
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			rp := &resp.Topics[i].Partitions[j]
			md := ""
			if p.Metadata != nil {
				md = *p.Metadata
			}
			switch {
			case len(md) > c.cfg.MaxMetadataSize:
				rp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
				continue
			case c.cfg.TopicPartitionExists != nil && !c.cfg.TopicPartitionExists(t.Topic, p.Partition):
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			e := offsetEntry{offset: p.Offset, leaderEpoch: -1, metadata: md, commitTime: now, expireTime: expire}
			if req.Version >= 6 {
				e.leaderEpoch = p.LeaderEpoch
			}
			if req.Version == 1 && p.Timestamp != -1 {
				e.commitTime = p.Timestamp
			}
			entries = append(entries, struct {
				tp tp
				e  offsetEntry
			}{tp{t.Topic, p.Partition}, e})
			recs = append(recs, kv{offsetKey(req.Group, t.Topic, p.Partition), offsetValue(e)})
		}
	}

	_, g, code := c.lookup(req.Group)
	if code != 0 {
		return setAll(code)
	}
	if g == nil {
		if generation >= 0 {
			return setAll(kerr.IllegalGeneration.Code)
		}
		if g, code = c.getOrCreate(req.Group); code != 0 {
			return setAll(code)
		}
	}

	g.appendMu.Lock()
	defer g.appendMu.Unlock()
	g.mu.Lock()
	code = g.commitCheck(generation, memberID, instanceID)
	if code != 0 || len(recs) == 0 {
		g.mu.Unlock()
		return setAll(code)
	}
	for _, e := range entries {
		g.pendingCommits[e.tp]++
	}
	g.mu.Unlock()

	err := g.append(ctx, recs)

	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range entries {
		if g.pendingCommits[e.tp]--; g.pendingCommits[e.tp] <= 0 {
			delete(g.pendingCommits, e.tp)
		}
	}
	if err != nil {
		c.log.Warn("cannot persist offset commit", "group", req.Group, "err", err)
		return setAll(appendErrorCode(err))
	}
	if g.unloaded || g.state == stateDead {
		// Deleted or unloaded while appending; the record is in the log
		// and a reload will see it, but this instance no longer serves it.
		return setAll(g.closedCode())
	}
	for _, e := range entries {
		g.offsets[e.tp] = e.e
	}
	return setAll(0)
}

// commitCheck is Kafka's doCommitOffsets validation. Caller holds g.mu.
func (g *group) commitCheck(generation int32, memberID string, instanceID *string) int16 {
	if code := g.closedCode(); code != 0 {
		return code
	}
	if g.fenced(instanceID, memberID) {
		return kerr.FencedInstanceID.Code
	}
	if generation < 0 && g.state == stateEmpty {
		return 0 // standalone consumer storing offsets in Kafka
	}
	if g.state == stateCompletingRebalance {
		return kerr.RebalanceInProgress.Code
	}
	m := g.members[memberID]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	if generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	g.scheduleSession(m)
	return 0
}

// appendErrorCode maps an OffsetLog.Append error to the code Kafka's
// coordinator answers for a failed write of its own log. The log may wrap a
// *kerr.Error to say what happened; anything else is COORDINATOR_NOT_AVAILABLE
// so the client rediscovers the coordinator and retries.
func appendErrorCode(err error) int16 {
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		return kerr.CoordinatorNotAvailable.Code
	}
	switch ke {
	case kerr.UnknownTopicOrPartition, kerr.NotEnoughReplicas, kerr.NotEnoughReplicasAfterAppend, kerr.RequestTimedOut:
		return kerr.CoordinatorNotAvailable.Code
	case kerr.NotLeaderForPartition, kerr.KafkaStorageError:
		return kerr.NotCoordinator.Code
	case kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidFetchSize:
		return kerr.InvalidCommitOffsetSize.Code
	}
	return ke.Code
}
