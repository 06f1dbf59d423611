package group

// OffsetFetch (key 9), v0-v9.
//
//   - v0-v1: per-partition errors only; v2+ a top-level error and null
//     topics meaning "every committed offset of the group".
//   - v5 returns leader epochs; v7 RequireStable: partitions with a commit
//     still being appended answer UNSTABLE_OFFSET_COMMIT (this coordinator has
//     no transactional offsets, the case Kafka means).
//   - v8 batches groups, each with its own error; v9 adds member id/epoch
//     for KIP-848 groups, ignored for classic groups as in Kafka.
//   - v10 identifies topics by id and is not implemented.
//   - Unknown offsets are -1 with empty metadata; an unknown group is not an
//     error.

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchedPartition is one answer of a group's offset fetch.
type fetchedPartition struct {
	partition   int32
	offset      int64
	leaderEpoch int32
	metadata    string
	code        int16
}

type fetchedTopic struct {
	topic      string
	partitions []fetchedPartition
}

// OffsetFetch returns committed offsets.
func (c *Coordinator) OffsetFetch(_ context.Context, req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := kmsg.NewPtrOffsetFetchResponse()
	resp.Version = req.Version
	if req.Version < 0 || req.Version > Versions[apiOffsetFetch][1] {
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		for _, rg := range req.Groups {
			g := kmsg.NewOffsetFetchResponseGroup()
			g.Group, g.ErrorCode = rg.Group, kerr.UnsupportedVersion.Code
			resp.Groups = append(resp.Groups, g)
		}
		return resp
	}
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			var want map[string][]int32
			var order []string
			if rg.Topics != nil {
				want = make(map[string][]int32)
				for _, t := range rg.Topics {
					if _, ok := want[t.Topic]; !ok {
						order = append(order, t.Topic)
					}
					want[t.Topic] = append(want[t.Topic], t.Partitions...)
				}
			}
			topics, code := c.fetchOffsets(rg.Group, want, order, req.RequireStable)
			g := kmsg.NewOffsetFetchResponseGroup()
			g.Group, g.ErrorCode = rg.Group, code
			for _, t := range topics {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic = t.topic
				for _, p := range t.partitions {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p.partition, p.offset, p.leaderEpoch, p.code
					md := p.metadata
					rp.Metadata = &md
					rt.Partitions = append(rt.Partitions, rp)
				}
				g.Topics = append(g.Topics, rt)
			}
			resp.Groups = append(resp.Groups, g)
		}
		return resp
	}

	var want map[string][]int32
	var order []string
	if req.Topics != nil || req.Version < 2 {
		want = make(map[string][]int32)
		for _, t := range req.Topics {
			if _, ok := want[t.Topic]; !ok {
				order = append(order, t.Topic)
			}
			want[t.Topic] = append(want[t.Topic], t.Partitions...)
		}
	}
	topics, code := c.fetchOffsets(req.Group, want, order, req.Version >= 7 && req.RequireStable)
	if code != 0 && req.Version < 2 {
		// No top-level error before v2: report it on every partition.
		topics = nil
		for _, name := range order {
			ft := fetchedTopic{topic: name}
			for _, p := range want[name] {
				ft.partitions = append(ft.partitions, fetchedPartition{partition: p, offset: -1, leaderEpoch: -1, code: code})
			}
			topics = append(topics, ft)
		}
	}
	resp.ErrorCode = code
	for _, t := range topics {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t.topic
		for _, p := range t.partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p.partition, p.offset, p.leaderEpoch, p.code
			md := p.metadata
			rp.Metadata = &md
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// fetchOffsets answers one group; want nil means all committed offsets.
func (c *Coordinator) fetchOffsets(groupID string, want map[string][]int32, order []string, requireStable bool) ([]fetchedTopic, int16) {
	_, g, code := c.lookup(groupID)
	if code != 0 {
		return nil, code
	}
	var offsets map[tp]offsetEntry
	var pending map[tp]int
	if g != nil {
		g.mu.Lock()
		if code := g.closedCode(); code == kerr.NotCoordinator.Code {
			g.mu.Unlock()
			return nil, code
		}
		offsets = make(map[tp]offsetEntry, len(g.offsets))
		for k, v := range g.offsets {
			offsets[k] = v
		}
		if requireStable && len(g.pendingCommits) > 0 {
			pending = make(map[tp]int, len(g.pendingCommits))
			for k, v := range g.pendingCommits {
				pending[k] = v
			}
		}
		g.mu.Unlock()
	}
	answer := func(t tp) fetchedPartition {
		fp := fetchedPartition{partition: t.partition, offset: -1, leaderEpoch: -1}
		if pending[t] > 0 {
			fp.code = kerr.UnstableOffsetCommit.Code
			return fp
		}
		if e, ok := offsets[t]; ok {
			fp.offset, fp.leaderEpoch, fp.metadata = e.offset, e.leaderEpoch, e.metadata
		}
		return fp
	}
	var out []fetchedTopic
	if want == nil {
		byTopic := make(map[string][]int32)
		for k := range offsets {
			byTopic[k.topic] = append(byTopic[k.topic], k.partition)
		}
		for name := range byTopic {
			order = append(order, name)
		}
		sort.Strings(order)
		for _, name := range order {
			ps := byTopic[name]
			sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
			ft := fetchedTopic{topic: name}
			for _, p := range ps {
				ft.partitions = append(ft.partitions, answer(tp{name, p}))
			}
			out = append(out, ft)
		}
		return out, 0
	}
	for _, name := range order {
		ft := fetchedTopic{topic: name}
		for _, p := range want[name] {
			ft.partitions = append(ft.partitions, answer(tp{name, p}))
		}
		out = append(out, ft)
	}
	return out, 0
}
