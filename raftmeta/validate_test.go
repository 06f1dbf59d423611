package raftmeta

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// hostileCommand is a log entry the FSM must refuse, and the sentinel it
// must refuse it with.
type hostileCommand struct {
	name    string
	entry   []byte
	wantErr error
}

// hostileCommands are entries a buggy or malicious proposer could get into
// the log (the forwarding port accepts JSON from anyone who can reach the
// raft port), against baseLog's state: brokers 1..3, topic "a" with two
// partitions of rf 2.
func hostileCommands(t testing.TB) []hostileCommand {
	t.Helper()
	create := func(name string, replicas ...[]int32) []byte {
		return cmd(t, cmdCreateTopic, createTopicCmd{Name: name, ID: topicID(42), Replicas: replicas})
	}
	change := func(topic string, p, leader int32, isr ...int32) []byte {
		return cmd(t, cmdSetPartitionState, setPartitionStateCmd{Change: PartitionChange{Topic: topic, Partition: p, Leader: leader, ISR: isr}})
	}
	broker := func(b Broker) []byte { return cmd(t, cmdRegisterBroker, registerBrokerCmd{Broker: b}) }
	listener := func(name, host string, port int32) Broker {
		return Broker{ID: 7, Listeners: []Listener{{Name: name, Host: host, Port: port}}}
	}
	alter := func(ops ...ConfigOp) []byte {
		return cmd(t, cmdAlterTopicConfigs, alterTopicConfigsCmd{Name: "a", Ops: ops})
	}
	manyOps := make([]ConfigOp, 1001)
	for i := range manyOps {
		manyOps[i] = ConfigOp{Key: fmt.Sprint("k", i), Value: strp("v")}
	}
	manyListeners := make([]Listener, 65)
	for i := range manyListeners {
		manyListeners[i] = Listener{Name: fmt.Sprint("L", i), Host: "h", Port: 1}
	}
	return []hostileCommand{
		{"create path-like name", create("x/../a", []int32{1}), ErrInvalidTopicName},
		{"create absolute path", create("/etc/passwd", []int32{1}), ErrInvalidTopicName},
		{"create dot", create(".", []int32{1}), ErrInvalidTopicName},
		{"create dot dot", create("..", []int32{1}), ErrInvalidTopicName},
		{"create empty name", create("", []int32{1}), ErrInvalidTopicName},
		{"create 250-char name", create(strings.Repeat("n", 250), []int32{1}), ErrInvalidTopicName},
		{"create name with space", create("a b", []int32{1}), ErrInvalidTopicName},
		{"create name with NUL", create("a\x00", []int32{1}), ErrInvalidTopicName},
		{"create non-ASCII name", create("tøpic", []int32{1}), ErrInvalidTopicName},
		{"create without partitions", create("new"), ErrInvalidPartitions},
		{"create empty replica list", create("new", []int32{}), ErrInvalidReplicationFactor},
		{"create unknown broker", create("new", []int32{1, 99}), ErrInvalidReplicaAssignment},
		{"create negative broker", create("new", []int32{-1}), ErrInvalidReplicaAssignment},
		{"create duplicate replicas", create("new", []int32{2, 2}), ErrInvalidReplicaAssignment},
		{"create unequal replica lists", create("new", []int32{1, 2}, []int32{3}), ErrInvalidReplicaAssignment},
		{"create too many partitions", create("new", make([][]int32, 100_001)...), ErrInvalidPartitions},
		{"create zero topic id", cmd(t, cmdCreateTopic, createTopicCmd{Name: "new", Replicas: [][]int32{{1}}}), ErrCorruptCommand},
		{"create empty config key", cmd(t, cmdCreateTopic, createTopicCmd{Name: "new", ID: topicID(42), Replicas: [][]int32{{1}},
			Configs: map[string]string{"": "x"}}), ErrInvalidConfig},
		{"create huge config value", cmd(t, cmdCreateTopic, createTopicCmd{Name: "new", ID: topicID(42), Replicas: [][]int32{{1}},
			Configs: map[string]string{"retention.ms": strings.Repeat("9", 5000)}}), ErrInvalidConfig},
		{"delete path-like name", cmd(t, cmdDeleteTopic, deleteTopicCmd{Name: "x/../a"}), ErrInvalidTopicName},
		{"delete dot dot", cmd(t, cmdDeleteTopic, deleteTopicCmd{Name: ".."}), ErrInvalidTopicName},
		{"grow path-like name", cmd(t, cmdCreatePartitions, createPartitionsCmd{Name: "x/../a", Total: 3, Replicas: [][]int32{{1, 2}}}), ErrInvalidTopicName},
		{"grow to 2^31-1", cmd(t, cmdCreatePartitions, createPartitionsCmd{Name: "a", Total: math.MaxInt32, Replicas: [][]int32{{1, 2}}}), ErrInvalidPartitions},
		{"grow to negative", cmd(t, cmdCreatePartitions, createPartitionsCmd{Name: "a", Total: math.MinInt32, Replicas: [][]int32{{1, 2}}}), ErrInvalidPartitions},
		{"grow with unknown broker", cmd(t, cmdCreatePartitions, createPartitionsCmd{Name: "a", Total: 3, Replicas: [][]int32{{1, 99}}}), ErrInvalidReplicaAssignment},
		{"grow with wrong rf", cmd(t, cmdCreatePartitions, createPartitionsCmd{Name: "a", Total: 3, Replicas: [][]int32{{1}}}), ErrInvalidReplicaAssignment},
		{"alter path-like name", cmd(t, cmdAlterTopicConfigs, alterTopicConfigsCmd{Name: "../a"}), ErrInvalidTopicName},
		{"alter empty key", alter(ConfigOp{Key: "", Value: strp("1")}), ErrInvalidConfig},
		{"alter 256-byte key", alter(ConfigOp{Key: strings.Repeat("k", 256), Value: strp("1")}), ErrInvalidConfig},
		{"alter huge value", alter(ConfigOp{Key: "retention.ms", Value: strp(strings.Repeat("1", 4097))}), ErrInvalidConfig},
		{"alter 1001 ops", alter(manyOps...), ErrInvalidConfig},
		{"producer ids negative", cmd(t, cmdAllocateProducerIDs, allocateProducerIDsCmd{Count: -1}), ErrInvalidProducerIDCount},
		{"producer ids zero", cmd(t, cmdAllocateProducerIDs, allocateProducerIDsCmd{Count: 0}), ErrInvalidProducerIDCount},
		{"producer ids 2^40", cmd(t, cmdAllocateProducerIDs, allocateProducerIDsCmd{Count: 1 << 40}), ErrInvalidProducerIDCount},
		{"state ISR outside replicas", change("a", 0, 1, 1, 3), ErrInvalidPartitionState},
		{"state ISR duplicate", change("a", 0, 1, 1, 1), ErrInvalidPartitionState},
		{"state ISR negative id", change("a", 0, -1, -7), ErrInvalidPartitionState},
		{"state leader outside ISR", change("a", 0, 2, 1), ErrInvalidPartitionState},
		{"state leader -2", change("a", 0, -2), ErrInvalidPartitionState},
		{"state partition -1", change("a", -1, 1, 1), ErrUnknownPartition},
		{"state partition 2^31-1", change("a", math.MaxInt32, 1, 1), ErrUnknownPartition},
		{"state path-like topic", change("../a", 0, 1, 1), ErrInvalidTopicName},
		{"broker negative id", broker(Broker{ID: -1}), ErrInvalidBroker},
		{"broker port 0", broker(listener("PLAINTEXT", "h", 0)), ErrInvalidBroker},
		{"broker port 65536", broker(listener("PLAINTEXT", "h", 65536)), ErrInvalidBroker},
		{"broker negative port", broker(listener("PLAINTEXT", "h", -9092)), ErrInvalidBroker},
		{"broker empty host", broker(listener("PLAINTEXT", "", 9092)), ErrInvalidBroker},
		{"broker empty listener name", broker(listener("", "h", 9092)), ErrInvalidBroker},
		{"broker duplicate listener", broker(Broker{ID: 7, Listeners: []Listener{{"A", "h", 1}, {"A", "g", 2}}}), ErrInvalidBroker},
		{"broker 65 listeners", broker(Broker{ID: 7, Listeners: manyListeners}), ErrInvalidBroker},
		{"broker huge rack", broker(Broker{ID: 7, Rack: strings.Repeat("r", 256)}), ErrInvalidBroker},
		{"fence unknown broker", cmd(t, cmdSetBrokersFenced, setBrokersFencedCmd{Fence: []int32{99}}), ErrInvalidBroker},
		{"fence negative broker", cmd(t, cmdSetBrokersFenced, setBrokersFencedCmd{Unfence: []int32{-1}}), ErrInvalidBroker},
		{"cluster id too long", cmd(t, cmdSetClusterID, setClusterIDCmd{ClusterID: strings.Repeat("c", 256)}), ErrCorruptCommand},
		{"not JSON", append([]byte{byte(cmdCreateTopic)}, "x/../a"...), ErrCorruptCommand},
		{"wrong JSON types", append([]byte{byte(cmdCreatePartitions)}, `{"name":"a","total":"many"}`...), ErrCorruptCommand},
	}
}

// TestFSMRefusesHostileCommands applies each hostile entry on every path:
// the FSM refuses it with the expected sentinel (the same on every replica:
// applied twice, both refuse), publishes nothing and leaves the state as it
// was.
func TestFSMRefusesHostileCommands(t *testing.T) {
	for _, tc := range hostileCommands(t) {
		t.Run(tc.name, func(t *testing.T) {
			for replica := range 2 {
				f, changes := testFSM(t)
				applyLog(t, f, baseLog(t))
				before, published := f.current(), *changes
				snap := snapshotBytes(t, before)
				res := f.Apply(&raft.Log{Index: before.Index + 1, Type: raft.LogCommand, Data: tc.entry}).(applyResult)
				if !errors.Is(res.err, tc.wantErr) {
					t.Fatalf("replica %d: err = %v, want %v", replica, res.err, tc.wantErr)
				}
				if f.current() != before || *changes != published || !bytes.Equal(snapshotBytes(t, before), snap) {
					t.Fatalf("replica %d: refused command changed the state", replica)
				}
			}
		})
	}
}

// allocatedDuring returns how many bytes fn allocated on the heap.
func allocatedDuring(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestHugeCountsAllocateLittle: partition counts of 2^31-1 (in a topic spec,
// a CreatePartitions total, a log entry) are refused before anything is
// sized by them.
func TestHugeCountsAllocateLittle(t *testing.T) {
	n := soloNode(t)
	ctx := ctxT(t)
	if _, err := n.CreateTopic(ctx, TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 1}, false); err != nil {
		t.Fatal(err)
	}
	const limit = 8 << 20
	calls := map[string]func() error{
		"CreateTopic": func() error {
			_, err := n.CreateTopic(ctx, TopicSpec{Name: "huge", Partitions: math.MaxInt32, ReplicationFactor: 1}, false)
			return err
		},
		"CreateTopic validateOnly": func() error {
			_, err := n.CreateTopic(ctx, TopicSpec{Name: "huge", Partitions: math.MaxInt32, ReplicationFactor: math.MaxInt16}, true)
			return err
		},
		"CreatePartitions": func() error { return n.CreatePartitions(ctx, "t", math.MaxInt32, nil, false) },
		"apply CreatePartitions": func() error {
			_, res := applyCommand(n.State(), n.State().Index+1,
				cmd(t, cmdCreatePartitions, createPartitionsCmd{Name: "t", Total: math.MaxInt32, Replicas: [][]int32{{1}}}))
			return res.err
		},
	}
	for name, call := range calls {
		var err error
		if got := allocatedDuring(func() { err = call() }); got > limit {
			t.Errorf("%s allocated %d bytes", name, got)
		}
		if !errors.Is(err, ErrInvalidPartitions) && !errors.Is(err, ErrInvalidReplicationFactor) {
			t.Errorf("%s = %v, want ErrInvalidPartitions", name, err)
		}
	}
}

// TestClusterForwardRefusesBadCommands sends raw requests over the
// forwarding port, as any process that reaches the raft port can: a
// CreateTopic or DeleteTopic with a path-like name, and other hostile
// arguments, are refused with the matching error code and change nothing.
func TestClusterForwardRefusesBadCommands(t *testing.T) {
	nodes, leader := startCluster3(t)
	registerBrokers(t, leader, 1, 2, 3)
	ctx := ctxT(t)
	if _, err := leader.CreateTopic(ctx, TopicSpec{Name: "orders", Partitions: 1, ReplicationFactor: 3}, false); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", leader.RaftAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte{forwardConnByte}); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	send := func(method string, args any) forwardResponse {
		t.Helper()
		raw, err := json.Marshal(args)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(forwardRequest{Method: method, Args: raw, TimeoutMS: 5000})
		frame, err := appendFrame(nil, body)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(frame); err != nil {
			t.Fatal(err)
		}
		out, err := readFrame(r)
		if err != nil {
			t.Fatal(err)
		}
		var resp forwardResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	before := leader.State().Index
	for _, tc := range []struct {
		method, code string
		args         any
	}{
		{"CreateTopic", "invalid_topic_name", createTopicArgs{Spec: TopicSpec{Name: "x/../orders", Partitions: 1, ReplicationFactor: 1}}},
		{"CreateTopic", "invalid_topic_name", createTopicArgs{Spec: TopicSpec{Name: "..", Assignment: [][]int32{{1}}}}},
		{"CreateTopic", "invalid_topic_name", createTopicArgs{Spec: TopicSpec{Name: "../../etc", Partitions: 1, ReplicationFactor: 1}, ValidateOnly: true}},
		{"DeleteTopic", "invalid_topic_name", deleteTopicArgs{Name: "x/../orders"}},
		{"DeleteTopic", "invalid_topic_name", deleteTopicArgs{Name: "."}},
		{"CreatePartitions", "invalid_topic_name", createPartitionsArgs{Name: "x/../orders", Total: 2}},
		{"AlterTopicConfigs", "invalid_topic_name", alterTopicConfigsArgs{Name: "x/../orders"}},
		{"AlterTopicConfigs", "invalid_config", alterTopicConfigsArgs{Name: "orders", Ops: []ConfigOp{{Key: "", Value: strp("1")}}}},
		{"RegisterBroker", "invalid_broker", registerBrokerArgs{Broker: Broker{ID: 9, Listeners: []Listener{{Name: "P", Host: "", Port: 9092}}}}},
		{"RegisterBroker", "invalid_broker", registerBrokerArgs{Broker: Broker{ID: 9, Listeners: []Listener{{Name: "P", Host: "h", Port: 70000}}}}},
		{"AllocateProducerIDs", "invalid_producer_id_count", allocateProducerIDsArgs{Count: math.MaxInt64}},
		{"AlterPartition", "invalid_partition_state", alterPartitionArgs{Change: PartitionChange{Topic: "orders", Partition: 0, Leader: 1, ISR: []int32{1, 7}}}},
	} {
		if resp := send(tc.method, tc.args); resp.Code != tc.code {
			t.Errorf("%s %+v: answered %q (%s), want %q", tc.method, tc.args, resp.Code, resp.Msg, tc.code)
		}
	}
	st := leader.State()
	if st.Index != before || st.Topics["orders"] == nil || len(st.Topics) != 1 || len(st.Brokers) != 3 {
		t.Fatalf("refused requests changed the state: index %d -> %d, topics %v", before, st.Index, st.Topics)
	}
	// The connection still serves good requests.
	if resp := send("DeleteTopic", deleteTopicArgs{Name: "orders"}); resp.Code != "" {
		t.Fatalf("good delete: %+v", resp)
	}
	waitSameState(t, nodes)
}
