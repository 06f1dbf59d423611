package raftmeta

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"
)

// Kafka's documented example (AdminUtils): 5 brokers, 10 partitions, rf 3,
// start index 0, shift 0.
func TestAssignReplicasKafkaExample(t *testing.T) {
	got := assignReplicas([]int32{0, 1, 2, 3, 4}, 10, 3, 0, 0, 0)
	want := [][]int32{
		{0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 0}, {4, 0, 1},
		{0, 2, 3}, {1, 3, 4}, {2, 4, 0}, {3, 0, 1}, {4, 1, 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("assignment\n got %v\nwant %v", got, want)
	}
}

func TestAssignReplicasSpread(t *testing.T) {
	brokers := []int32{1, 2, 3, 5, 8}
	for start := range len(brokers) {
		for shift := range len(brokers) {
			for rf := 1; rf <= len(brokers); rf++ {
				a := assignReplicas(brokers, 20, rf, start, shift, 0)
				leaders := map[int32]int{}
				for p, r := range a {
					if len(r) != rf {
						t.Fatalf("p%d has %d replicas, want %d", p, len(r), rf)
					}
					sorted := slices.Sorted(slices.Values(r))
					if len(slices.Compact(sorted)) != rf {
						t.Fatalf("p%d has duplicate replicas %v", p, r)
					}
					leaders[r[0]]++
				}
				for b, c := range leaders {
					if c != 4 {
						t.Fatalf("start %d shift %d rf %d: broker %d leads %d partitions, want 4", start, shift, rf, b, c)
					}
				}
			}
		}
	}
}

// stateWith returns a state with the given brokers, fenced if negative.
func stateWith(ids ...int32) *State {
	s := emptyState()
	for _, id := range ids {
		fenced := id < 0
		if fenced {
			id = -id
		}
		s.Brokers[id] = Broker{ID: id, Fenced: fenced}
	}
	return s
}

func TestPlanTopic(t *testing.T) {
	fixed := func(int) (int, int) { return 0, 0 }
	s := stateWith(1, 2, -3) // broker 3 is fenced
	s.putTopic(&Topic{Name: "taken", ID: topicID(1), Partitions: []Partition{{Replicas: []int32{1}}}})

	tests := []struct {
		name    string
		spec    TopicSpec
		wantErr error
		want    [][]int32
	}{
		{name: "auto", spec: TopicSpec{Name: "t", Partitions: 3, ReplicationFactor: 2}, want: [][]int32{{1, 2}, {2, 1}, {1, 2}}},
		{name: "rf above live brokers", spec: TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 3}, wantErr: ErrInvalidReplicationFactor},
		{name: "rf zero", spec: TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 0}, wantErr: ErrInvalidReplicationFactor},
		{name: "rf minus one unresolved", spec: TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: -1}, wantErr: ErrInvalidReplicationFactor},
		{name: "zero partitions", spec: TopicSpec{Name: "t", Partitions: 0, ReplicationFactor: 1}, wantErr: ErrInvalidPartitions},
		{name: "too many partitions", spec: TopicSpec{Name: "t", Partitions: maxPartitions + 1, ReplicationFactor: 1}, wantErr: ErrInvalidPartitions},
		{name: "empty name", spec: TopicSpec{Partitions: 1, ReplicationFactor: 1}, wantErr: ErrInvalidTopicName},
		{name: "exists", spec: TopicSpec{Name: "taken", Partitions: 1, ReplicationFactor: 1}, wantErr: ErrTopicExists},
		{name: "explicit, fenced broker allowed", spec: TopicSpec{Name: "t", Partitions: -1, ReplicationFactor: -1, Assignment: [][]int32{{3, 1}, {2, 3}}},
			want: [][]int32{{3, 1}, {2, 3}}},
		{name: "explicit matching counts", spec: TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 1, Assignment: [][]int32{{2}}}, want: [][]int32{{2}}},
		{name: "explicit partition mismatch", spec: TopicSpec{Name: "t", Partitions: 2, Assignment: [][]int32{{2}}}, wantErr: ErrInvalidReplicaAssignment},
		{name: "explicit rf mismatch", spec: TopicSpec{Name: "t", ReplicationFactor: 2, Assignment: [][]int32{{2}}}, wantErr: ErrInvalidReplicaAssignment},
		{name: "explicit unknown broker", spec: TopicSpec{Name: "t", Assignment: [][]int32{{7}}}, wantErr: ErrInvalidReplicaAssignment},
		{name: "explicit duplicate broker", spec: TopicSpec{Name: "t", Assignment: [][]int32{{1, 1}}}, wantErr: ErrInvalidReplicaAssignment},
		{name: "explicit uneven", spec: TopicSpec{Name: "t", Assignment: [][]int32{{1, 2}, {1}}}, wantErr: ErrInvalidReplicaAssignment},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := planTopic(s, tc.spec, fixed)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if !reflect.DeepEqual(c.Replicas, tc.want) {
				t.Fatalf("replicas %v, want %v", c.Replicas, tc.want)
			}
			if c.ID == ([16]byte{}) || c.ID == topicID(1) || c.ID[6]>>4 != 4 {
				t.Fatalf("bad topic id %x", c.ID)
			}
			if len(tc.spec.Assignment) > 0 && &c.Replicas[0][0] == &tc.spec.Assignment[0][0] {
				t.Fatal("command aliases the caller's assignment")
			}
		})
	}
}

func TestPlanPartitions(t *testing.T) {
	s := stateWith(1, 2, 3)
	s.putTopic(&Topic{Name: "a", ID: topicID(1), Partitions: newPartitions(0, [][]int32{{2, 3}, {3, 1}})})
	random := func(int) (int, int) { t.Fatal("placement should continue the topic's pattern"); return 0, 0 }

	c, err := planPartitions(s, "a", 5, nil, random)
	if err != nil {
		t.Fatal(err)
	}
	// Start fixed at broker 2 (index 1), continuing from partition 2.
	if want := assignReplicas([]int32{1, 2, 3}, 3, 2, 1, 1, 2); !reflect.DeepEqual(c.Replicas, want) || c.Total != 5 {
		t.Fatalf("got %+v, want replicas %v", c, want)
	}
	for _, tc := range []struct {
		name       string
		total      int32
		assignment [][]int32
		wantErr    error
	}{
		{"unchanged", 2, nil, ErrInvalidPartitions},
		{"shrink", 1, nil, ErrInvalidPartitions},
		{"too many", maxPartitions + 1, nil, ErrInvalidPartitions},
		{"assignment count", 4, [][]int32{{1, 2}}, ErrInvalidReplicaAssignment},
		{"assignment rf", 3, [][]int32{{1}}, ErrInvalidReplicaAssignment},
		{"assignment ok", 3, [][]int32{{1, 3}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := planPartitions(s, "a", tc.total, tc.assignment, random); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
	if _, err := planPartitions(s, "zz", 3, nil, random); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("unknown topic: %v", err)
	}
	s.Brokers[3] = Broker{ID: 3, Fenced: true}
	s.Brokers[2] = Broker{ID: 2, Fenced: true}
	if _, err := planPartitions(s, "a", 3, nil, random); !errors.Is(err, ErrInvalidReplicationFactor) {
		t.Fatalf("too few live brokers: %v", err)
	}
}

func TestProducerIDOverflow(t *testing.T) {
	s := emptyState()
	s.NextProducerID = math.MaxInt64 - 10
	if _, _, err := applyAllocateProducerIDs(s, allocateProducerIDsCmd{Count: 11}); !errors.Is(err, ErrInvalidProducerIDCount) {
		t.Fatalf("overflow: %v", err)
	}
	next, first, err := applyAllocateProducerIDs(s, allocateProducerIDsCmd{Count: 10})
	if err != nil || first != math.MaxInt64-10 || next.NextProducerID != math.MaxInt64 {
		t.Fatalf("last block: %d %v", first, err)
	}
}

func TestNewClusterID(t *testing.T) {
	a, b := newClusterID(), newClusterID()
	if len(a) != 22 || a == b {
		t.Fatalf("cluster ids %q %q", a, b)
	}
}
