package cli

import (
	"cmp"
	"slices"
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
	load := map[int32]int{}
	for _, p := range work {
		for _, id := range p.Replicas {
			load[id]++
		}
	}
	evacuate(work, targets, racks, load)
	spread(work, targets, racks, load)
	balanceLeaders(work, targets)
	var out []planMove
	orig := map[[2]any][]int32{}
	for _, p := range parts {
		orig[[2]any{p.Topic, p.Partition}] = p.Replicas
	}
	for _, p := range work {
		if from := orig[[2]any{p.Topic, p.Partition}]; !slices.Equal(from, p.Replicas) {
			out = append(out, planMove{Topic: p.Topic, Partition: p.Partition, From: slices.Clone(from), To: p.Replicas})
		}
	}
	return out
}

// evacuate replaces every replica on a non-target broker, in place (so a
// replaced preferred leader's successor is preferred).
func evacuate(work []planPartition, targets []int32, racks map[int32]string, load map[int32]int) {
	for i := range work {
		for j, id := range work[i].Replicas {
			if slices.Contains(targets, id) {
				continue
			}
			if dst, ok := pickDestination(work[i].Replicas, j, targets, racks, load, -1); ok {
				work[i].Replicas[j] = dst
				load[id]--
				load[dst]++
			}
		}
	}
}

// spread moves replicas from the fullest target broker to the emptiest
// until their counts differ by at most one, or no move is possible.
func spread(work []planPartition, targets []int32, racks map[int32]string, load map[int32]int) {
	for range 1 << 16 { // bounded: each move lowers the spread of counts
		hi, lo := targets[0], targets[0]
		for _, id := range targets {
			if load[id] > load[hi] {
				hi = id
			}
			if load[id] < load[lo] {
				lo = id
			}
		}
		if load[hi]-load[lo] <= 1 || !moveOne(work, hi, lo, racks, load) {
			return
		}
	}
}

// moveOne moves one replica from broker hi to broker lo: from the first
// partition that has hi but not lo and where the move does not crowd a rack.
func moveOne(work []planPartition, hi, lo int32, racks map[int32]string, load map[int32]int) bool {
	for i := range work {
		r := work[i].Replicas
		j := slices.Index(r, hi)
		if j < 0 || slices.Contains(r, lo) {
			continue
		}
		if dst, ok := pickDestination(r, j, []int32{lo}, racks, load, load[hi]); ok && dst == lo {
			r[j] = lo
			load[hi]--
			load[lo]++
			return true
		}
	}
	return false
}

// pickDestination chooses the broker to take replicas[j]: among targets not
// already replicas, one whose rack the other replicas do not use when there
// is one (and only such when the current broker's rack was unique), the
// least loaded, lowest id on ties. With maxLoad >= 0 the destination must
// hold fewer than maxLoad-1 replicas (a move that balances).
func pickDestination(replicas []int32, j int, targets []int32, racks map[int32]string, load map[int32]int, maxLoad int) (int32, bool) {
	used := map[string]bool{}
	for k, id := range replicas {
		if k != j && racks[id] != "" {
			used[racks[id]] = true
		}
	}
	best, bestFree, found := int32(0), false, false
	for _, id := range targets {
		if slices.Contains(replicas, id) || (maxLoad >= 0 && load[id] >= maxLoad-1) {
			continue
		}
		free := racks[id] == "" || !used[racks[id]]
		if !found || (free && !bestFree) || (free == bestFree && load[id] < load[best]) {
			best, bestFree, found = id, free, true
		}
	}
	if found && maxLoad >= 0 && !bestFree && (racks[replicas[j]] == "" || !used[racks[replicas[j]]]) {
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
