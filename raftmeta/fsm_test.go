package raftmeta

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/hashicorp/raft"
)

// cmd encodes a command or fails the test.
func cmd(t testing.TB, ct cmdType, body any) []byte {
	t.Helper()
	data, err := encodeCommand(ct, body)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func strp(s string) *string { return &s }

func topicID(b byte) [16]byte { return [16]byte{15: b} }

// testFSM returns an FSM counting its publications.
func testFSM(t testing.TB) (*fsm, *int) {
	t.Helper()
	changes := new(int)
	return newFSM(slog.New(slog.DiscardHandler), func() { *changes++ }), changes
}

// applyLog applies entries at consecutive indexes from 1, failing on errors.
func applyLog(t testing.TB, f *fsm, entries [][]byte) {
	t.Helper()
	idx := f.current().Index
	for _, e := range entries {
		idx++
		res := f.Apply(&raft.Log{Index: idx, Type: raft.LogCommand, Data: e}).(applyResult)
		if res.err != nil {
			t.Fatalf("apply %v at %d: %v", cmdType(e[0]), idx, res.err)
		}
	}
}

// baseLog registers brokers 1..3 and creates topic "a" with 2 partitions, rf 2.
func baseLog(t testing.TB) [][]byte {
	t.Helper()
	return [][]byte{
		cmd(t, cmdSetClusterID, setClusterIDCmd{ClusterID: "cluster-one"}),
		cmd(t, cmdRegisterBroker, registerBrokerCmd{Broker: Broker{ID: 1, Listeners: []Listener{{Name: "PLAINTEXT", Host: "h1", Port: 9092}}}}),
		cmd(t, cmdRegisterBroker, registerBrokerCmd{Broker: Broker{ID: 2}}),
		cmd(t, cmdRegisterBroker, registerBrokerCmd{Broker: Broker{ID: 3, Rack: "r3"}}),
		cmd(t, cmdCreateTopic, createTopicCmd{Name: "a", ID: topicID(1), Replicas: [][]int32{{1, 2}, {2, 3}},
			Configs: map[string]string{"retention.ms": "1000"}}),
	}
}

func TestFSMCommands(t *testing.T) {
	tests := []struct {
		name    string
		entry   func(t testing.TB) []byte
		wantErr error
		check   func(t *testing.T, s *State, res applyResult)
	}{
		{
			name: "register new broker",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdRegisterBroker, registerBrokerCmd{Broker: Broker{ID: 9, RaftAddr: "x:1"}})
			},
			check: func(t *testing.T, s *State, _ applyResult) {
				if b, ok := s.Broker(9); !ok || b.RaftAddr != "x:1" {
					t.Fatalf("broker 9 = %+v, %v", b, ok)
				}
				if got := s.BrokerIDs(); !slices.Equal(got, []int32{1, 2, 3, 9}) {
					t.Fatalf("BrokerIDs = %v", got)
				}
			},
		},
		{
			name: "register updates broker",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdRegisterBroker, registerBrokerCmd{Broker: Broker{ID: 2, Rack: "new", Fenced: true}})
			},
			check: func(t *testing.T, s *State, _ applyResult) {
				if b := s.Brokers[2]; b.Rack != "new" || !b.Fenced || len(s.Brokers) != 3 {
					t.Fatalf("broker 2 = %+v (of %d)", b, len(s.Brokers))
				}
			},
		},
		{
			name: "register negative id",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdRegisterBroker, registerBrokerCmd{Broker: Broker{ID: -1}})
			},
			wantErr: ErrInvalidBroker,
		},
		{
			name: "create topic",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdCreateTopic, createTopicCmd{Name: "b", ID: topicID(2), Replicas: [][]int32{{3, 1, 2}}, Internal: true})
			},
			check: func(t *testing.T, s *State, res applyResult) {
				tp := s.Topics["b"]
				if tp == nil || s.TopicsByID[topicID(2)] != tp || res.topic != tp {
					t.Fatalf("topic b missing or not indexed: %+v", tp)
				}
				want := Partition{Index: 0, Replicas: []int32{3, 1, 2}, ISR: []int32{3, 1, 2}, Leader: 3}
				if !reflect.DeepEqual(tp.Partitions, []Partition{want}) || !tp.Internal || tp.Configs != nil {
					t.Fatalf("topic b = %+v", tp)
				}
			},
		},
		{
			name: "create duplicate name",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdCreateTopic, createTopicCmd{Name: "a", ID: topicID(2), Replicas: [][]int32{{1}}})
			},
			wantErr: ErrTopicExists,
		},
		{
			name: "create duplicate id",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdCreateTopic, createTopicCmd{Name: "b", ID: topicID(1), Replicas: [][]int32{{1}}})
			},
			wantErr: ErrTopicExists,
		},
		{
			name: "create empty name",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdCreateTopic, createTopicCmd{ID: topicID(2), Replicas: [][]int32{{1}}})
			},
			wantErr: ErrInvalidTopicName,
		},
		{
			name: "create zero id",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdCreateTopic, createTopicCmd{Name: "b", Replicas: [][]int32{{1}}})
			},
			wantErr: ErrCorruptCommand,
		},
		{
			name: "create no partitions",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdCreateTopic, createTopicCmd{Name: "b", ID: topicID(2)})
			},
			wantErr: ErrInvalidPartitions,
		},
		{
			name: "create no replicas",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdCreateTopic, createTopicCmd{Name: "b", ID: topicID(2), Replicas: [][]int32{{}}})
			},
			wantErr: ErrInvalidReplicationFactor,
		},
		{
			name: "create unregistered broker",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdCreateTopic, createTopicCmd{Name: "b", ID: topicID(2), Replicas: [][]int32{{1, 4}}})
			},
			wantErr: ErrInvalidReplicaAssignment,
		},
		{
			name: "create duplicate replica",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdCreateTopic, createTopicCmd{Name: "b", ID: topicID(2), Replicas: [][]int32{{1, 1}}})
			},
			wantErr: ErrInvalidReplicaAssignment,
		},
		{
			name: "create unequal replica counts",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdCreateTopic, createTopicCmd{Name: "b", ID: topicID(2), Replicas: [][]int32{{1, 2}, {3}}})
			},
			wantErr: ErrInvalidReplicaAssignment,
		},
		{
			name:  "delete topic",
			entry: func(t testing.TB) []byte { return cmd(t, cmdDeleteTopic, deleteTopicCmd{Name: "a"}) },
			check: func(t *testing.T, s *State, _ applyResult) {
				if len(s.Topics) != 0 || len(s.TopicsByID) != 0 {
					t.Fatalf("topic not deleted from both indexes: %v %v", s.Topics, s.TopicsByID)
				}
			},
		},
		{
			name:    "delete unknown topic",
			entry:   func(t testing.TB) []byte { return cmd(t, cmdDeleteTopic, deleteTopicCmd{Name: "zz"}) },
			wantErr: ErrUnknownTopic,
		},
		{
			name: "create partitions",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdCreatePartitions, createPartitionsCmd{Name: "a", Total: 4, Replicas: [][]int32{{3, 1}, {1, 2}}})
			},
			check: func(t *testing.T, s *State, _ applyResult) {
				ps := s.Topics["a"].Partitions
				if len(ps) != 4 || ps[3].Index != 3 || ps[3].Leader != 1 || !slices.Equal(ps[2].ISR, []int32{3, 1}) {
					t.Fatalf("partitions = %+v", ps)
				}
				if s.TopicsByID[topicID(1)] != s.Topics["a"] {
					t.Fatal("TopicsByID not updated")
				}
			},
		},
		{
			name: "create partitions wrong total",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdCreatePartitions, createPartitionsCmd{Name: "a", Total: 5, Replicas: [][]int32{{3, 1}}})
			},
			wantErr: ErrInvalidPartitions,
		},
		{
			name: "create partitions shrink",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdCreatePartitions, createPartitionsCmd{Name: "a", Total: 1})
			},
			wantErr: ErrInvalidPartitions,
		},
		{
			name: "create partitions wrong rf",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdCreatePartitions, createPartitionsCmd{Name: "a", Total: 3, Replicas: [][]int32{{3}}})
			},
			wantErr: ErrInvalidReplicaAssignment,
		},
		{
			name: "create partitions unknown topic",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdCreatePartitions, createPartitionsCmd{Name: "zz", Total: 3, Replicas: [][]int32{{3}}})
			},
			wantErr: ErrUnknownTopic,
		},
		{
			name: "alter configs set and delete",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdAlterTopicConfigs, alterTopicConfigsCmd{Name: "a", Ops: []ConfigOp{
					{Key: "cleanup.policy", Value: strp("compact")},
					{Key: "retention.ms", Value: nil},
					{Key: "x", Value: strp("1")},
					{Key: "x", Value: strp("2")},
				}})
			},
			check: func(t *testing.T, s *State, _ applyResult) {
				want := map[string]string{"cleanup.policy": "compact", "x": "2"}
				if got := s.Topics["a"].Configs; !reflect.DeepEqual(got, want) {
					t.Fatalf("configs = %v, want %v", got, want)
				}
			},
		},
		{
			name: "alter configs delete last key",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdAlterTopicConfigs, alterTopicConfigsCmd{Name: "a", Ops: []ConfigOp{{Key: "retention.ms"}}})
			},
			check: func(t *testing.T, s *State, _ applyResult) {
				if got := s.Topics["a"].Configs; got != nil {
					t.Fatalf("configs = %v, want nil", got)
				}
			},
		},
		{
			name: "alter configs unknown topic",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdAlterTopicConfigs, alterTopicConfigsCmd{Name: "zz"})
			},
			wantErr: ErrUnknownTopic,
		},
		{
			name: "allocate producer ids",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdAllocateProducerIDs, allocateProducerIDsCmd{Count: 1000})
			},
			check: func(t *testing.T, s *State, res applyResult) {
				if res.producerID != 0 || s.NextProducerID != 1000 {
					t.Fatalf("first %d next %d", res.producerID, s.NextProducerID)
				}
			},
		},
		{
			name: "allocate zero producer ids",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdAllocateProducerIDs, allocateProducerIDsCmd{Count: 0})
			},
			wantErr: ErrInvalidProducerIDCount,
		},
		{
			name: "allocate a producer id block above the limit",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdAllocateProducerIDs, allocateProducerIDsCmd{Count: math.MaxInt64})
			},
			wantErr: ErrInvalidProducerIDCount,
		},
		{
			name: "shrink ISR keeps leader epoch",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdSetPartitionState, setPartitionStateCmd{Change: PartitionChange{Topic: "a", Partition: 0, Leader: 1, ISR: []int32{1}}})
			},
			check: func(t *testing.T, s *State, res applyResult) {
				p := s.Topics["a"].Partitions[0]
				want := Partition{Index: 0, Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 1, LeaderEpoch: 0, PartitionEpoch: 1}
				if !reflect.DeepEqual(p, want) || !reflect.DeepEqual(res.partition, want) {
					t.Fatalf("partition = %+v, result %+v", p, res.partition)
				}
			},
		},
		{
			name: "new leader bumps leader epoch",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdSetPartitionState, setPartitionStateCmd{Change: PartitionChange{Topic: "a", Partition: 1, Leader: 3, ISR: []int32{3}}})
			},
			check: func(t *testing.T, s *State, _ applyResult) {
				p := s.Topics["a"].Partitions[1]
				if p.Leader != 3 || p.LeaderEpoch != 1 || p.PartitionEpoch != 1 || !slices.Equal(p.ISR, []int32{3}) {
					t.Fatalf("partition = %+v", p)
				}
				if q := s.Topics["a"].Partitions[0]; q.PartitionEpoch != 0 {
					t.Fatalf("other partition changed: %+v", q)
				}
			},
		},
		{
			name: "offline leader",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdSetPartitionState, setPartitionStateCmd{Change: PartitionChange{Topic: "a", Partition: 1, Leader: -1, ISR: []int32{2}}})
			},
			check: func(t *testing.T, s *State, _ applyResult) {
				if p := s.Topics["a"].Partitions[1]; p.Leader != -1 || p.LeaderEpoch != 1 {
					t.Fatalf("partition = %+v", p)
				}
			},
		},
		{
			name: "stale partition epoch",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdSetPartitionState, setPartitionStateCmd{Change: PartitionChange{Topic: "a", Partition: 0, Leader: 1, ISR: []int32{1}, PartitionEpoch: 3}})
			},
			wantErr: ErrStalePartitionEpoch,
		},
		{
			name: "leader outside ISR",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdSetPartitionState, setPartitionStateCmd{Change: PartitionChange{Topic: "a", Partition: 0, Leader: 2, ISR: []int32{1}}})
			},
			wantErr: ErrInvalidPartitionState,
		},
		{
			name: "ISR outside replicas",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdSetPartitionState, setPartitionStateCmd{Change: PartitionChange{Topic: "a", Partition: 0, Leader: 1, ISR: []int32{1, 3}}})
			},
			wantErr: ErrInvalidPartitionState,
		},
		{
			name: "ISR with duplicates",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdSetPartitionState, setPartitionStateCmd{Change: PartitionChange{Topic: "a", Partition: 0, Leader: 1, ISR: []int32{1, 1}}})
			},
			wantErr: ErrInvalidPartitionState,
		},
		{
			name: "unknown partition",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdSetPartitionState, setPartitionStateCmd{Change: PartitionChange{Topic: "a", Partition: 2, Leader: 1, ISR: []int32{1}}})
			},
			wantErr: ErrUnknownPartition,
		},
		{
			name: "partition of unknown topic",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdSetPartitionState, setPartitionStateCmd{Change: PartitionChange{Topic: "zz"}})
			},
			wantErr: ErrUnknownTopic,
		},
		{
			name: "second cluster id is a no-op",
			entry: func(t testing.TB) []byte {
				return cmd(t, cmdSetClusterID, setClusterIDCmd{ClusterID: "other"})
			},
			check: func(t *testing.T, s *State, res applyResult) {
				if s.ClusterID != "cluster-one" || res.clusterID != "cluster-one" {
					t.Fatalf("cluster id %q, result %q", s.ClusterID, res.clusterID)
				}
			},
		},
		{
			name:    "empty cluster id",
			entry:   func(t testing.TB) []byte { return cmd(t, cmdSetClusterID, setClusterIDCmd{}) },
			wantErr: ErrCorruptCommand,
		},
		{
			name:    "unknown command code",
			entry:   func(t testing.TB) []byte { return append([]byte{200}, "{}"...) },
			wantErr: ErrUnknownCommand,
		},
		{
			name:    "command code zero",
			entry:   func(t testing.TB) []byte { return []byte{0} },
			wantErr: ErrUnknownCommand,
		},
		{
			name:    "empty entry",
			entry:   func(t testing.TB) []byte { return nil },
			wantErr: ErrCorruptCommand,
		},
		{
			name:    "bad json",
			entry:   func(t testing.TB) []byte { return append([]byte{byte(cmdCreateTopic)}, "{not json"...) },
			wantErr: ErrCorruptCommand,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, changes := testFSM(t)
			applyLog(t, f, baseLog(t))
			before := f.current()
			beforeSnap := snapshotBytes(t, before)
			publishedBefore := *changes

			idx := before.Index + 1
			res := f.Apply(&raft.Log{Index: idx, Type: raft.LogCommand, Data: tc.entry(t)}).(applyResult)
			after := f.current()

			// The previous state is never mutated, whatever happened.
			if got := snapshotBytes(t, before); !bytes.Equal(got, beforeSnap) {
				t.Fatalf("apply mutated the previous state:\n%s\n%s", beforeSnap, got)
			}
			if tc.wantErr != nil {
				if !errors.Is(res.err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", res.err, tc.wantErr)
				}
				if after != before || *changes != publishedBefore {
					t.Fatal("failed command changed or published the state")
				}
				return
			}
			if res.err != nil {
				t.Fatalf("unexpected error %v", res.err)
			}
			if after != before {
				if after.Index != idx || *changes != publishedBefore+1 {
					t.Fatalf("Index = %d (want %d), publications %d (want %d)", after.Index, idx, *changes, publishedBefore+1)
				}
			}
			if tc.check != nil {
				tc.check(t, after, res)
			}
		})
	}
}

func snapshotBytes(t testing.TB, s *State) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := encodeSnapshot(&buf, s); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// richLog exercises every command, with proposer-side planning included.
func richLog(t testing.TB) [][]byte {
	t.Helper()
	log := baseLog(t)
	f, _ := testFSM(t)
	applyLog(t, f, log)
	fixed := func(int) (int, int) { return 1, 2 }
	tc, err := planTopic(f.current(), TopicSpec{Name: "planned", Partitions: 7, ReplicationFactor: 3, Configs: map[string]string{"k": "v"}}, fixed)
	if err != nil {
		t.Fatal(err)
	}
	log = append(log, cmd(t, cmdCreateTopic, tc))
	applyLog(t, f, log[len(log)-1:])
	pc, err := planPartitions(f.current(), "planned", 10, nil, fixed)
	if err != nil {
		t.Fatal(err)
	}
	return append(log,
		cmd(t, cmdCreatePartitions, pc),
		cmd(t, cmdAlterTopicConfigs, alterTopicConfigsCmd{Name: "a", Ops: []ConfigOp{{Key: "segment.bytes", Value: strp("1024")}}}),
		cmd(t, cmdAllocateProducerIDs, allocateProducerIDsCmd{Count: 5000}),
		cmd(t, cmdSetPartitionState, setPartitionStateCmd{Change: PartitionChange{Topic: "planned", Partition: 0, Leader: tc.Replicas[0][1], ISR: tc.Replicas[0][1:]}}),
		cmd(t, cmdDeleteTopic, deleteTopicCmd{Name: "a"}),
		cmd(t, cmdRegisterBroker, registerBrokerCmd{Broker: Broker{ID: 4, Fenced: true}}),
		cmd(t, cmdCreateTopic, createTopicCmd{Name: "a", ID: topicID(9), Replicas: [][]int32{{4}}}),
		cmd(t, cmdCreateACLs, createACLsCmd{ACLs: []ACL{testACL("z", "User:b", 4), testACL("a", "User:a", 3), testACL("y", "User:c", 8)}}),
		cmd(t, cmdDeleteACLs, deleteACLsCmd{ACLs: []ACL{testACL("y", "User:c", 8)}}),
	)
}

func TestFSMDeterminism(t *testing.T) {
	log := richLog(t)
	a, _ := testFSM(t)
	b, _ := testFSM(t)
	applyLog(t, a, log)
	applyLog(t, b, log)
	if !reflect.DeepEqual(a.current(), b.current()) {
		t.Fatalf("states differ:\n%+v\n%+v", a.current(), b.current())
	}
	if !bytes.Equal(snapshotBytes(t, a.current()), snapshotBytes(t, b.current())) {
		t.Fatal("snapshots of equal logs differ")
	}
	s := a.current()
	if len(s.Topics["planned"].Partitions) != 10 || s.NextProducerID != 5000 || s.Topics["a"].ID != topicID(9) {
		t.Fatalf("rich log did not apply as expected: %+v", s)
	}
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { s.closed = true; return nil }

func TestFSMSnapshotRestore(t *testing.T) {
	src, _ := testFSM(t)
	applyLog(t, src, richLog(t))
	snap, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Applying after Snapshot must not change what the snapshot persists.
	applyLog(t, src, [][]byte{cmd(t, cmdAllocateProducerIDs, allocateProducerIDsCmd{Count: 1})})
	var sink memSink
	if err := snap.Persist(&sink); err != nil || !sink.closed {
		t.Fatalf("Persist: %v closed=%v", err, sink.closed)
	}
	snap.Release()

	dst, changes := testFSM(t)
	if err := dst.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if *changes != 1 {
		t.Fatalf("Restore published %d times, want 1", *changes)
	}
	got, want := dst.current(), src.current()
	if got.NextProducerID != want.NextProducerID-1 {
		t.Fatalf("snapshot saw a later apply: next producer id %d", got.NextProducerID)
	}
	// Replaying the remaining entry makes them identical.
	applyLog(t, dst, [][]byte{cmd(t, cmdAllocateProducerIDs, allocateProducerIDsCmd{Count: 1})})
	if !reflect.DeepEqual(dst.current(), want) {
		t.Fatalf("restored state differs:\n%+v\n%+v", dst.current(), want)
	}
	for id, tp := range dst.current().TopicsByID {
		if dst.current().Topics[tp.Name] != tp || tp.ID != id {
			t.Fatalf("indexes disagree for %q", tp.Name)
		}
	}
}

func TestFSMRestoreRejectsBadSnapshots(t *testing.T) {
	for name, data := range map[string]string{
		"garbage":          "nope",
		"unknown version":  `{"version":99}`,
		"duplicate topic":  `{"version":1,"topics":[{"Name":"a","ID":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1]},{"Name":"a","ID":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2]}]}`,
		"null topic":       `{"version":1,"topics":[null]}`,
		"duplicate broker": `{"version":1,"brokers":[{"ID":1},{"ID":1}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			f, changes := testFSM(t)
			before := f.current()
			err := f.Restore(io.NopCloser(bytes.NewReader([]byte(data))))
			if !errors.Is(err, ErrCorruptCommand) {
				t.Fatalf("err = %v, want ErrCorruptCommand", err)
			}
			if f.current() != before || *changes != 0 {
				t.Fatal("failed restore replaced the state")
			}
		})
	}
}

func TestFencedBrokers(t *testing.T) {
	s := emptyState()
	s.Brokers[1] = Broker{ID: 1}
	s.Brokers[2] = Broker{ID: 2, Fenced: true}
	s.Brokers[3] = Broker{ID: 3, Fenced: true}
	if got := s.FencedBrokers(); !reflect.DeepEqual(got, map[int32]bool{2: true, 3: true}) {
		t.Fatalf("FencedBrokers = %v", got)
	}
}
