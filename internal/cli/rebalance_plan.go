package cli

import (
	"cmp"
	"slices"
	"strconv"
)

// The rebalance planner behind `strom cluster rebalance` and `strom cluster
// drain`: a pure function from the current assignment to a new one.
//
// Goals, in order: (1) no replica on a broker that is not a target (drained,
// or gone); (2) replica counts per target broker within one of each other;
// (3) preferred leaders (first replicas) per broker within one of each
// other; with the fewest replica moves that reach them, greedily: a replica
// only moves from an over-full broker to an under-full one, and leaders are
// balanced by reordering replica lists (no data moves). Rack-aware when
// racks are set: a destination whose rack the partition does not use yet is
// preferred, and a move never puts a second replica in a rack when a
// free rack was available. Deterministic: same input, same plan.

// planPartition is one partition's replica list, preferred leader first.
type planPartition struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"`
}

// planMove is one partition whose replicas the plan changes.
type planMove struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	From      []int32 `json:"from"`
	To        []int32 `json:"to"`
}

// planRebalance returns the partitions whose replica list changes, in topic
// and partition order. targets are the brokers to spread over (live, minus
// the drained one); racks maps broker to rack ("" or absent: no rack).
// Each topic is balanced on its own (as Kafka's tools do, so a topic's load
// spreads too), ties broken by the brokers' load over all topics.
func planRebalance(parts []planPartition, targets []int32, racks map[int32]string) []planMove {
	if len(targets) == 0 {
		return nil
	}
	targets = slices.Sorted(slices.Values(targets))
	work := make([]planPartition, len(parts))
	for i, p := range parts {
		work[i] = planPartition{p.Topic, p.Partition, slices.Clone(p.Replicas)}
	}
	slices.SortFunc(work, func(a, b planPartition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	global := map[int32]int{}
	for _, p := range work {
		for _, id := range p.Replicas {
			global[id]++
		}
	}
	for start := 0; start < len(work); {
		end := start
		for end < len(work) && work[end].Topic == work[start].Topic {
			end++
		}
		topic := work[start:end]
		l := loads{topic: map[int32]int{}, global: global}
		for _, p := range topic {
			for _, id := range p.Replicas {
				l.topic[id]++
			}
		}
		evacuate(topic, targets, racks, l)
		spread(topic, targets, racks, l)
		balanceLeaders(topic, targets)
		start = end
	}
	orig := map[string][]int32{}
	for _, p := range parts {
		orig[p.Topic+"\x00"+strconv.Itoa(int(p.Partition))] = p.Replicas
	}
	var out []planMove
	for _, p := range work {
		if from := orig[p.Topic+"\x00"+strconv.Itoa(int(p.Partition))]; !slices.Equal(from, p.Replicas) {
			out = append(out, planMove{Topic: p.Topic, Partition: p.Partition, From: slices.Clone(from), To: p.Replicas})
		}
	}
	return out
}

// loads counts replicas per broker in the topic being planned and overall.
type loads struct{ topic, global map[int32]int }

func (l loads) move(from, to int32) {
	l.topic[from]--
	l.topic[to]++
	l.global[from]--
	l.global[to]++
}

// less orders brokers by topic load, then global load, then id.
func (l loads) less(a, b int32) bool {
	if l.topic[a] != l.topic[b] {
		return l.topic[a] < l.topic[b]
	}
	if l.global[a] != l.global[b] {
		return l.global[a] < l.global[b]
	}
	return a < b
}

// evacuate replaces every replica on a non-target broker, in place (so a
// replaced preferred leader's successor is preferred).
func evacuate(work []planPartition, targets []int32, racks map[int32]string, l loads) {
	for i := range work {
		for j, id := range work[i].Replicas {
			if slices.Contains(targets, id) {
				continue
			}
			if dst, ok := pickDestination(work[i].Replicas, j, targets, racks, l, false); ok {
				work[i].Replicas[j] = dst
				l.move(id, dst)
			}
		}
	}
}

// spread moves replicas from the fullest target broker to the emptiest
// until the topic's counts differ by at most one (and, where they differ by
// one, the extra sits on brokers with less load overall), or no move is
// possible.
func spread(work []planPartition, targets []int32, racks map[int32]string, l loads) {
	for range 1 << 16 { // bounded: each move lowers the spread of counts
		hi, lo := targets[0], targets[0]
		for _, id := range targets {
			if l.less(hi, id) {
				hi = id
			}
			if l.less(id, lo) {
				lo = id
			}
		}
		d := l.topic[hi] - l.topic[lo]
		if d == 0 || (d == 1 && l.global[hi]-l.global[lo] <= 1) || !moveOne(work, hi, lo, racks, l) {
			return
		}
	}
}

// moveOne moves one replica from broker hi to broker lo: from the first
// partition that has hi but not lo and where the move does not crowd a rack.
func moveOne(work []planPartition, hi, lo int32, racks map[int32]string, l loads) bool {
	for i := range work {
		r := work[i].Replicas
		j := slices.Index(r, hi)
		if j < 0 || slices.Contains(r, lo) {
			continue
		}
		if dst, ok := pickDestination(r, j, []int32{lo}, racks, l, true); ok && dst == lo {
			r[j] = lo
			l.move(hi, lo)
			return true
		}
	}
	return false
}

// pickDestination chooses the broker to take replicas[j]: among targets not
// already replicas, one whose rack the other replicas do not use when there
// is one, then the least loaded (loads.less). When balancing, a move that
// would put a replica whose rack was unique into a used rack is refused.
func pickDestination(replicas []int32, j int, targets []int32, racks map[int32]string, l loads, balancing bool) (int32, bool) {
	used := map[string]bool{}
	for k, id := range replicas {
		if k != j && racks[id] != "" {
			used[racks[id]] = true
		}
	}
	best, bestFree, found := int32(0), false, false
	for _, id := range targets {
		if slices.Contains(replicas, id) {
			continue
		}
		free := racks[id] == "" || !used[racks[id]]
		if !found || (free && !bestFree) || (free == bestFree && l.less(id, best)) {
			best, bestFree, found = id, free, true
		}
	}
	if found && balancing && !bestFree && (racks[replicas[j]] == "" || !used[racks[replicas[j]]]) {
		return 0, false // balancing must not put two replicas in one rack
	}
	return best, found
}

// balanceLeaders reorders replica lists so that each target broker is the
// preferred leader of a near-equal share of partitions: while a broker
// leads two more than another, a partition it leads and the other hosts
// gets the other in front. Partitions with a single replica cannot change.
func balanceLeaders(work []planPartition, targets []int32) {
	lead := map[int32]int{}
	for _, p := range work {
		if len(p.Replicas) > 0 {
			lead[p.Replicas[0]]++
		}
	}
	for range 1 << 16 {
		moved := false
		for _, hi := range targets {
			for _, lo := range targets {
				if lead[hi]-lead[lo] < 2 {
					continue
				}
				for i := range work {
					r := work[i].Replicas
					if len(r) > 1 && r[0] == hi {
						if k := slices.Index(r, lo); k > 0 {
							r[0], r[k] = r[k], r[0]
							lead[hi]--
							lead[lo]++
							moved = true
							break
						}
					}
				}
			}
		}
		if !moved {
			return
		}
	}
}
