package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/chaoscheck"
	"github.com/strombroker/strom/wire"
)

// fastConsumerGroups makes KIP-848 members heartbeat every 100ms.
func fastConsumerGroups(c *Config) {
	c.GroupConsumerHeartbeatInterval = 100 * time.Millisecond
	c.GroupConsumerSessionTimeout = 3 * time.Second
}

func produceValues(ctx context.Context, t testing.TB, cl *kgo.Client, topic string, from, n int) {
	t.Helper()
	rs := make([]*kgo.Record, 0, n)
	for i := from; i < from+n; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("v%05d", i))})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// TestConsumerGroup848Rebalance: franz-go consumers speaking KIP-848 join
// and leave a group; partitions move without ever having two owners, and
// every record is delivered exactly once across the rebalances.
func TestConsumerGroup848Rebalance(t *testing.T) {
	_, addr := startTestServer(t, fastConsumerGroups)
	ctx := testCtx(t, 60*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "t848", 6); err != nil {
		t.Fatal(err)
	}
	prod := newClient(t, addr, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	produceValues(ctx, t, prod, "t848", 0, 300)

	o := chaoscheck.NewOwnership(t)
	seeds := []string{addr}
	stopA := chaoscheck.StartConsumer848(t, seeds, "g848", "t848", "a", o)
	waitUntil(t, 10*time.Second, "a owns all 6 partitions", func() bool { return o.Held("a") == 6 })
	chaoscheck.StartConsumer848(t, seeds, "g848", "t848", "b", o)
	waitUntil(t, 10*time.Second, "a and b own 3 each", func() bool { return o.Held("a") == 3 && o.Held("b") == 3 })
	produceValues(ctx, t, prod, "t848", 300, 300)
	waitUntil(t, 10*time.Second, "600 records", func() bool { return o.Total() == 600 })

	adm := kadm.NewClient(prod)
	described, err := adm.DescribeConsumerGroups(ctx, "g848")
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	d := described["g848"]
	if d.Err != nil || d.State != "Stable" || len(d.Members) != 2 {
		t.Fatalf("described %+v (err %v), want Stable with 2 members", d, d.Err)
	}

	stopA()
	waitUntil(t, 10*time.Second, "b owns all 6 partitions", func() bool { return o.Held("b") == 6 })
	produceValues(ctx, t, prod, "t848", 600, 300)
	waitUntil(t, 10*time.Second, "900 records", func() bool { return o.Total() == 900 })
	o.Check()

	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatalf("list groups: %v", err)
	}
	if lg, ok := listed["g848"]; !ok || lg.GroupType != "consumer" || lg.ProtocolType != "consumer" {
		t.Fatalf("listed %+v, want a consumer-type group", listed)
	}
}

// rawHeartbeat sends a ConsumerGroupHeartbeat, retrying while the offsets
// partition is not ready.
func rawHeartbeat(t *testing.T, c *wire.Client, req *kmsg.ConsumerGroupHeartbeatRequest) *kmsg.ConsumerGroupHeartbeatResponse {
	t.Helper()
	ctx := testCtx(t, 20*time.Second)
	for {
		resp, err := c.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		r := resp.(*kmsg.ConsumerGroupHeartbeatResponse)
		switch r.ErrorCode {
		case kerr.CoordinatorNotAvailable.Code, kerr.CoordinatorLoadInProgress.Code, kerr.NotCoordinator.Code:
			time.Sleep(50 * time.Millisecond)
			continue
		}
		return r
	}
}

// TestConsumerGroupHeartbeatWire: error codes and messages as Kafka sends
// them, and a join answered with epoch, interval and assignment by topic id.
func TestConsumerGroupHeartbeatWire(t *testing.T) {
	s, addr := startTestServer(t, fastConsumerGroups)
	ctx := testCtx(t, 20*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "w848", 2); err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, addr)
	join := func(member string) *kmsg.ConsumerGroupHeartbeatRequest {
		r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		r.Version = 1
		r.Group, r.MemberID, r.RebalanceTimeoutMillis = "wg", member, 30000
		r.SubscribedTopicNames = []string{"w848"}
		r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		return r
	}
	bad := join("")
	if r := rawHeartbeat(t, c, bad); r.ErrorCode != kerr.InvalidRequest.Code || r.ErrorMessage == nil {
		t.Fatalf("empty member id on v1: %+v", r)
	}
	sticky := "sticky"
	bad = join("m1")
	bad.ServerAssignor = &sticky
	if r := rawHeartbeat(t, c, bad); r.ErrorCode != kerr.UnsupportedAssignor.Code {
		t.Fatalf("unknown assignor: %+v", r)
	}
	ok := rawHeartbeat(t, c, join("m1"))
	id := s.meta.State().Topics["w848"].ID
	if ok.ErrorCode != 0 || ok.MemberEpoch != 1 || ok.HeartbeatIntervalMillis != 100 || ok.Assignment == nil ||
		len(ok.Assignment.Topics) != 1 || ok.Assignment.Topics[0].TopicID != id || len(ok.Assignment.Topics[0].Partitions) != 2 {
		t.Fatalf("join: %+v", ok)
	}
	stale := join("m1")
	stale.MemberEpoch, stale.Topics = 5, nil
	if r := rawHeartbeat(t, c, stale); r.ErrorCode != kerr.FencedMemberEpoch.Code {
		t.Fatalf("epoch 5: %+v", r)
	}
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Version, commit.Group, commit.MemberID, commit.Generation = 9, "wg", "m1", 2
	ct := kmsg.NewOffsetCommitRequestTopic()
	ct.Topic = "w848"
	ct.Partitions = []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1, LeaderEpoch: -1}}
	commit.Topics = append(commit.Topics, ct)
	resp, err := c.Request(ctx, commit)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.StaleMemberEpoch.Code {
		t.Fatalf("commit at epoch 2: error %d, want STALE_MEMBER_EPOCH", code)
	}
}

// TestConsumerGroup848StaticMember: a franz-go static member closing
// leaves with epoch -2; its successor with the same instance id gets the
// same partitions back at the same group epoch.
func TestConsumerGroup848StaticMember(t *testing.T) {
	_, addr := startTestServer(t, fastConsumerGroups)
	ctx := testCtx(t, 60*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "s848", 4); err != nil {
		t.Fatal(err)
	}
	o := chaoscheck.NewOwnership(t)
	seeds := []string{addr}
	stop1 := chaoscheck.StartConsumer848(t, seeds, "sg", "s848", "s1", o, kgo.InstanceID("inst-1"))
	chaoscheck.StartConsumer848(t, seeds, "sg", "s848", "d", o)
	waitUntil(t, 10*time.Second, "2 partitions each", func() bool { return o.Held("s1") == 2 && o.Held("d") == 2 })
	adm := newAdmin(t, addr)
	before, err := adm.DescribeConsumerGroups(ctx, "sg")
	if err != nil || before["sg"].Err != nil {
		t.Fatalf("describe: %v %v", err, before["sg"].Err)
	}
	stop1()
	chaoscheck.StartConsumer848(t, seeds, "sg", "s848", "s2", o, kgo.InstanceID("inst-1"))
	waitUntil(t, 10*time.Second, "the successor holds 2", func() bool { return o.Held("s2") == 2 })
	after, err := adm.DescribeConsumerGroups(ctx, "sg")
	if err != nil || after["sg"].Err != nil {
		t.Fatalf("describe: %v %v", err, after["sg"].Err)
	}
	if after["sg"].Epoch != before["sg"].Epoch || o.Held("d") != 2 {
		t.Fatalf("group epoch %d -> %d, d holds %d: the static member's return rebalanced", before["sg"].Epoch, after["sg"].Epoch, o.Held("d"))
	}
	o.Check()
}

// TestConsumerGroup848Regex: a franz-go regex consumer on the KIP-848
// protocol gets the topics the broker matches, a topic created later too.
func TestConsumerGroup848Regex(t *testing.T) {
	_, addr := startTestServer(t, fastConsumerGroups)
	ctx := testCtx(t, 60*time.Second)
	for _, tp := range []string{"re-a", "re-b", "other"} {
		if _, err := kadmCreate(ctx, t, addr, tp, 1); err != nil {
			t.Fatal(err)
		}
	}
	o := chaoscheck.NewOwnership(t)
	chaoscheck.StartConsumer848(t, []string{addr}, "rg", "re-.*", "r", o, kgo.ConsumeRegex(), kgo.MetadataMinAge(100*time.Millisecond), kgo.MetadataMaxAge(200*time.Millisecond))
	waitUntil(t, 10*time.Second, "re-a and re-b assigned", func() bool { return o.Held("r") == 2 })
	if _, err := kadmCreate(ctx, t, addr, "re-c", 1); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "re-c assigned too", func() bool { return o.Held("r") == 3 })
	o.Check()
}

// TestApiVersionsGroupVersion: ConsumerGroupHeartbeat and
// ConsumerGroupDescribe v0-v1 are advertised, with the group.version
// feature finalized at 1, as a Kafka 4 cluster does.
func TestApiVersionsGroupVersion(t *testing.T) {
	_, addr := startTestServer(t)
	c := dialRaw(t, addr)
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "strom-test", "1"
	resp, err := c.Request(testCtx(t, 10*time.Second), req)
	if err != nil {
		t.Fatal(err)
	}
	r := resp.(*kmsg.ApiVersionsResponse)
	found := map[int16]int16{}
	for _, k := range r.ApiKeys {
		found[k.ApiKey] = k.MaxVersion
	}
	if found[68] != 1 || found[69] != 1 {
		t.Errorf("ConsumerGroupHeartbeat/Describe max versions %d/%d, want 1/1", found[68], found[69])
	}
	ok := false
	for _, f := range r.FinalizedFeatures {
		ok = ok || (f.Name == "group.version" && f.MaxVersionLevel == 1)
	}
	if !ok {
		t.Errorf("finalized features %+v lack group.version 1", r.FinalizedFeatures)
	}
}

// TestConfigConsumerGroups: the group.consumer.* settings are checked.
func TestConfigConsumerGroups(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"unknown assignor":             func(c *Config) { c.GroupConsumerAssignors = []string{"sticky"} },
		"no assignor":                  func(c *Config) { c.GroupConsumerAssignors = nil },
		"heartbeat above session":      func(c *Config) { c.GroupConsumerHeartbeatInterval = time.Minute },
		"zero session timeout":         func(c *Config) { c.GroupConsumerSessionTimeout = 0 },
		"group.consumer.max.size zero": func(c *Config) { c.GroupConsumerMaxSize = 0 },
	} {
		c := testConfig(t)
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c := testConfig(t)
	c.GroupConsumerAssignors = []string{"range", "uniform"}
	if err := c.Validate(); err != nil {
		t.Errorf("range,uniform: %v", err)
	}
}
