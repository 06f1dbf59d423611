package group

// OffsetFetch: unknown offsets are -1 with empty metadata and an unknown
// group is not an error. With requireStable (OffsetFetch v7+) partitions with
// a commit still being appended, or committed in a transaction not yet
// decided, answer ErrUnstableOffsetCommit.

import (
	"context"
	"errors"
	"fmt"
	"sort"
)

// OffsetFetch returns the committed offsets of one group for topics, in
// request order (a topic named twice is answered once, with all its
// partitions); nil topics means every committed offset, sorted.
func (c *Coordinator) OffsetFetch(_ context.Context, groupID string, topics []FetchTopic, requireStable bool) ([]FetchedTopic, error) {
	offsets, pending, err := c.offsetsOf(groupID, requireStable)
	if err != nil {
		return nil, err
	}
	answer := func(t tp) FetchedPartition {
		fp := FetchedPartition{Partition: t.partition, Offset: -1, LeaderEpoch: -1}
		if pending[t] > 0 {
			fp.Err = fmt.Errorf("%w: %s/%d of group %q", ErrUnstableOffsetCommit, t.topic, t.partition, groupID)
			return fp
		}
		if e, ok := offsets[t]; ok {
			fp.Offset, fp.LeaderEpoch, fp.Metadata = e.offset, e.leaderEpoch, e.metadata
		}
		return fp
	}
	if topics == nil {
		topics = committedTopics(offsets)
	} else {
		topics = MergeFetchTopics(topics)
	}
	out := make([]FetchedTopic, 0, len(topics))
	for _, t := range topics {
		ft := FetchedTopic{Topic: t.Topic}
		for _, p := range t.Partitions {
			ft.Partitions = append(ft.Partitions, answer(tp{t.Topic, p}))
		}
		out = append(out, ft)
	}
	return out, nil
}

// offsetsOf snapshots a group's committed offsets and, if requireStable,
// its commits in flight. An unknown group has none.
func (c *Coordinator) offsetsOf(groupID string, requireStable bool) (map[tp]offsetEntry, map[tp]int, error) {
	_, g, err := c.lookup(groupID)
	if err != nil || g == nil {
		return nil, nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.closedErr(); errors.Is(err, ErrNotCoordinator) {
		return nil, nil, err
	}
	offsets := make(map[tp]offsetEntry, len(g.offsets))
	for k, v := range g.offsets {
		offsets[k] = v
	}
	var pending map[tp]int
	if requireStable && len(g.pendingCommits) > 0 {
		pending = make(map[tp]int, len(g.pendingCommits))
		for k, v := range g.pendingCommits {
			pending[k] = v
		}
	}
	if requireStable {
		pending = c.addTxnPending(g, pending)
	}
	return offsets, pending, nil
}

// committedTopics lists the partitions of offsets, topics and partitions
// sorted.
func committedTopics(offsets map[tp]offsetEntry) []FetchTopic {
	byTopic := make(map[string][]int32)
	for k := range offsets {
		byTopic[k.topic] = append(byTopic[k.topic], k.partition)
	}
	out := make([]FetchTopic, 0, len(byTopic))
	for name, ps := range byTopic {
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		out = append(out, FetchTopic{Topic: name, Partitions: ps})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out
}

// MergeFetchTopics merges repeated topics into their first occurrence,
// keeping the order topics were first named in. OffsetFetch answers with
// the merged list; callers that must report errors per requested partition
// use it to answer in the same shape.
func MergeFetchTopics(topics []FetchTopic) []FetchTopic {
	idx := make(map[string]int, len(topics))
	out := make([]FetchTopic, 0, len(topics))
	for _, t := range topics {
		i, ok := idx[t.Topic]
		if !ok {
			idx[t.Topic] = len(out)
			out = append(out, FetchTopic{Topic: t.Topic})
			i = len(out) - 1
		}
		out[i].Partitions = append(out[i].Partitions, t.Partitions...)
	}
	return out
}
