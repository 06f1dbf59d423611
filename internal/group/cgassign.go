package group

// Server-side assignors of consumer-protocol groups (group.consumer.assignors):
//
//   - uniform (Kafka's default): every subscribed partition goes to a member
//     subscribed to its topic, counts differ by at most one where the
//     subscriptions allow it, and a partition stays with its previous owner
//     unless balance needs it elsewhere (sticky), so rebalances move little.
//   - range: per topic, the subscribed members in order (instance id for
//     static members, else member id, as Kafka's: a rolling bounce of
//     static members keeps the assignment) get contiguous ranges of
//     partitions, the first ones one extra: members subscribed to the same
//     co-partitioned topics get the same partition numbers of each.

import (
	"bytes"
	"sort"
)

// Assignor names, as Kafka's.
const (
	AssignorUniform = "uniform"
	AssignorRange   = "range"
)

// assignMember is one member as an assignor sees it.
type assignMember struct {
	id    string
	order string // range order: instance id if static, else member id; "" means id
	subs  map[topicID]bool
}

func (m assignMember) rangeKey() string {
	if m.order != "" {
		return m.order
	}
	return m.id
}

// assignFunc computes a target assignment. topics holds every subscribed
// topic's partition count; prev is the current target assignment.
type assignFunc func(members []assignMember, topics map[topicID]int32, prev map[string]parts) map[string]parts

var assignors = map[string]assignFunc{
	AssignorUniform: assignUniform,
	AssignorRange:   assignRange,
}

// sortedTopicIDs returns topic ids in byte order, for deterministic output.
func sortedTopicIDs(topics map[topicID]int32) []topicID {
	ids := make([]topicID, 0, len(topics))
	for id := range topics {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	return ids
}

func assignRange(members []assignMember, topics map[topicID]int32, _ map[string]parts) map[string]parts {
	out := make(map[string]parts, len(members))
	for _, m := range members {
		out[m.id] = make(parts)
	}
	for _, t := range sortedTopicIDs(topics) {
		var subs []assignMember
		for _, m := range members {
			if m.subs[t] {
				subs = append(subs, m)
			}
		}
		if len(subs) == 0 {
			continue
		}
		sort.Slice(subs, func(i, j int) bool { return subs[i].rangeKey() < subs[j].rangeKey() })
		n := topics[t]
		per, extra := n/int32(len(subs)), n%int32(len(subs))
		start := int32(0)
		for i, m := range subs {
			cnt := per
			if int32(i) < extra {
				cnt++
			}
			ps := make([]int32, 0, cnt)
			for p := start; p < start+cnt; p++ {
				ps = append(ps, p)
			}
			out[m.id].add(t, ps...)
			start += cnt
		}
	}
	return out
}

// tpKey is one partition of a topic id.
type tpKey struct {
	t topicID
	p int32
}

func assignUniform(members []assignMember, topics map[topicID]int32, prev map[string]parts) map[string]parts {
	owner := make(map[tpKey]string)
	count := make(map[string]int, len(members))
	byID := make(map[string]assignMember, len(members))
	for _, m := range members {
		byID[m.id] = m
		count[m.id] = 0
	}
	// Sticky: a partition stays with its previous owner if it still
	// subscribes to the topic.
	var free []tpKey
	for _, t := range sortedTopicIDs(topics) {
		for p := int32(0); p < topics[t]; p++ {
			k := tpKey{t, p}
			if id := prevOwner(prev, k); id != "" && byID[id].subs[t] {
				owner[k] = id
				count[id]++
				continue
			}
			free = append(free, k)
		}
	}
	ids := make([]string, 0, len(members))
	for _, m := range members {
		ids = append(ids, m.id)
	}
	sort.Strings(ids)
	for _, k := range free {
		if id := leastLoaded(ids, byID, count, k.t); id != "" {
			owner[k] = id
			count[id]++
		}
	}
	balance(ids, byID, owner, count)
	out := make(map[string]parts, len(members))
	for _, id := range ids {
		out[id] = make(parts)
	}
	for k, id := range owner {
		out[id].add(k.t, k.p)
	}
	return out
}

func prevOwner(prev map[string]parts, k tpKey) string {
	for id, a := range prev {
		if a.has(k.t, k.p) {
			return id
		}
	}
	return ""
}

// leastLoaded is the subscriber of t with the fewest partitions (ties by id).
func leastLoaded(ids []string, byID map[string]assignMember, count map[string]int, t topicID) string {
	best := ""
	for _, id := range ids {
		if byID[id].subs[t] && (best == "" || count[id] < count[best]) {
			best = id
		}
	}
	return best
}

// balance moves partitions from a member to a subscriber of the same topic
// holding at least two fewer, until no such move exists. Each move lowers
// the sum of squared counts, so the loop ends.
func balance(ids []string, byID map[string]assignMember, owner map[tpKey]string, count map[string]int) {
	keys := make([]tpKey, 0, len(owner))
	for k := range owner {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if c := bytes.Compare(keys[i].t[:], keys[j].t[:]); c != 0 {
			return c < 0
		}
		return keys[i].p > keys[j].p // move high partitions first
	})
	for moved := true; moved; {
		moved = false
		for _, k := range keys {
			from := owner[k]
			to := leastLoaded(ids, byID, count, k.t)
			if to != "" && count[to] < count[from]-1 {
				owner[k] = to
				count[from]--
				count[to]++
				moved = true
			}
		}
	}
}
