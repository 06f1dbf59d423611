package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kfake answers Metadata and DescribeCluster but has no DescribeQuorum: the
// status must still come out, saying the quorum is unknown.
func TestClusterStatusKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(2, "orders"))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	brokers := strings.Join(c.ListenAddrs(), ",")

	st := decodeJSON[clusterStatus](t, mustRun(t, brokers, "", "cluster", "status", "--json").stdout)
	if st.LiveBrokers != 3 || st.FencedBrokers != 0 || len(st.Brokers) != 3 {
		t.Fatalf("brokers: %d alive, %d fenced, %+v; want 3 alive", st.LiveBrokers, st.FencedBrokers, st.Brokers)
	}
	addrs := c.ListenAddrs()
	controllers := 0
	for i, b := range st.Brokers {
		if b.ID != int32(i) || b.State != stateAlive || !slices.Contains(addrs, b.Address) {
			t.Errorf("broker %+v, want id %d alive at one of %v", b, i, addrs)
		}
		if b.Controller {
			controllers++
			if b.ID != st.Controller {
				t.Errorf("broker %d marked controller, controller is %d", b.ID, st.Controller)
			}
		}
	}
	if controllers != 1 {
		t.Errorf("%d brokers marked controller, want 1", controllers)
	}
	if st.Quorum != nil || st.QuorumUnavailable != quorumMissing {
		t.Errorf("quorum %+v / %q, want none and %q", st.Quorum, st.QuorumUnavailable, quorumMissing)
	}
	if st.Topics != 1 || st.Partitions != 2 || len(st.UnderReplicated) != 0 || len(st.Offline) != 0 {
		t.Errorf("partitions: %d topics %d partitions, under %v offline %v; want 1 topic, 2 healthy partitions",
			st.Topics, st.Partitions, st.UnderReplicated, st.Offline)
	}

	r := mustRun(t, brokers, "", "cluster", "status")
	for _, want := range []string{"brokers: 3 alive, 0 fenced", "quorum: " + quorumMissing,
		"partitions: 2 in 1 topics, 0 under-replicated, 0 offline", "controller"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, r.stdout)
		}
	}

	mustRun(t, brokers, "", "cluster", "status", "--expect-brokers", "3")
	r = run(t, brokers, "", "cluster", "status", "--expect-brokers", "4")
	if r.code != exitFail || !strings.Contains(r.stderr, "3 of 4 expected brokers alive") {
		t.Errorf("--expect-brokers 4: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestClusterStatusUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"cluster"}, exitUsage, "missing cluster subcommand"},
		{[]string{"cluster", "health"}, exitUsage, `unknown cluster subcommand "health"`},
		{[]string{"cluster", "status", "extra"}, exitUsage, "takes no arguments"},
		{[]string{"cluster", "status", "-h"}, exitOK, "--expect-brokers"},
	} {
		r := run(t, "127.0.0.1:1", "", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("%v: exit %d stderr %q, want exit %d and %q", tc.args, r.code, r.stderr, tc.code, tc.msg)
		}
	}
}

func TestClusterStatusUnreachable(t *testing.T) {
	r := run(t, closedAddr(t), "", "cluster", "status")
	if r.code != exitFail || !strings.Contains(r.stderr, "connection refused") {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
}

func TestPartitionHealth(t *testing.T) {
	md := kmsg.NewPtrMetadataResponse()
	topic := func(name string, code int16, parts ...kmsg.MetadataResponseTopicPartition) {
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic = kmsg.StringPtr(name)
		mt.ErrorCode = code
		mt.Partitions = parts
		md.Topics = append(md.Topics, mt)
	}
	part := func(i, leader int32, replicas, isr []int32) kmsg.MetadataResponseTopicPartition {
		p := kmsg.NewMetadataResponseTopicPartition()
		p.Partition, p.Leader, p.Replicas, p.ISR = i, leader, replicas, isr
		if leader < 0 {
			p.ErrorCode = 5 // LEADER_NOT_AVAILABLE
		}
		return p
	}
	topic("b", 0,
		part(1, 2, []int32{1, 2, 3}, []int32{2, 3}), // under-replicated
		part(0, 1, []int32{1, 2, 3}, []int32{1, 2, 3}),
	)
	topic("a", 0,
		part(0, -1, []int32{3}, []int32{3}),    // offline, ISR complete
		part(1, -1, []int32{1, 3}, []int32{3}), // offline and under-replicated
	)
	topic("gone", 3) // UNKNOWN_TOPIC_OR_PARTITION: not counted

	topics, parts, under, offline := partitionHealth(md)
	if topics != 2 || parts != 4 {
		t.Errorf("%d topics %d partitions, want 2 and 4", topics, parts)
	}
	key := func(ps []statusPartition) (out []string) {
		for _, p := range ps {
			out = append(out, p.Topic+"/"+string(rune('0'+p.Partition)))
		}
		return out
	}
	if got := key(under); !slices.Equal(got, []string{"a/1", "b/1"}) {
		t.Errorf("under-replicated %v, want [a/1 b/1]", got)
	}
	if got := key(offline); !slices.Equal(got, []string{"a/0", "a/1"}) {
		t.Errorf("offline %v, want [a/0 a/1]", got)
	}
	if offline[0].Error == "" || under[1].Error != "" {
		t.Errorf("errors: offline %q, healthy-leader %q", offline[0].Error, under[1].Error)
	}
}

func TestBuildQuorum(t *testing.T) {
	p := kmsg.NewDescribeQuorumResponseTopicPartition()
	p.LeaderID, p.LeaderEpoch, p.HighWatermark = 2, 7, 100
	rs := func(id int32, leo int64) kmsg.DescribeQuorumResponseTopicPartitionReplicaState {
		r := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		r.ReplicaID, r.LogEndOffset = id, leo
		return r
	}
	p.CurrentVoters = append(p.CurrentVoters, rs(1, -1), rs(2, 101), rs(3, -1))
	p.Observers = append(p.Observers, rs(4, -1), rs(9, -1))
	n := kmsg.NewDescribeQuorumResponseNode()
	n.NodeID = 4
	l := kmsg.NewDescribeQuorumResponseNodeListener()
	l.Host, l.Port = "h4", 9492
	n.Listeners = append(n.Listeners, l)
	brokers := []statusBroker{
		{ID: 1, Address: "h1:9092", State: stateAlive},
		{ID: 2, Address: "h2:9092", State: stateAlive},
		{ID: 3, Address: "h3:9092", State: stateFenced},
		{ID: 4, Address: "old:1", State: stateAlive},
	}
	q := buildQuorum(metadataLogTopic, p, []kmsg.DescribeQuorumResponseNode{n}, brokers)
	if q.Leader != 2 || q.LeaderEpoch != 7 || q.HighWatermark != 100 || q.Topic != metadataLogTopic {
		t.Errorf("quorum header %+v", q)
	}
	want := []statusReplica{
		{ID: 1, Role: roleFollower, BrokerState: stateAlive, Address: "h1:9092", LogEndOffset: -1},
		{ID: 2, Role: roleLeader, BrokerState: stateAlive, Address: "h2:9092", LogEndOffset: 101},
		{ID: 3, Role: roleFollower, BrokerState: stateFenced, Address: "h3:9092", LogEndOffset: -1},
	}
	if !slices.Equal(q.Voters, want) {
		t.Errorf("voters %+v\nwant %+v", q.Voters, want)
	}
	wantObs := []statusReplica{
		{ID: 4, Role: roleObserver, BrokerState: stateAlive, Address: "h4:9492", LogEndOffset: -1}, // v2 node address wins
		{ID: 9, Role: roleObserver, BrokerState: stateUnknown, LogEndOffset: -1},
	}
	if !slices.Equal(q.Observers, wantObs) {
		t.Errorf("observers %+v\nwant %+v", q.Observers, wantObs)
	}
}
