package controller

import (
	"slices"
	"testing"

	"github.com/strombroker/strom/raftmeta"
)

func TestShrinkISRs(t *testing.T) {
	st := &raftmeta.State{Topics: map[string]*raftmeta.Topic{
		"t": {Name: "t", Partitions: []raftmeta.Partition{
			{Index: 0, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, Leader: 1, PartitionEpoch: 4}, // 3 dead: shrink
			{Index: 1, Replicas: []int32{3, 1, 2}, ISR: []int32{3, 1, 2}, Leader: 3},                    // leader dead: election's job
			{Index: 2, Replicas: []int32{2, 1, 3}, ISR: []int32{2, 1}, Leader: 2},                       // already without 3
			{Index: 3, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 3}, Leader: 1},                       // being elected: skipped
		}},
	}}
	dead := map[int32]bool{3: true}
	got := ShrinkISRs(st, dead, []raftmeta.PartitionChange{{Topic: "t", Partition: 3}})
	if len(got) != 1 {
		t.Fatalf("changes = %+v, want exactly partition 0", got)
	}
	ch := got[0]
	if ch.Partition != 0 || ch.Leader != 1 || !slices.Equal(ch.ISR, []int32{1, 2}) || ch.PartitionEpoch != 4 {
		t.Fatalf("change = %+v", ch)
	}
}
