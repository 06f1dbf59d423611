package raftmeta

import (
	"reflect"
	"testing"
)

// electState builds a state with the given topics' partitions (indexes
// assigned in order) and brokers 1..5 registered.
func electState(topics map[string][]Partition) *State {
	s := emptyState()
	for id := int32(1); id <= 5; id++ {
		s.Brokers[id] = Broker{ID: id}
	}
	for name, ps := range topics {
		t := &Topic{Name: name, ID: topicID(byte(len(s.Topics) + 1)), Partitions: ps}
		for i := range t.Partitions {
			t.Partitions[i].Index = int32(i)
		}
		s.putTopic(t)
	}
	return s
}

func part(leader int32, replicas, isr []int32, epoch int32) Partition {
	return Partition{Leader: leader, Replicas: replicas, ISR: isr, LeaderEpoch: epoch, PartitionEpoch: epoch + 10}
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
		topics  map[string][]Partition
		dead    map[int32]bool
		unclean func(string) bool
		want    []PartitionChange
	}{
		{
			name:   "leader alive: nothing to do",
			topics: map[string][]Partition{"a": {part(1, []int32{1, 2, 3}, []int32{1, 2, 3}, 0)}},
			dead:   set(2, 3),
		},
		{
			name:   "first live ISR member in replica order leads, ISR shrinks",
			topics: map[string][]Partition{"a": {part(1, []int32{1, 2, 3}, []int32{3, 1, 2}, 4)}},
			dead:   set(1),
			want:   []PartitionChange{{Topic: "a", Partition: 0, Leader: 2, ISR: []int32{3, 2}, PartitionEpoch: 14}},
		},
		{
			name:   "replica out of ISR is skipped even if preferred",
			topics: map[string][]Partition{"a": {part(3, []int32{1, 2, 3}, []int32{3, 2}, 0)}},
			dead:   set(3),
			want:   []PartitionChange{{Topic: "a", Partition: 0, Leader: 2, ISR: []int32{2}, PartitionEpoch: 10}},
		},
		{
			name:    "no live ISR member: offline, ISR kept",
			topics:  map[string][]Partition{"a": {part(1, []int32{1, 2, 3}, []int32{1}, 2)}},
			dead:    set(1),
			unclean: never,
			want:    []PartitionChange{{Topic: "a", Partition: 0, Leader: -1, ISR: []int32{1}, PartitionEpoch: 12}},
		},
		{
			name:   "nil uncleanAllowed means clean only",
			topics: map[string][]Partition{"a": {part(1, []int32{1, 2}, []int32{1}, 0)}},
			dead:   set(1),
			want:   []PartitionChange{{Topic: "a", Partition: 0, Leader: -1, ISR: []int32{1}, PartitionEpoch: 10}},
		},
		{
			name:    "unclean election allowed for the topic: first live replica, ISR = it",
			topics:  map[string][]Partition{"a": {part(1, []int32{1, 2, 3}, []int32{1}, 2)}},
			dead:    set(1, 2),
			unclean: func(topic string) bool { return topic == "a" },
			want:    []PartitionChange{{Topic: "a", Partition: 0, Leader: 3, ISR: []int32{3}, PartitionEpoch: 12}},
		},
		{
			name:    "unclean allowed but every replica dead: offline",
			topics:  map[string][]Partition{"a": {part(1, []int32{1, 2}, []int32{1, 2}, 0)}},
			dead:    set(1, 2),
			unclean: func(string) bool { return true },
			want:    []PartitionChange{{Topic: "a", Partition: 0, Leader: -1, ISR: []int32{1, 2}, PartitionEpoch: 10}},
		},
		{
			name:    "unclean only where allowed",
			topics:  map[string][]Partition{"a": {part(1, []int32{1, 2}, []int32{1}, 0)}, "b": {part(1, []int32{1, 2}, []int32{1}, 0)}},
			dead:    set(1),
			unclean: func(topic string) bool { return topic == "b" },
			want: []PartitionChange{
				{Topic: "a", Partition: 0, Leader: -1, ISR: []int32{1}, PartitionEpoch: 10},
				{Topic: "b", Partition: 0, Leader: 2, ISR: []int32{2}, PartitionEpoch: 10},
			},
		},
		{
			name:   "offline partition whose ISR member returned is elected cleanly",
			topics: map[string][]Partition{"a": {part(-1, []int32{1, 2, 3}, []int32{2}, 3)}},
			dead:   set(1, 3),
			want:   []PartitionChange{{Topic: "a", Partition: 0, Leader: 2, ISR: []int32{2}, PartitionEpoch: 13}},
		},
		{
			name:    "offline and still nobody electable: no change",
			topics:  map[string][]Partition{"a": {part(-1, []int32{1, 2}, []int32{1}, 3)}},
			dead:    set(1),
			unclean: never,
		},
		{
			name: "deterministic order: topics by name, partitions by index",
			topics: map[string][]Partition{
				"z": {part(1, []int32{1, 2}, []int32{1, 2}, 0), part(2, []int32{2, 1}, []int32{2, 1}, 0), part(1, []int32{1, 3}, []int32{1, 3}, 0)},
				"m": {part(1, []int32{1, 4}, []int32{1, 4}, 0)},
			},
			dead: set(1),
			want: []PartitionChange{
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
		topics map[string][]Partition
		alive  map[int32]bool
		want   []PartitionChange
	}{
		{
			name:   "preferred already leads",
			topics: map[string][]Partition{"a": {part(1, []int32{1, 2}, []int32{1, 2}, 0)}},
			alive:  set(1, 2),
		},
		{
			name:   "preferred alive and in ISR takes over, ISR unchanged",
			topics: map[string][]Partition{"a": {part(2, []int32{1, 2, 3}, []int32{2, 3, 1}, 5)}},
			alive:  set(1, 2, 3),
			want:   []PartitionChange{{Topic: "a", Partition: 0, Leader: 1, ISR: []int32{2, 3, 1}, PartitionEpoch: 15}},
		},
		{
			name:   "preferred alive but out of ISR",
			topics: map[string][]Partition{"a": {part(2, []int32{1, 2}, []int32{2}, 0)}},
			alive:  set(1, 2),
		},
		{
			name:   "preferred in ISR but not alive",
			topics: map[string][]Partition{"a": {part(2, []int32{1, 2}, []int32{2, 1}, 0)}},
			alive:  set(2),
		},
		{
			name:   "offline partition with preferred back",
			topics: map[string][]Partition{"a": {part(-1, []int32{1, 2}, []int32{1}, 0)}},
			alive:  set(1),
			want:   []PartitionChange{{Topic: "a", Partition: 0, Leader: 1, ISR: []int32{1}, PartitionEpoch: 10}},
		},
		{
			name: "several topics in name order",
			topics: map[string][]Partition{
				"b": {part(2, []int32{1, 2}, []int32{1, 2}, 0), part(2, []int32{2, 1}, []int32{1, 2}, 0)},
				"a": {part(3, []int32{2, 3}, []int32{2, 3}, 0)},
			},
			alive: set(1, 2, 3),
			want: []PartitionChange{
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

// checkChangesApply applies each change through the FSM (what AlterPartition
// proposes) and checks the epochs: the leader epoch grows exactly when the
// leader changes, the partition epoch on every change; the computed state must
// also not alias the input's slices.
func checkChangesApply(t *testing.T, s *State, changes []PartitionChange) {
	t.Helper()
	cur := s
	for i, ch := range changes {
		before := cur.Topics[ch.Topic].Partitions[ch.Partition]
		next, res := applyCommand(cur, cur.Index+1, cmd(t, cmdSetPartitionState, setPartitionStateCmd{Change: ch}))
		if res.err != nil {
			t.Fatalf("change %d %+v rejected: %v", i, ch, res.err)
		}
		p := res.partition
		wantLE := before.LeaderEpoch
		if ch.Leader != before.Leader {
			wantLE++
		}
		if p.Leader != ch.Leader || p.LeaderEpoch != wantLE || p.PartitionEpoch != before.PartitionEpoch+1 ||
			!reflect.DeepEqual(p.ISR, ch.ISR) {
			t.Fatalf("applied %+v from %+v: got %+v", ch, before, p)
		}
		cur = next
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

func TestFencedBrokers(t *testing.T) {
	s := emptyState()
	s.Brokers[1] = Broker{ID: 1}
	s.Brokers[2] = Broker{ID: 2, Fenced: true}
	s.Brokers[3] = Broker{ID: 3, Fenced: true}
	if got := s.FencedBrokers(); !reflect.DeepEqual(got, set(2, 3)) {
		t.Fatalf("FencedBrokers = %v", got)
	}
}
