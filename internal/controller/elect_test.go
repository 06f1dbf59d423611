package controller

import (
	"errors"
	"slices"
	"testing"

	"github.com/strombroker/strom/raftmeta"
)

func TestElectOne(t *testing.T) {
	s := electState(map[string][]raftmeta.Partition{"t": {
		part(2, []int32{1, 2, 3}, []int32{1, 2, 3}, 1), // 0: preferred 1 in ISR, not leading
		part(1, []int32{1, 2, 3}, []int32{1, 2, 3}, 1), // 1: preferred leads
		part(2, []int32{1, 2}, []int32{2}, 1),          // 2: preferred out of the ISR
		part(-1, []int32{1, 2}, []int32{1}, 1),         // 3: offline, 1 dead, 2 alive out of ISR
		part(-1, []int32{1, 2}, []int32{1}, 1),         // 4: offline, both dead (checked with dead 1,2)
	}})
	dead := set(1)
	for _, tc := range []struct {
		p         int32
		preferred bool
		dead      map[int32]bool
		leader    int32
		isr       []int32
		err       error
	}{
		{0, true, nil, 1, []int32{1, 2, 3}, nil},
		{1, true, nil, 0, nil, ErrElectionNotNeeded},
		{2, true, nil, 0, nil, ErrPreferredLeaderNotAvailable},
		{0, true, set(1), 0, nil, ErrPreferredLeaderNotAvailable},
		{1, false, nil, 0, nil, ErrElectionNotNeeded},
		{3, false, dead, 2, []int32{2}, nil},
		{4, false, set(1, 2), 0, nil, ErrEligibleLeadersNotAvailable},
		{1, false, dead, 2, []int32{2, 3}, nil}, // dead leader: a clean choice first
		{9, true, nil, 0, nil, raftmeta.ErrUnknownPartition},
	} {
		ch, err := ElectOne(s, "t", tc.p, tc.preferred, tc.dead)
		if !errors.Is(err, tc.err) || (err == nil && (ch.Leader != tc.leader || !slices.Equal(ch.ISR, tc.isr))) {
			t.Errorf("partition %d preferred %v dead %v: %+v %v, want leader %d ISR %v err %v",
				tc.p, tc.preferred, tc.dead, ch, err, tc.leader, tc.isr, tc.err)
		}
	}
	if _, err := ElectOne(s, "nosuch", 0, true, nil); !errors.Is(err, raftmeta.ErrUnknownTopic) {
		t.Errorf("unknown topic: %v", err)
	}
}

func TestReadyReassignments(t *testing.T) {
	ready := part(1, []int32{2, 3, 1}, []int32{1, 2, 3}, 1)
	ready.AddingReplicas, ready.RemovingReplicas = []int32{2, 3}, []int32{1}
	waiting := part(1, []int32{2, 3, 1}, []int32{1, 2}, 1)
	waiting.AddingReplicas, waiting.RemovingReplicas = []int32{2, 3}, []int32{1}
	s := electState(map[string][]raftmeta.Partition{"t": {ready, waiting, part(1, []int32{1}, []int32{1}, 1)}})
	got := ReadyReassignments(s)
	want := []raftmeta.Reassignment{{Topic: "t", Partition: 0, Op: raftmeta.ReassignComplete, PartitionEpoch: ready.PartitionEpoch}}
	if !slices.EqualFunc(got, want, func(a, b raftmeta.Reassignment) bool {
		return a.Topic == b.Topic && a.Partition == b.Partition && a.Op == b.Op && a.PartitionEpoch == b.PartitionEpoch
	}) {
		t.Fatalf("ReadyReassignments = %+v, want %+v", got, want)
	}
}
