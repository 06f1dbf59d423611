package controller

import (
	"reflect"
	"slices"
	"testing"

	"github.com/strombroker/strom/raftmeta"
)

// electState builds a state with the given topics' partitions (indexes
// assigned in order) and brokers 1..5 registered.
func electState(topics map[string][]raftmeta.Partition) *raftmeta.State {
	s := &raftmeta.State{ControllerID: -1, Brokers: map[int32]raftmeta.Broker{},
		Topics: map[string]*raftmeta.Topic{}, TopicsByID: map[[16]byte]*raftmeta.Topic{}}
	for id := int32(1); id <= 5; id++ {
		s.Brokers[id] = raftmeta.Broker{ID: id}
	}
	for name, ps := range topics {
		t := &raftmeta.Topic{Name: name, ID: [16]byte{15: byte(len(s.Topics) + 1)}, Partitions: ps}
		for i := range t.Partitions {
			t.Partitions[i].Index = int32(i)
		}
		s.Topics[t.Name] = t
		s.TopicsByID[t.ID] = t
	}
	return s
}

func part(leader int32, replicas, isr []int32, epoch int32) raftmeta.Partition {
	return raftmeta.Partition{Leader: leader, Replicas: replicas, ISR: isr, LeaderEpoch: epoch, PartitionEpoch: epoch + 10}
}

func set(ids ...int32) map[int32]bool {
	m := map[int32]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func TestElectLeaders(t *testing.T) {
	never := func(string) bool { return false }
	tests := []struct {
		name    string
		topics  map[string][]raftmeta.Partition
		dead    map[int32]bool
		unclean func(string) bool
		want    []raftmeta.PartitionChange
	}{
		{
			name:   "leader alive: nothing to do",
			topics: map[string][]raftmeta.Partition{"a": {part(1, []int32{1, 2, 3}, []int32{1, 2, 3}, 0)}},
			dead:   set(2, 3),
		},
		{
			name:   "first live ISR member in replica order leads, ISR shrinks",
			topics: map[string][]raftmeta.Partition{"a": {part(1, []int32{1, 2, 3}, []int32{3, 1, 2}, 4)}},
			dead:   set(1),
			want:   []raftmeta.PartitionChange{{Topic: "a", Partition: 0, Leader: 2, ISR: []int32{3, 2}, PartitionEpoch: 14}},
		},
		{
			name:   "replica out of ISR is skipped even if preferred",
			topics: map[string][]raftmeta.Partition{"a": {part(3, []int32{1, 2, 3}, []int32{3, 2}, 0)}},
			dead:   set(3),
			want:   []raftmeta.PartitionChange{{Topic: "a", Partition: 0, Leader: 2, ISR: []int32{2}, PartitionEpoch: 10}},
		},
		{
			name:    "no live ISR member: offline, ISR kept",
			topics:  map[string][]raftmeta.Partition{"a": {part(1, []int32{1, 2, 3}, []int32{1}, 2)}},
			dead:    set(1),
			unclean: never,
			want:    []raftmeta.PartitionChange{{Topic: "a", Partition: 0, Leader: -1, ISR: []int32{1}, PartitionEpoch: 12}},
		},
		{
			name:   "nil uncleanAllowed means clean only",
			topics: map[string][]raftmeta.Partition{"a": {part(1, []int32{1, 2}, []int32{1}, 0)}},
			dead:   set(1),
			want:   []raftmeta.PartitionChange{{Topic: "a", Partition: 0, Leader: -1, ISR: []int32{1}, PartitionEpoch: 10}},
		},
		{
			name:    "unclean election allowed for the topic: first live replica, ISR = it",
			topics:  map[string][]raftmeta.Partition{"a": {part(1, []int32{1, 2, 3}, []int32{1}, 2)}},
			dead:    set(1, 2),
			unclean: func(topic string) bool { return topic == "a" },
			want:    []raftmeta.PartitionChange{{Topic: "a", Partition: 0, Leader: 3, ISR: []int32{3}, PartitionEpoch: 12}},
		},
		{
			name:    "unclean allowed but every replica dead: offline",
			topics:  map[string][]raftmeta.Partition{"a": {part(1, []int32{1, 2}, []int32{1, 2}, 0)}},
			dead:    set(1, 2),
			unclean: func(string) bool { return true },
			want:    []raftmeta.PartitionChange{{Topic: "a", Partition: 0, Leader: -1, ISR: []int32{1, 2}, PartitionEpoch: 10}},
		},
		{
			name:    "unclean only where allowed",
			topics:  map[string][]raftmeta.Partition{"a": {part(1, []int32{1, 2}, []int32{1}, 0)}, "b": {part(1, []int32{1, 2}, []int32{1}, 0)}},
			dead:    set(1),
			unclean: func(topic string) bool { return topic == "b" },
			want: []raftmeta.PartitionChange{
				{Topic: "a", Partition: 0, Leader: -1, ISR: []int32{1}, PartitionEpoch: 10},
				{Topic: "b", Partition: 0, Leader: 2, ISR: []int32{2}, PartitionEpoch: 10},
			},
		},
		{
			name:   "offline partition whose ISR member returned is elected cleanly",
			topics: map[string][]raftmeta.Partition{"a": {part(-1, []int32{1, 2, 3}, []int32{2}, 3)}},
			dead:   set(1, 3),
			want:   []raftmeta.PartitionChange{{Topic: "a", Partition: 0, Leader: 2, ISR: []int32{2}, PartitionEpoch: 13}},
		},
		{
			name:    "offline and still nobody electable: no change",
			topics:  map[string][]raftmeta.Partition{"a": {part(-1, []int32{1, 2}, []int32{1}, 3)}},
			dead:    set(1),
			unclean: never,
		},
		{
			name: "deterministic order: topics by name, partitions by index",
			topics: map[string][]raftmeta.Partition{
				"z": {part(1, []int32{1, 2}, []int32{1, 2}, 0), part(2, []int32{2, 1}, []int32{2, 1}, 0), part(1, []int32{1, 3}, []int32{1, 3}, 0)},
				"m": {part(1, []int32{1, 4}, []int32{1, 4}, 0)},
			},
			dead: set(1),
			want: []raftmeta.PartitionChange{
				{Topic: "m", Partition: 0, Leader: 4, ISR: []int32{4}, PartitionEpoch: 10},
				{Topic: "z", Partition: 0, Leader: 2, ISR: []int32{2}, PartitionEpoch: 10},
				{Topic: "z", Partition: 2, Leader: 3, ISR: []int32{3}, PartitionEpoch: 10},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := electState(tt.topics)
			got := ElectLeaders(s, tt.dead, tt.unclean)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ElectLeaders =\n%+v\nwant\n%+v", got, tt.want)
			}
			checkChangesApply(t, s, got)
		})
	}
}

func TestPreferredLeaderChanges(t *testing.T) {
	tests := []struct {
		name   string
		topics map[string][]raftmeta.Partition
		alive  map[int32]bool
		want   []raftmeta.PartitionChange
	}{
		{
			name:   "preferred already leads",
			topics: map[string][]raftmeta.Partition{"a": {part(1, []int32{1, 2}, []int32{1, 2}, 0)}},
			alive:  set(1, 2),
		},
		{
			name:   "preferred alive and in ISR takes over, ISR unchanged",
			topics: map[string][]raftmeta.Partition{"a": {part(2, []int32{1, 2, 3}, []int32{2, 3, 1}, 5)}},
			alive:  set(1, 2, 3),
			want:   []raftmeta.PartitionChange{{Topic: "a", Partition: 0, Leader: 1, ISR: []int32{2, 3, 1}, PartitionEpoch: 15}},
		},
		{
			name:   "preferred alive but out of ISR",
			topics: map[string][]raftmeta.Partition{"a": {part(2, []int32{1, 2}, []int32{2}, 0)}},
			alive:  set(1, 2),
		},
		{
			name:   "preferred in ISR but not alive",
			topics: map[string][]raftmeta.Partition{"a": {part(2, []int32{1, 2}, []int32{2, 1}, 0)}},
			alive:  set(2),
		},
		{
			name:   "offline partition with preferred back",
			topics: map[string][]raftmeta.Partition{"a": {part(-1, []int32{1, 2}, []int32{1}, 0)}},
			alive:  set(1),
			want:   []raftmeta.PartitionChange{{Topic: "a", Partition: 0, Leader: 1, ISR: []int32{1}, PartitionEpoch: 10}},
		},
		{
			name: "several topics in name order",
			topics: map[string][]raftmeta.Partition{
				"b": {part(2, []int32{1, 2}, []int32{1, 2}, 0), part(2, []int32{2, 1}, []int32{1, 2}, 0)},
				"a": {part(3, []int32{2, 3}, []int32{2, 3}, 0)},
			},
			alive: set(1, 2, 3),
			want: []raftmeta.PartitionChange{
				{Topic: "a", Partition: 0, Leader: 2, ISR: []int32{2, 3}, PartitionEpoch: 10},
				{Topic: "b", Partition: 0, Leader: 1, ISR: []int32{1, 2}, PartitionEpoch: 10},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := electState(tt.topics)
			got := PreferredLeaderChanges(s, tt.alive)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("PreferredLeaderChanges =\n%+v\nwant\n%+v", got, tt.want)
			}
			checkChangesApply(t, s, got)
		})
	}
}

// checkChangesApply checks that each change is one AlterPartition accepts
// (it names an existing partition at its current partition epoch, with a
// leader from its ISR or -1) and that the computed changes do not alias the
// input state's slices. The epoch bumps themselves are the FSM's, tested in
// raftmeta.
func checkChangesApply(t *testing.T, s *raftmeta.State, changes []raftmeta.PartitionChange) {
	t.Helper()
	for i, ch := range changes {
		tp := s.Topics[ch.Topic]
		if tp == nil || int(ch.Partition) >= len(tp.Partitions) {
			t.Fatalf("change %d %+v names no partition", i, ch)
		}
		before := tp.Partitions[ch.Partition]
		if ch.PartitionEpoch != before.PartitionEpoch {
			t.Fatalf("change %d %+v: partition epoch %d, state has %d", i, ch, ch.PartitionEpoch, before.PartitionEpoch)
		}
		if ch.Leader >= 0 && !slices.Contains(ch.ISR, ch.Leader) {
			t.Fatalf("change %d %+v: leader outside the new ISR", i, ch)
		}
		if len(ch.ISR) == 0 {
			t.Fatalf("change %d %+v: empty ISR", i, ch)
		}
	}
	if len(changes) > 0 {
		changes[0].ISR = append(changes[0].ISR[:0], 99)
		for _, tp := range s.Topics {
			for _, p := range tp.Partitions {
				for _, id := range p.ISR {
					if id == 99 {
						t.Fatal("change ISR aliases the state's ISR")
					}
				}
			}
		}
	}
}
