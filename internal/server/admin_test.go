package server

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/strombroker/strom/internal/acl"
)

// pinVersion caps the version a client uses for one API key, so old
// versions of a request can be exercised.
func pinVersion(key, version int16) kgo.Opt {
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(key, version)
	return kgo.MaxVersions(vs)
}

// direct sends req to broker 1 itself, bypassing the client's routing (which
// would answer requests for unknown brokers or partitions on its own).
func direct[R kmsg.Response](ctx context.Context, t *testing.T, cl *kgo.Client, req kmsg.Request) R {
	t.Helper()
	resp, err := cl.Broker(1).Request(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp.(R)
}

// wantCode fails the test unless got is want's code (nil want: no error).
func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	var code int16
	if want != nil {
		code = want.Code
	}
	if got != code {
		t.Errorf("%s: error %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

// wantMessage fails the test unless msg is set and contains sub.
func wantMessage(t *testing.T, what string, msg *string, sub string) {
	t.Helper()
	if msg == nil || !strings.Contains(*msg, sub) {
		t.Errorf("%s: error message %v, want one containing %q", what, strPtrValue(msg), sub)
	}
}

// asError converts a possibly nil *kerr.Error to an error that is nil when it is.
func asError(e *kerr.Error) error {
	if e == nil {
		return nil
	}
	return e
}

func strPtrValue(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// topicReq builds one CreateTopics entry; configs are key, value pairs.
func topicReq(name string, partitions int32, rf int16, configs ...string) kmsg.CreateTopicsRequestTopic {
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic = name
	t.NumPartitions = partitions
	t.ReplicationFactor = rf
	for i := 0; i+1 < len(configs); i += 2 {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name = configs[i]
		c.Value = kmsg.StringPtr(configs[i+1])
		t.Configs = append(t.Configs, c)
	}
	return t
}

func createTopicsRaw(ctx context.Context, t *testing.T, cl *kgo.Client, validateOnly bool, topics ...kmsg.CreateTopicsRequestTopic) *kmsg.CreateTopicsResponse {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10000
	req.ValidateOnly = validateOnly
	req.Topics = topics
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("CreateTopics: %v", err)
	}
	if len(resp.Topics) != len(topics) {
		t.Fatalf("CreateTopics: %d answers for %d topics", len(resp.Topics), len(topics))
	}
	return resp
}

func responseConfig(cfgs []kmsg.CreateTopicsResponseTopicConfig, name string) (kmsg.CreateTopicsResponseTopicConfig, bool) {
	for _, c := range cfgs {
		if c.Name == name {
			return c, true
		}
	}
	return kmsg.CreateTopicsResponseTopicConfig{}, false
}

func TestAdminCreateTopics(t *testing.T) {
	s, addr := startTestServer(t, func(c *Config) { c.NumPartitions = 3 })
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := testCtx(t, time.Minute)

	nullCfg := topicReq("nullcfg", 1, 1)
	nullCfg.Configs = []kmsg.CreateTopicsRequestTopicConfig{{Name: "retention.ms"}}
	resp := createTopicsRaw(ctx, t, cl, false,
		topicReq("defaults", -1, -1),
		topicReq("explicit", 2, 1, "retention.ms", "60000", "cleanup.policy", "delete", "flush.messages", "1"),
		topicReq("bad name!", 1, 1),
		topicReq("badkey", 1, 1, "no.such.config", "1"),
		topicReq("badval", 1, 1, "retention.ms", "soon"),
		topicReq("shred", 1, 1, "cleanup.policy", "shred"),
		nullCfg,
		topicReq("dup", 1, 1),
		topicReq("dup", 1, 1),
		topicReq("zero", 0, 1),
		topicReq("rf0", 1, 0),
		topicReq("rf2", 1, 2),
	)
	if resp.Version < 7 {
		t.Fatalf("client used CreateTopics v%d, want 7", resp.Version)
	}
	byIdx := resp.Topics

	def := byIdx[0]
	wantCode(t, "defaults", def.ErrorCode, nil)
	if def.NumPartitions != 3 || def.ReplicationFactor != 1 {
		t.Errorf("defaults: %d partitions, rf %d; want 3 (num.partitions) and 1", def.NumPartitions, def.ReplicationFactor)
	}
	if def.TopicID == [16]byte{} {
		t.Error("defaults: no topic id in a v7 response")
	}
	if c, ok := responseConfig(def.Configs, "retention.ms"); !ok || c.Source != int8(kmsg.ConfigSourceDefaultConfig) {
		t.Errorf("defaults: retention.ms config %+v (found %v), want source DEFAULT_CONFIG", c, ok)
	}

	exp := byIdx[1]
	wantCode(t, "explicit", exp.ErrorCode, nil)
	if exp.NumPartitions != 2 || exp.ReplicationFactor != 1 {
		t.Errorf("explicit: %d partitions, rf %d; want 2 and 1", exp.NumPartitions, exp.ReplicationFactor)
	}
	if c, ok := responseConfig(exp.Configs, "retention.ms"); !ok || strPtrValue(c.Value) != "60000" || c.Source != int8(kmsg.ConfigSourceDynamicTopicConfig) {
		t.Errorf("explicit: retention.ms config %+v, want 60000 from DYNAMIC_TOPIC_CONFIG", c)
	}
	if c, ok := responseConfig(exp.Configs, "flush.messages"); !ok || strPtrValue(c.Value) != "1" {
		t.Errorf("explicit: flush.messages config %+v, want 1", c)
	}
	if got := s.replicas.Get("explicit", 0); got == nil {
		t.Error("explicit: partition 0 not open")
	}

	wantCode(t, "bad name", byIdx[2].ErrorCode, kerr.InvalidTopicException)
	wantMessage(t, "bad name", byIdx[2].ErrorMessage, "illegal character")
	wantCode(t, "unknown config", byIdx[3].ErrorCode, kerr.InvalidConfig)
	wantMessage(t, "unknown config", byIdx[3].ErrorMessage, "no.such.config")
	wantCode(t, "bad config value", byIdx[4].ErrorCode, kerr.InvalidConfig)
	wantMessage(t, "bad config value", byIdx[4].ErrorMessage, "retention.ms")
	wantCode(t, "unsupported cleanup.policy", byIdx[5].ErrorCode, kerr.InvalidConfig)
	wantCode(t, "null config", byIdx[6].ErrorCode, kerr.InvalidConfig)
	wantCode(t, "duplicate 1", byIdx[7].ErrorCode, kerr.InvalidRequest)
	wantCode(t, "duplicate 2", byIdx[8].ErrorCode, kerr.InvalidRequest)
	wantCode(t, "zero partitions", byIdx[9].ErrorCode, kerr.InvalidPartitions)
	wantCode(t, "zero replication factor", byIdx[10].ErrorCode, kerr.InvalidReplicationFactor)
	wantCode(t, "rf above brokers", byIdx[11].ErrorCode, kerr.InvalidReplicationFactor)
	for _, rt := range byIdx[2:] {
		if rt.NumPartitions != -1 || rt.ReplicationFactor != -1 {
			t.Errorf("%s: failed topic reports %d partitions, rf %d; want -1, -1", rt.Topic, rt.NumPartitions, rt.ReplicationFactor)
		}
	}

	st := s.meta.State()
	for _, name := range []string{"bad name!", "badkey", "badval", "shred", "nullcfg", "dup", "zero", "rf0", "rf2"} {
		if _, ok := st.Topics[name]; ok {
			t.Errorf("topic %q was created despite its error", name)
		}
	}
	if got := st.Topics["explicit"]; got == nil || got.Configs["retention.ms"] != "60000" {
		t.Errorf("explicit in metadata: %+v, want retention.ms=60000", got)
	}
	// Reconciled before the answer: the partitions are open here already.
	for p := int32(0); p < 3; p++ {
		if s.replicas.Get("defaults", p) == nil {
			t.Errorf("defaults-%d is not open after CreateTopics returned", p)
		}
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "explicit", Partition: 1, Value: []byte("v")}).FirstErr(); err != nil {
		t.Errorf("produce to a just-created partition: %v", err)
	}

	// Existing names and names colliding through '.' / '_'.
	resp = createTopicsRaw(ctx, t, cl, false, topicReq("defaults", 1, 1), topicReq("a.b", 1, 1))
	wantCode(t, "already exists", resp.Topics[0].ErrorCode, kerr.TopicAlreadyExists)
	wantCode(t, "a.b", resp.Topics[1].ErrorCode, nil)
	resp = createTopicsRaw(ctx, t, cl, false, topicReq("a_b", 1, 1))
	wantCode(t, "a_b colliding with a.b", resp.Topics[0].ErrorCode, kerr.InvalidTopicException)
	wantMessage(t, "a_b colliding with a.b", resp.Topics[0].ErrorMessage, "collides")

	// ValidateOnly checks (also in the controller) and creates nothing.
	resp = createTopicsRaw(ctx, t, cl, true, topicReq("validated", -1, -1), topicReq("validated-rf2", 1, 2))
	wantCode(t, "validate only", resp.Topics[0].ErrorCode, nil)
	if resp.Topics[0].NumPartitions != 3 {
		t.Errorf("validate only: %d partitions, want 3", resp.Topics[0].NumPartitions)
	}
	wantCode(t, "validate only rf2", resp.Topics[1].ErrorCode, kerr.InvalidReplicationFactor)
	if _, ok := s.meta.State().Topics["validated"]; ok {
		t.Error("validate-only request created the topic")
	}

	// Explicit replica assignments.
	assigned := topicReq("assigned", -1, -1)
	assigned.ReplicaAssignment = []kmsg.CreateTopicsRequestTopicReplicaAssignment{{Partition: 1, Replicas: []int32{1}}, {Partition: 0, Replicas: []int32{1}}}
	both := topicReq("both", 2, 1)
	both.ReplicaAssignment = assigned.ReplicaAssignment
	gap := topicReq("gap", -1, -1)
	gap.ReplicaAssignment = []kmsg.CreateTopicsRequestTopicReplicaAssignment{{Partition: 0, Replicas: []int32{1}}, {Partition: 2, Replicas: []int32{1}}}
	unknownBroker := topicReq("unknown-broker", -1, -1)
	unknownBroker.ReplicaAssignment = []kmsg.CreateTopicsRequestTopicReplicaAssignment{{Partition: 0, Replicas: []int32{42}}}
	resp = createTopicsRaw(ctx, t, cl, false, assigned, both, gap, unknownBroker)
	wantCode(t, "assigned", resp.Topics[0].ErrorCode, nil)
	if resp.Topics[0].NumPartitions != 2 || resp.Topics[0].ReplicationFactor != 1 {
		t.Errorf("assigned: %d partitions, rf %d; want 2, 1", resp.Topics[0].NumPartitions, resp.Topics[0].ReplicationFactor)
	}
	wantCode(t, "assignment with counts", resp.Topics[1].ErrorCode, kerr.InvalidRequest)
	wantCode(t, "assignment with a gap", resp.Topics[2].ErrorCode, kerr.InvalidReplicaAssignment)
	wantCode(t, "assignment to an unknown broker", resp.Topics[3].ErrorCode, kerr.InvalidReplicaAssignment)

	// kadm sees the same (and old versions work).
	old := kadm.NewClient(newClient(t, addr, pinVersion(19, 0)))
	cr, err := old.CreateTopic(ctx, 1, 1, nil, "from-v0")
	if err != nil || cr.Err != nil {
		t.Fatalf("CreateTopics v0: %v / %v", err, cr.Err)
	}
	if _, ok := s.meta.State().Topics["from-v0"]; !ok {
		t.Error("CreateTopics v0 did not create the topic")
	}
}

func TestAdminDeleteTopics(t *testing.T) {
	s, addr := startTestServer(t)
	cl := newClient(t, addr)
	adm := kadm.NewClient(cl)
	ctx := testCtx(t, time.Minute)

	if _, err := adm.CreateTopics(ctx, 2, 1, nil, "gone", "byid", "keep", "named"); err != nil {
		t.Fatal(err)
	}
	st := s.meta.State()
	byID, keepID := st.Topics["byid"].ID, st.Topics["keep"].ID
	if s.replicas.Get("gone", 1) == nil {
		t.Fatal("gone-1 not open after create")
	}

	dr, err := adm.DeleteTopics(ctx, "gone")
	if err != nil || dr["gone"].Err != nil {
		t.Fatalf("delete by name: %v / %v", err, dr["gone"].Err)
	}
	if _, ok := s.meta.State().Topics["gone"]; ok {
		t.Error("gone still in metadata")
	}
	if s.replicas.Get("gone", 0) != nil || s.replicas.Get("gone", 1) != nil {
		t.Error("gone's replicas still open after DeleteTopics returned")
	}

	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 10000
	name := func(n string) kmsg.DeleteTopicsRequestTopic {
		return kmsg.DeleteTopicsRequestTopic{Topic: kmsg.StringPtr(n)}
	}
	req.Topics = []kmsg.DeleteTopicsRequestTopic{
		{TopicID: byID},
		{TopicID: [16]byte{1, 2, 3}},
		name("nosuch"),
		name(offsetsTopic),
		{Topic: kmsg.StringPtr("keep"), TopicID: keepID},
		{},
		name("named"), name("named"),
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Version != 6 || len(resp.Topics) != len(req.Topics) {
		t.Fatalf("DeleteTopics v%d: %d answers for %d topics", resp.Version, len(resp.Topics), len(req.Topics))
	}
	wantCode(t, "by id", resp.Topics[0].ErrorCode, nil)
	if strPtrValue(resp.Topics[0].Topic) != "byid" || resp.Topics[0].TopicID != byID {
		t.Errorf("by id: answered name %s id %x, want byid %x", strPtrValue(resp.Topics[0].Topic), resp.Topics[0].TopicID, byID)
	}
	wantCode(t, "unknown id", resp.Topics[1].ErrorCode, kerr.UnknownTopicID)
	wantCode(t, "unknown name", resp.Topics[2].ErrorCode, kerr.UnknownTopicOrPartition)
	wantCode(t, "offsets topic", resp.Topics[3].ErrorCode, kerr.TopicAuthorizationFailed)
	wantMessage(t, "offsets topic", resp.Topics[3].ErrorMessage, "internal")
	wantCode(t, "name and id", resp.Topics[4].ErrorCode, kerr.InvalidRequest)
	wantCode(t, "neither name nor id", resp.Topics[5].ErrorCode, kerr.InvalidRequest)
	wantCode(t, "duplicate 1", resp.Topics[6].ErrorCode, kerr.InvalidRequest)
	wantCode(t, "duplicate 2", resp.Topics[7].ErrorCode, kerr.InvalidRequest)

	st = s.meta.State()
	if _, ok := st.Topics["byid"]; ok {
		t.Error("byid still in metadata")
	}
	for _, n := range []string{"keep", "named", offsetsTopic} {
		if _, ok := st.Topics[n]; !ok {
			t.Errorf("%s was deleted despite its error", n)
		}
	}

	// v0 by name, through a pinned client.
	old := newClient(t, addr, pinVersion(20, 0))
	req0 := kmsg.NewPtrDeleteTopicsRequest()
	req0.TimeoutMillis = 10000
	req0.TopicNames = []string{"keep", "nosuch"}
	resp0, err := req0.RequestWith(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	if resp0.Version != 0 || len(resp0.Topics) != 2 {
		t.Fatalf("DeleteTopics v%d with %d answers, want v0 with 2", resp0.Version, len(resp0.Topics))
	}
	wantCode(t, "v0 keep", resp0.Topics[0].ErrorCode, nil)
	wantCode(t, "v0 nosuch", resp0.Topics[1].ErrorCode, kerr.UnknownTopicOrPartition)
	if strPtrValue(resp0.Topics[1].Topic) != "nosuch" {
		t.Errorf("v0 answer names %s, want nosuch", strPtrValue(resp0.Topics[1].Topic))
	}

	// A deleted name can be used again, starting empty.
	if _, err := adm.CreateTopics(ctx, 1, 1, nil, "gone"); err != nil {
		t.Fatal(err)
	}
	if got := s.meta.State().Topics["gone"]; got == nil || len(got.Partitions) != 1 {
		t.Errorf("recreated gone: %+v, want 1 partition", got)
	}
}

func TestAdminCreatePartitions(t *testing.T) {
	s, addr := startTestServer(t)
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	ctx := testCtx(t, time.Minute)
	if _, err := adm.CreateTopics(ctx, 1, 1, nil, "grow"); err != nil {
		t.Fatal(err)
	}

	r, err := adm.UpdatePartitions(ctx, 3, "grow")
	if err != nil || r["grow"].Err != nil {
		t.Fatalf("grow to 3: %v / %v %s", err, r["grow"].Err, r["grow"].ErrMessage)
	}
	if n := len(s.meta.State().Topics["grow"].Partitions); n != 3 {
		t.Fatalf("grow has %d partitions, want 3", n)
	}
	if s.replicas.Get("grow", 2) == nil {
		t.Error("grow-2 not open after CreatePartitions returned")
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "grow", Partition: 2, Value: []byte("v")}).FirstErr(); err != nil {
		t.Errorf("produce to a new partition: %v", err)
	}

	r, _ = adm.UpdatePartitions(ctx, 2, "grow")
	if r["grow"].Err != kerr.InvalidPartitions || !strings.Contains(r["grow"].ErrMessage, "3") {
		t.Errorf("shrink: %v %q, want INVALID_PARTITIONS naming the current 3", r["grow"].Err, r["grow"].ErrMessage)
	}
	r, _ = adm.UpdatePartitions(ctx, 3, "grow")
	if r["grow"].Err != kerr.InvalidPartitions || !strings.Contains(r["grow"].ErrMessage, "already") {
		t.Errorf("same count: %v %q, want INVALID_PARTITIONS", r["grow"].Err, r["grow"].ErrMessage)
	}
	r, _ = adm.ValidateUpdatePartitions(ctx, 5, "grow")
	if r["grow"].Err != nil {
		t.Errorf("validate grow to 5: %v", r["grow"].Err)
	}
	if n := len(s.meta.State().Topics["grow"].Partitions); n != 3 {
		t.Errorf("validate-only changed the partition count to %d", n)
	}
	r, _ = adm.UpdatePartitions(ctx, 2, "nosuch")
	if r["nosuch"].Err != kerr.UnknownTopicOrPartition {
		t.Errorf("unknown topic: %v", r["nosuch"].Err)
	}
	r, _ = adm.UpdatePartitions(ctx, 100, offsetsTopic)
	if r[offsetsTopic].Err != kerr.InvalidPartitions {
		t.Errorf("grow %s: %v, want INVALID_PARTITIONS", offsetsTopic, r[offsetsTopic].Err)
	}

	req := kmsg.NewPtrCreatePartitionsRequest()
	req.TimeoutMillis = 10000
	req.Topics = []kmsg.CreatePartitionsRequestTopic{
		{Topic: "grow", Count: 5, Assignment: []kmsg.CreatePartitionsRequestTopicAssignment{{Replicas: []int32{1}}}},
		{Topic: "dup", Count: 2}, {Topic: "dup", Count: 2},
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "short assignment", resp.Topics[0].ErrorCode, kerr.InvalidReplicaAssignment)
	wantCode(t, "duplicate 1", resp.Topics[1].ErrorCode, kerr.InvalidRequest)
	wantCode(t, "duplicate 2", resp.Topics[2].ErrorCode, kerr.InvalidRequest)

	req.Topics = []kmsg.CreatePartitionsRequestTopic{
		{Topic: "grow", Count: 5, Assignment: []kmsg.CreatePartitionsRequestTopicAssignment{{Replicas: []int32{1}}, {Replicas: []int32{1}}}},
	}
	if resp, err = req.RequestWith(ctx, cl); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "explicit assignment", resp.Topics[0].ErrorCode, nil)
	if n := len(s.meta.State().Topics["grow"].Partitions); n != 5 {
		t.Errorf("grow has %d partitions after the assigned grow, want 5", n)
	}
}

// describeConfigs sends one DescribeConfigs request for one resource.
func describeConfigs(ctx context.Context, t *testing.T, cl *kgo.Client, typ kmsg.ConfigResourceType, name string, synonyms, docs bool, keys ...string) kmsg.DescribeConfigsResponseResource {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms = synonyms
	req.IncludeDocumentation = docs
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType = typ
	res.ResourceName = name
	res.ConfigNames = keys
	req.Resources = append(req.Resources, res)
	resp := direct[*kmsg.DescribeConfigsResponse](ctx, t, cl, req)
	if len(resp.Resources) != 1 {
		t.Fatalf("DescribeConfigs: %d resources answered, want 1", len(resp.Resources))
	}
	return resp.Resources[0]
}

func findConfig(cfgs []kmsg.DescribeConfigsResponseResourceConfig, name string) *kmsg.DescribeConfigsResponseResourceConfig {
	for i := range cfgs {
		if cfgs[i].Name == name {
			return &cfgs[i]
		}
	}
	return nil
}

func TestAdminDescribeConfigs(t *testing.T) {
	const segBytes = 1 << 20
	s, addr := startTestServer(t, func(c *Config) { c.Log.SegmentBytes = segBytes; c.Rack = "r1" })
	cl := newClient(t, addr)
	adm := kadm.NewClient(cl)
	ctx := testCtx(t, time.Minute)
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.ms": kmsg.StringPtr("1234")}, "cfg"); err != nil {
		t.Fatal(err)
	}

	res := describeConfigs(ctx, t, cl, kmsg.ConfigResourceTypeTopic, "cfg", true, true)
	wantCode(t, "describe topic", res.ErrorCode, nil)
	if len(res.Configs) != len(topicConfigs) {
		t.Errorf("topic describes %d configs, want all %d", len(res.Configs), len(topicConfigs))
	}
	cases := []struct {
		name, value string
		source      kmsg.ConfigSource
		synonyms    []string // "name=value/source"
	}{
		{"retention.ms", "1234", kmsg.ConfigSourceDynamicTopicConfig,
			[]string{"retention.ms=1234/1", "log.retention.ms=604800000/5"}},
		{"segment.bytes", strconv.Itoa(segBytes), kmsg.ConfigSourceStaticBrokerConfig,
			[]string{"log.segment.bytes=1048576/4", "log.segment.bytes=1073741824/5"}},
		{"retention.bytes", "-1", kmsg.ConfigSourceDefaultConfig,
			[]string{"log.retention.bytes=-1/5"}},
	}
	for _, tc := range cases {
		c := findConfig(res.Configs, tc.name)
		if c == nil {
			t.Errorf("%s missing", tc.name)
			continue
		}
		if strPtrValue(c.Value) != tc.value || c.Source != tc.source || c.ReadOnly || c.IsSensitive {
			t.Errorf("%s = %s source %v readOnly %v; want %s from %v, writable", tc.name, strPtrValue(c.Value), c.Source, c.ReadOnly, tc.value, tc.source)
		}
		var syn []string
		for _, sy := range c.ConfigSynonyms {
			syn = append(syn, sy.Name+"="+strPtrValue(sy.Value)+"/"+strconv.Itoa(int(sy.Source)))
		}
		if strings.Join(syn, " ") != strings.Join(tc.synonyms, " ") {
			t.Errorf("%s synonyms %v, want %v", tc.name, syn, tc.synonyms)
		}
		if c.ConfigType == 0 || c.Documentation == nil || *c.Documentation == "" {
			t.Errorf("%s: type %v doc %v, want both (v3+ with IncludeDocumentation)", tc.name, c.ConfigType, c.Documentation)
		}
	}
	if c := findConfig(res.Configs, "cleanup.policy"); c == nil || c.ConfigType != kmsg.ConfigTypeList {
		t.Errorf("cleanup.policy: %+v, want a LIST config", c)
	}

	// Without synonyms/docs, filtered by name.
	res = describeConfigs(ctx, t, cl, kmsg.ConfigResourceTypeTopic, "cfg", false, false, "retention.ms", "no.such")
	if len(res.Configs) != 1 || res.Configs[0].Name != "retention.ms" || len(res.Configs[0].ConfigSynonyms) != 0 || res.Configs[0].Documentation != nil {
		t.Errorf("filtered describe: %+v, want only retention.ms without synonyms or docs", res.Configs)
	}

	wantCode(t, "unknown topic", describeConfigs(ctx, t, cl, kmsg.ConfigResourceTypeTopic, "nosuch", false, false).ErrorCode, kerr.UnknownTopicOrPartition)
	wantCode(t, "invalid topic", describeConfigs(ctx, t, cl, kmsg.ConfigResourceTypeTopic, "no/slash", false, false).ErrorCode, kerr.InvalidTopicException)

	// This broker.
	res = describeConfigs(ctx, t, cl, kmsg.ConfigResourceTypeBroker, "1", true, false)
	wantCode(t, "describe broker", res.ErrorCode, nil)
	for name, want := range map[string]string{
		"node.id":              "1",
		"broker.rack":          "r1",
		"num.partitions":       "1",
		"log.segment.bytes":    strconv.Itoa(segBytes),
		"log.retention.ms":     "604800000",
		"advertised.listeners": "PLAINTEXT://" + addr,
		"log.dirs":             s.cfg.DataDir,
		"min.insync.replicas":  "1",
		"message.max.bytes":    strconv.Itoa(int(s.cfg.MessageMaxBytes)),
		"log.fsync":            string(s.cfg.Log.Fsync),
	} {
		c := findConfig(res.Configs, name)
		if c == nil {
			t.Errorf("broker config %s missing", name)
			continue
		}
		if strPtrValue(c.Value) != want || !c.ReadOnly || len(c.ConfigSynonyms) == 0 {
			t.Errorf("broker %s = %s readOnly %v synonyms %d; want %s, read-only, with synonyms", name, strPtrValue(c.Value), c.ReadOnly, len(c.ConfigSynonyms), want)
		}
	}
	if c := findConfig(res.Configs, "log.segment.bytes"); c != nil && c.Source != kmsg.ConfigSourceStaticBrokerConfig {
		t.Errorf("log.segment.bytes source %v, want STATIC_BROKER_CONFIG (set away from the default)", c.Source)
	}
	if c := findConfig(res.Configs, "num.partitions"); c != nil && c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("num.partitions source %v, want DEFAULT_CONFIG", c.Source)
	}

	// kadm's broker describe (goes to that broker, with synonyms).
	rcs, err := adm.DescribeBrokerConfigs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rcs) != 1 || rcs[0].Err != nil || len(rcs[0].Configs) == 0 {
		t.Errorf("kadm DescribeBrokerConfigs: %+v", rcs)
	}

	res = describeConfigs(ctx, t, cl, kmsg.ConfigResourceTypeBroker, "", false, false)
	if res.ErrorCode != 0 || len(res.Configs) != 0 {
		t.Errorf("cluster default broker resource: error %d, %d configs; want none (no dynamic defaults)", res.ErrorCode, len(res.Configs))
	}
	wantCode(t, "other broker", describeConfigs(ctx, t, cl, kmsg.ConfigResourceTypeBroker, "7", false, false).ErrorCode, kerr.InvalidRequest)
	wantCode(t, "non-numeric broker", describeConfigs(ctx, t, cl, kmsg.ConfigResourceTypeBroker, "x", false, false).ErrorCode, kerr.InvalidRequest)
	wantCode(t, "broker logger", describeConfigs(ctx, t, cl, kmsg.ConfigResourceTypeBrokerLogger, "1", false, false).ErrorCode, kerr.InvalidRequest)

	// v0: no sources on the wire, IsDefault only.
	old := newClient(t, addr, pinVersion(32, 0))
	res = describeConfigs(ctx, t, old, kmsg.ConfigResourceTypeTopic, "cfg", true, true)
	if c := findConfig(res.Configs, "retention.ms"); c == nil || c.IsDefault || strPtrValue(c.Value) != "1234" {
		t.Errorf("v0 retention.ms: %+v", c)
	}
	if c := findConfig(res.Configs, "retention.bytes"); c == nil || !c.IsDefault {
		t.Errorf("v0 retention.bytes: %+v, want IsDefault", c)
	}
}

func TestAdminAlterConfigs(t *testing.T) {
	s, addr := startTestServer(t)
	cl := newClient(t, addr)
	adm := kadm.NewClient(cl)
	ctx := testCtx(t, time.Minute)
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.bytes": kmsg.StringPtr("5000000")}, "alt"); err != nil {
		t.Fatal(err)
	}
	retention := func() time.Duration {
		t.Helper()
		return s.settingsFor(s.meta.State().Topics["alt"]).Log.RetentionMs
	}
	one := func(rs kadm.AlterConfigsResponses, err error) kadm.AlterConfigsResponse {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 1 {
			t.Fatalf("%d alter answers, want 1", len(rs))
		}
		return rs[0]
	}
	set := func(name, value string) kadm.AlterConfig {
		return kadm.AlterConfig{Op: kadm.SetConfig, Name: name, Value: kmsg.StringPtr(value)}
	}

	r := one(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{set("retention.ms", "1234")}, "alt"))
	if r.Err != nil {
		t.Fatalf("incremental set: %v %s", r.Err, r.ErrMessage)
	}
	if got := retention(); got != 1234*time.Millisecond {
		t.Errorf("partition retention after set: %v, want 1.234s", got)
	}
	if c := findConfig(describeConfigs(ctx, t, cl, kmsg.ConfigResourceTypeTopic, "alt", false, false).Configs, "retention.ms"); c == nil || strPtrValue(c.Value) != "1234" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Errorf("describe after set: %+v", c)
	}
	if got := s.meta.State().Topics["alt"].Configs["retention.bytes"]; got != "5000000" {
		t.Errorf("incremental set touched retention.bytes: %q", got)
	}

	r = one(adm.ValidateAlterTopicConfigs(ctx, []kadm.AlterConfig{set("retention.ms", "999")}, "alt"))
	if r.Err != nil || retention() != 1234*time.Millisecond {
		t.Errorf("validate-only set: err %v, retention now %v (want unchanged 1.234s)", r.Err, retention())
	}

	r = one(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "retention.ms"}}, "alt"))
	if r.Err != nil || retention() != s.cfg.Log.RetentionMs {
		t.Errorf("delete: err %v, retention %v; want back to the broker default %v", r.Err, retention(), s.cfg.Log.RetentionMs)
	}

	for _, tc := range []struct {
		what string
		cfg  kadm.AlterConfig
		want *kerr.Error
	}{
		{"append delete", kadm.AlterConfig{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: kmsg.StringPtr("delete")}, nil},
		{"append compact", kadm.AlterConfig{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: kmsg.StringPtr("compact")}, nil},
		{"subtract delete", kadm.AlterConfig{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: kmsg.StringPtr("delete")}, nil},
		{"subtract the last policy", kadm.AlterConfig{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: kmsg.StringPtr("compact")}, kerr.InvalidConfig},
		{"append to a long", kadm.AlterConfig{Op: kadm.AppendConfig, Name: "retention.ms", Value: kmsg.StringPtr("1")}, kerr.InvalidConfig},
		{"unknown key", set("no.such", "1"), kerr.InvalidConfig},
		{"bad value", set("min.insync.replicas", "0"), kerr.InvalidConfig},
		{"null set", kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.ms"}, kerr.InvalidConfig},
	} {
		r = one(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{tc.cfg}, "alt"))
		if r.Err != asError(tc.want) {
			t.Errorf("%s: %v (%s), want %v", tc.what, r.Err, r.ErrMessage, tc.want)
		}
	}
	if got := s.meta.State().Topics["alt"].Configs["cleanup.policy"]; got != "compact" {
		t.Errorf("cleanup.policy after append compact, subtract delete: %q, want compact", got)
	}

	r = one(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{set("retention.ms", "1")}, "nosuch"))
	if r.Err != kerr.UnknownTopicOrPartition {
		t.Errorf("unknown topic: %v", r.Err)
	}
	r = one(adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{set("num.partitions", "3")}, 1))
	if r.Err != kerr.InvalidRequest || !strings.Contains(r.ErrMessage, "dynamic broker configs are not supported") {
		t.Errorf("broker alter: %v %q", r.Err, r.ErrMessage)
	}

	// Duplicate keys and resources (raw).
	ireq := kmsg.NewPtrIncrementalAlterConfigsRequest()
	ireq.Resources = []kmsg.IncrementalAlterConfigsRequestResource{
		{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "alt", Configs: []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			{Name: "retention.ms", Value: kmsg.StringPtr("1")}, {Name: "retention.ms", Value: kmsg.StringPtr("2")},
		}},
	}
	iresp, err := ireq.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "duplicate key", iresp.Resources[0].ErrorCode, kerr.InvalidRequest)
	ireq.Resources = []kmsg.IncrementalAlterConfigsRequestResource{
		{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "alt"},
		{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "alt"},
		{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "alt", Configs: []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			{Name: "retention.ms", Op: 9, Value: kmsg.StringPtr("1")},
		}},
	}
	ireq.Resources[2].ResourceName = "alt2"
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "alt2"); err != nil {
		t.Fatal(err)
	}
	if iresp, err = ireq.RequestWith(ctx, cl); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "duplicate resource 1", iresp.Resources[0].ErrorCode, kerr.InvalidRequest)
	wantCode(t, "duplicate resource 2", iresp.Resources[1].ErrorCode, kerr.InvalidRequest)
	wantCode(t, "unknown op", iresp.Resources[2].ErrorCode, kerr.InvalidRequest)

	// Legacy AlterConfigs replaces the whole set.
	r = one(adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{set("retention.ms", "4321")}, "alt"))
	if r.Err != nil {
		t.Fatalf("legacy alter: %v %s", r.Err, r.ErrMessage)
	}
	got := s.meta.State().Topics["alt"].Configs
	if len(got) != 1 || got["retention.ms"] != "4321" {
		t.Errorf("configs after legacy alter: %v, want only retention.ms=4321", got)
	}
	if retention() != 4321*time.Millisecond {
		t.Errorf("partition retention after legacy alter: %v", retention())
	}
	r = one(adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{set("retention.ms", "nope")}, "alt"))
	if r.Err != kerr.InvalidConfig {
		t.Errorf("legacy alter with a bad value: %v", r.Err)
	}
	r = one(adm.ValidateAlterTopicConfigsState(ctx, nil, "alt"))
	if r.Err != nil || len(s.meta.State().Topics["alt"].Configs) != 1 {
		t.Errorf("validate-only legacy clear: %v, configs now %v", r.Err, s.meta.State().Topics["alt"].Configs)
	}
	r = one(adm.AlterBrokerConfigsState(ctx, []kadm.AlterConfig{set("num.partitions", "3")}, 1))
	if r.Err != kerr.InvalidRequest {
		t.Errorf("legacy broker alter: %v", r.Err)
	}
}

func TestAdminDescribeCluster(t *testing.T) {
	s, addr := startTestServer(t, func(c *Config) { c.Rack = "rack-a" })
	cl := newClient(t, addr)
	ctx := testCtx(t, time.Minute)

	req := kmsg.NewPtrDescribeClusterRequest()
	req.EndpointType = endpointBroker
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "describe cluster", resp.ErrorCode, nil)
	st := s.meta.State()
	if resp.ClusterID == "" || resp.ClusterID != st.ClusterID {
		t.Errorf("cluster id %q, want %q", resp.ClusterID, st.ClusterID)
	}
	if resp.ControllerID != 1 {
		t.Errorf("controller %d, want 1", resp.ControllerID)
	}
	if resp.EndpointType != endpointBroker || resp.ClusterAuthorizedOperations != authorizedOpsOmitted {
		t.Errorf("endpoint type %d, authorized ops %d", resp.EndpointType, resp.ClusterAuthorizedOperations)
	}
	if len(resp.Brokers) != 1 {
		t.Fatalf("%d brokers, want 1", len(resp.Brokers))
	}
	b := resp.Brokers[0]
	if b.NodeID != 1 || b.Host != "127.0.0.1" || int(b.Port) != portOf(t, addr) || strPtrValue(b.Rack) != "rack-a" {
		t.Errorf("broker %+v, want node 1 at %s in rack-a", b, addr)
	}

	req.IncludeClusterAuthorizedOperations = true
	if resp, err = req.RequestWith(ctx, cl); err != nil {
		t.Fatal(err)
	}
	if resp.ClusterAuthorizedOperations&(1<<acl.OpDescribe) == 0 || resp.ClusterAuthorizedOperations < 0 {
		t.Errorf("authorized ops %b, want DESCRIBE among them", resp.ClusterAuthorizedOperations)
	}

	req.EndpointType = endpointController
	if resp, err = req.RequestWith(ctx, cl); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "controller endpoints", resp.ErrorCode, kerr.MismatchedEndpointType)
}

func TestAdminDeleteRecordsAndLeaderEpochs(t *testing.T) {
	s, addr := startTestServer(t)
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	ctx := testCtx(t, time.Minute)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "recs"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "recs", Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}

	// OffsetForLeaderEpoch at the current epoch ends at the log end.
	epoch := s.meta.State().Topics["recs"].Partitions[0].LeaderEpoch
	fe, err := adm.OffsetForLeaderEpoch(ctx, kadm.OffsetForLeaderEpochRequest{"recs": {0: epoch}})
	if err != nil {
		t.Fatal(err)
	}
	if got := fe["recs"][0]; got.Err != nil || got.EndOffset != 10 || got.LeaderEpoch != epoch {
		t.Errorf("OffsetForLeaderEpoch(recs, %d) = %+v, want epoch %d end 10", epoch, got, epoch)
	}

	// CurrentLeaderEpoch fencing (v2+), and partitions we do not have.
	part := s.replicas.Get("recs", 0)
	ours := part.LeaderEpoch()
	oreq := kmsg.NewPtrOffsetForLeaderEpochRequest()
	oreq.ReplicaID = -1
	oreq.Topics = []kmsg.OffsetForLeaderEpochRequestTopic{{Topic: "recs", Partitions: []kmsg.OffsetForLeaderEpochRequestTopicPartition{
		{Partition: 0, CurrentLeaderEpoch: ours + 1, LeaderEpoch: ours},
		{Partition: 0, CurrentLeaderEpoch: -1, LeaderEpoch: ours},
		{Partition: 7, CurrentLeaderEpoch: -1, LeaderEpoch: 0},
	}}, {Topic: "nosuch", Partitions: []kmsg.OffsetForLeaderEpochRequestTopicPartition{{Partition: 0, CurrentLeaderEpoch: -1}}}}
	oresp := direct[*kmsg.OffsetForLeaderEpochResponse](ctx, t, cl, oreq)
	ps := oresp.Topics[0].Partitions
	wantCode(t, "newer current epoch", ps[0].ErrorCode, kerr.UnknownLeaderEpoch)
	if ps[0].EndOffset != -1 || ps[0].LeaderEpoch != -1 {
		t.Errorf("error answer carries epoch %d end %d, want -1 -1", ps[0].LeaderEpoch, ps[0].EndOffset)
	}
	wantCode(t, "no current epoch", ps[1].ErrorCode, nil)
	wantCode(t, "unknown partition", ps[2].ErrorCode, kerr.UnknownTopicOrPartition)
	wantCode(t, "unknown topic", oresp.Topics[1].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition)
	// A client behind a leader change: bump our epoch, ask with the old one.
	part.BecomeLeader(ours+1, []int32{1})
	oreq.Topics = oreq.Topics[:1]
	oreq.Topics[0].Partitions = oreq.Topics[0].Partitions[:1]
	oreq.Topics[0].Partitions[0].CurrentLeaderEpoch = ours
	oresp = direct[*kmsg.OffsetForLeaderEpochResponse](ctx, t, cl, oreq)
	part.BecomeLeader(ours, []int32{1})
	wantCode(t, "older current epoch", oresp.Topics[0].Partitions[0].ErrorCode, kerr.FencedLeaderEpoch)
	if errorCode(errFencedLeaderEpoch) != kerr.FencedLeaderEpoch.Code || errorCode(errUnknownLeaderEpoch) != kerr.UnknownLeaderEpoch.Code {
		t.Error("leader epoch errors do not map to their Kafka codes")
	}

	// DeleteRecords moves the log start offset.
	del := func(topic string, p int32, at int64) kadm.DeleteRecordsResponse {
		t.Helper()
		os := make(kadm.Offsets)
		os.Add(kadm.Offset{Topic: topic, Partition: p, At: at})
		rs, err := adm.DeleteRecords(ctx, os)
		if err != nil {
			t.Fatalf("DeleteRecords: %v", err)
		}
		r, ok := rs.Lookup(topic, p)
		if !ok {
			t.Fatalf("no DeleteRecords answer for %s-%d", topic, p)
		}
		return r
	}
	if r := del("recs", 0, 4); r.Err != nil || r.LowWatermark != 4 {
		t.Fatalf("delete before 4: %+v", r)
	}
	starts, err := adm.ListStartOffsets(ctx, "recs")
	if err != nil {
		t.Fatal(err)
	}
	if lo, _ := starts.Lookup("recs", 0); lo.Offset != 4 {
		t.Errorf("start offset after DeleteRecords: %+v, want 4", lo)
	}
	if r := del("recs", 0, 11); r.Err != kerr.OffsetOutOfRange {
		t.Errorf("delete beyond the high watermark: %+v", r)
	}
	if r := del("recs", 0, 2); r.Err != nil || r.LowWatermark != 4 {
		t.Errorf("delete below the start: %+v, want a no-op answering 4", r)
	}
	if r := del("recs", 0, -1); r.Err != nil || r.LowWatermark != 10 {
		t.Errorf("delete up to the high watermark (-1): %+v, want 10", r)
	}

	// Sent to the broker directly: the client would answer an unknown
	// partition itself.
	dreq := kmsg.NewPtrDeleteRecordsRequest()
	dreq.TimeoutMillis = 10000
	dreq.Topics = []kmsg.DeleteRecordsRequestTopic{
		{Topic: offsetsTopic, Partitions: []kmsg.DeleteRecordsRequestTopicPartition{{Partition: 0, Offset: 0}}},
		{Topic: "recs", Partitions: []kmsg.DeleteRecordsRequestTopicPartition{{Partition: 9, Offset: 0}}},
	}
	dresp := direct[*kmsg.DeleteRecordsResponse](ctx, t, cl, dreq)
	wantCode(t, "internal topic", dresp.Topics[0].Partitions[0].ErrorCode, kerr.InvalidTopicException)
	wantCode(t, "unknown partition", dresp.Topics[1].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition)
	if dresp.Topics[0].Partitions[0].LowWatermark != -1 {
		t.Errorf("error answer low watermark %d, want -1", dresp.Topics[0].Partitions[0].LowWatermark)
	}

	// A follower replica answers NOT_LEADER_OR_FOLLOWER.
	part.BecomeFollower(ours)
	defer part.BecomeLeader(ours, []int32{1})
	if _, err := s.deleteRecords("recs", 0, -1); errorCode(err) != kerr.NotLeaderForPartition.Code {
		t.Errorf("delete records on a follower: %v", err)
	}
	if _, err := s.leaderPartition("recs", 0, -1); errorCode(err) != kerr.NotLeaderForPartition.Code {
		t.Errorf("leader epoch query on a follower: %v", err)
	}
}
