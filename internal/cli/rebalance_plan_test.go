package cli

import (
	"fmt"
	"slices"
	"testing"
)

func planCounts(parts []planPartition, moves []planMove) (replicas, leaders map[int32]int, after []planPartition) {
	to := map[string][]int32{}
	for _, m := range moves {
		to[fmt.Sprint(m.Topic, m.Partition)] = m.To
	}
	replicas, leaders = map[int32]int{}, map[int32]int{}
	for _, p := range parts {
		r := p.Replicas
		if t, ok := to[fmt.Sprint(p.Topic, p.Partition)]; ok {
			r = t
		}
		after = append(after, planPartition{p.Topic, p.Partition, r})
		for _, id := range r {
			replicas[id]++
		}
		leaders[r[0]]++
	}
	return replicas, leaders, after
}

func spreadOK(t *testing.T, what string, counts map[int32]int, brokers []int32) {
	t.Helper()
	lo, hi := 1<<30, -1
	for _, id := range brokers {
		lo, hi = min(lo, counts[id]), max(hi, counts[id])
	}
	if hi-lo > 1 {
		t.Errorf("%s not balanced over %v: %v", what, brokers, counts)
	}
}

func threeBrokerTopic(n int) []planPartition {
	var parts []planPartition
	for i := range n {
		parts = append(parts, planPartition{"t", int32(i), []int32{int32(i%3 + 1), int32((i+1)%3 + 1), int32((i+2)%3 + 1)}})
	}
	return parts
}

func TestPlanRebalanceAddBroker(t *testing.T) {
	parts := threeBrokerTopic(6)
	moves := planRebalance(parts, []int32{1, 2, 3, 4}, nil)
	replicas, leaders, after := planCounts(parts, moves)
	spreadOK(t, "replicas", replicas, []int32{1, 2, 3, 4})
	spreadOK(t, "leaders", leaders, []int32{1, 2, 3, 4})
	// Minimal: broker 4 takes 18/4 → 4 replicas; each move is one replica
	// onto broker 4, so at most 4 partitions change hosts.
	moved := 0
	for _, m := range moves {
		for _, id := range m.To {
			if !slices.Contains(m.From, id) {
				moved++
			}
		}
	}
	if moved != 4 {
		t.Errorf("moved %d replicas, want 4 (minimal): %+v", moved, moves)
	}
	for _, p := range after {
		if len(p.Replicas) != 3 || len(slices.Compact(slices.Sorted(slices.Values(p.Replicas)))) != 3 {
			t.Errorf("bad replica list %+v", p)
		}
	}
	if again := planRebalance(after, []int32{1, 2, 3, 4}, nil); len(again) != 0 {
		t.Errorf("a balanced cluster gets moves: %+v", again)
	}
}

func TestPlanDrainAndRacks(t *testing.T) {
	parts := threeBrokerTopic(6)
	parts = planRebalanceApply(parts, planRebalance(parts, []int32{1, 2, 3, 4}, nil))
	moves := planRebalance(parts, []int32{1, 2, 3}, nil)
	replicas, leaders, _ := planCounts(parts, moves)
	if replicas[4] != 0 || leaders[4] != 0 {
		t.Fatalf("drain left replicas on 4: %v", replicas)
	}
	spreadOK(t, "replicas", replicas, []int32{1, 2, 3})
	spreadOK(t, "leaders", leaders, []int32{1, 2, 3})

	// Racks: a,a,b,b; rf 2 partitions all on rack a ({1,2}) get one replica
	// moved to rack b.
	racks := map[int32]string{1: "a", 2: "a", 3: "b", 4: "b"}
	var rp []planPartition
	for i := range 4 {
		rp = append(rp, planPartition{"r", int32(i), []int32{1 + int32(i%2), 2 - int32(i%2)}})
	}
	_, _, after := planCounts(rp, planRebalance(rp, []int32{1, 2, 3, 4}, racks))
	for _, p := range after {
		if racks[p.Replicas[0]] == racks[p.Replicas[1]] {
			t.Errorf("partition %d has both replicas in rack %s: %v", p.Partition, racks[p.Replicas[0]], p.Replicas)
		}
	}
}

func planRebalanceApply(parts []planPartition, moves []planMove) []planPartition {
	_, _, after := planCounts(parts, moves)
	return after
}

// TestPlanManySmallTopics: per-topic balance alone would leave six
// single-replica topics on broker 1; the global tie-break spreads them.
func TestPlanManySmallTopics(t *testing.T) {
	var parts []planPartition
	for i := range 6 {
		parts = append(parts, planPartition{fmt.Sprint("t", i), 0, []int32{1}})
	}
	replicas, _, _ := planCounts(parts, planRebalance(parts, []int32{1, 2, 3}, nil))
	spreadOK(t, "replicas", replicas, []int32{1, 2, 3})
}
