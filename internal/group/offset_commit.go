package group

// OffsetCommit: generation -1 with an empty member id (and no instance id)
// is a simple commit, allowed only while the group has no members (creating
// the group if needed); otherwise member and generation must match the
// group's, and a group in CompletingRebalance answers ErrRebalanceInProgress
// (Kafka's validateOffsetCommit and doCommitOffsets). Partitions that are
// unknown or carry too much metadata fail alone; the rest are written as one
// batch and answered only after the append.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// commitEntry is one validated partition of a commit.
type commitEntry struct {
	tp tp
	e  offsetEntry
}

// OffsetCommit stores offsets for a group. It returns one result per request
// partition, in request order.
func (c *Coordinator) OffsetCommit(ctx context.Context, req *kmsg.OffsetCommitRequest) []PartitionResult {
	var res []PartitionResult
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			res = append(res, PartitionResult{Topic: t.Topic, Partition: p.Partition})
		}
	}
	setAll := func(err error) []PartitionResult {
		for i := range res {
			if res[i].Err == nil {
				res[i].Err = err
			}
		}
		return res
	}
	if err := checkVersion(apiOffsetCommit, req.Version); err != nil {
		return setAll(err)
	}
	entries := c.commitEntries(req, res)
	return setAll(c.commit(ctx, req, entries))
}

// commitEntries validates each partition, setting res[i].Err for the ones
// refused, and returns the others.
func (c *Coordinator) commitEntries(req *kmsg.OffsetCommitRequest, res []PartitionResult) []commitEntry {
	now := nowMillis(c.now())
	expire := int64(-1)
	if req.Version >= 2 && req.Version <= 4 && req.RetentionTimeMillis != -1 {
		expire = now + req.RetentionTimeMillis
	}
	var entries []commitEntry
	i := 0
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			r := &res[i]
			i++
			md := ""
			if p.Metadata != nil {
				md = *p.Metadata
			}
			switch {
			case len(md) > c.cfg.MaxMetadataSize:
				r.Err = fmt.Errorf("%w: %d bytes, at most %d", ErrOffsetMetadataTooLarge, len(md), c.cfg.MaxMetadataSize)
				continue
			case c.cfg.TopicPartitionExists != nil && !c.cfg.TopicPartitionExists(t.Topic, p.Partition):
				r.Err = fmt.Errorf("%w: %s/%d", ErrUnknownTopicOrPartition, t.Topic, p.Partition)
				continue
			}
			e := offsetEntry{offset: p.Offset, leaderEpoch: -1, metadata: md, commitTime: now, expireTime: expire}
			if req.Version >= 6 {
				e.leaderEpoch = p.LeaderEpoch
			}
			if req.Version == 1 && p.Timestamp != -1 {
				e.commitTime = p.Timestamp
			}
			entries = append(entries, commitEntry{tp{t.Topic, p.Partition}, e})
		}
	}
	return entries
}

// commit checks the committer against the group and appends entries; the
// error applies to every partition not already refused.
func (c *Coordinator) commit(ctx context.Context, req *kmsg.OffsetCommitRequest, entries []commitEntry) error {
	generation, memberID := req.Generation, req.MemberID
	if req.Version == 0 {
		generation, memberID = -1, ""
	}
	var instanceID *string
	if req.Version >= 7 {
		instanceID = req.InstanceID
	}
	g, err := c.commitGroup(req.Group, generation, req.Version)
	if err != nil {
		return err
	}
	g.appendMu.Lock()
	defer g.appendMu.Unlock()
	g.mu.Lock()
	err = g.commitCheck(generation, memberID, instanceID, req.Version)
	if err != nil || len(entries) == 0 {
		g.mu.Unlock()
		return err
	}
	recs := make([]kv, 0, len(entries))
	for _, e := range entries {
		g.pendingCommits[e.tp]++
		recs = append(recs, kv{offsetKey(g.id, e.tp.topic, e.tp.partition), offsetValue(e.e)})
	}
	g.mu.Unlock()

	err = g.append(ctx, recs)

	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range entries {
		if g.pendingCommits[e.tp]--; g.pendingCommits[e.tp] <= 0 {
			delete(g.pendingCommits, e.tp)
		}
	}
	if err != nil {
		c.log.Warn("cannot persist offset commit", "group", g.id, "err", err)
		return fmt.Errorf("commit offsets: %w", err)
	}
	if err := g.closedErr(); err != nil {
		// Deleted or unloaded while appending; the record is in the log
		// and a reload will see it, but this instance no longer serves it.
		return err
	}
	for _, e := range entries {
		g.offsets[e.tp] = e.e
	}
	return nil
}

// commitGroup finds the group a commit is for; a simple commit (generation
// < 0) creates it, any other commit to an unknown group is from an old
// generation (ErrIllegalGeneration), or, from OffsetCommit v9 on (the
// version KIP-848 members use), ErrGroupIDNotFound, as in Kafka.
func (c *Coordinator) commitGroup(groupID string, generation int32, version int16) (*group, error) {
	_, g, err := c.lookup(groupID)
	switch {
	case err != nil:
		return nil, err
	case g != nil:
		return g, nil
	case generation >= 0 && version >= 9:
		return nil, fmt.Errorf("%w: %q", ErrGroupIDNotFound, groupID)
	case generation >= 0:
		return nil, fmt.Errorf("%w: %d, no group %q", ErrIllegalGeneration, generation, groupID)
	}
	return c.getOrCreate(groupID)
}

// commitCheck is Kafka's validateOffsetCommit followed by doCommitOffsets'
// state check. version is the OffsetCommit version, -1 for
// TxnOffsetCommit. Caller holds g.mu.
func (g *group) commitCheck(generation int32, memberID string, instanceID *string, version int16) error {
	if err := g.closedErr(); err != nil {
		return err
	}
	if g.cons != nil {
		return g.cgCommitCheck(generation, memberID, version)
	}
	var m *member
	if generation >= 0 || memberID != "" || instanceID != nil {
		m = g.members[memberID]
		switch {
		case g.fenced(instanceID, memberID):
			return g.fencedErr(instanceID, memberID)
		case m == nil:
			return g.unknownMemberErr(memberID)
		case generation != g.generation:
			return g.illegalGenerationErr(generation)
		}
	} else if g.state != stateEmpty {
		// A simple commit (a consumer storing offsets in Kafka without
		// group management) to a group that has members.
		return fmt.Errorf("%w: simple commit to group %q with members", ErrUnknownMemberID, g.id)
	}
	switch g.state {
	case stateCompletingRebalance:
		return fmt.Errorf("%w: group %q", ErrRebalanceInProgress, g.id)
	case stateStable, statePreparingRebalance:
		g.scheduleSession(m)
	}
	return nil
}
