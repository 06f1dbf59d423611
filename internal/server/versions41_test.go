package server

import (
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/wire"
)

// The versions Kafka 4.1 added to existing APIs, each sent at exactly that
// version over a real socket (dialRaw).

// produceByID sends one batch at Produce v13, naming the topic by id.
func produceByID(t *testing.T, addr string, id [16]byte, partition int32, batch []byte) kmsg.ProduceResponseTopic {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version = 13
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.TopicID = id
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := mustRequest[*kmsg.ProduceResponse](t, dialRaw(t, addr), req)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("produce v13: %d topics in the answer", len(resp.Topics))
	}
	return resp.Topics[0]
}

// TestProduceV13TopicIDs: Produce v13 names topics by id; records land in
// the topic of that id, the answer carries the id, and an unknown id — a
// made-up one, or that of a deleted topic re-created under the same name —
// is UNKNOWN_TOPIC_ID with nothing appended.
func TestProduceV13TopicIDs(t *testing.T) {
	_, addr := startTestServer(t)
	ctx := testCtx(t, 30*time.Second)
	created, err := kadmCreate(ctx, t, addr, "by-id", 2)
	if err != nil {
		t.Fatal(err)
	}
	got := produceByID(t, addr, created.ID, 1, makeBatch(-1, -1, -1, "a", "b"))
	if p := got.Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != 0 || got.TopicID != created.ID {
		t.Fatalf("produce by id: %+v, topic id %x want %x", p, got.TopicID, created.ID)
	}
	if p := produceByID(t, addr, created.ID, 1, makeBatch(-1, -1, -1, "c")).Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != 2 {
		t.Fatalf("second produce by id: %+v, want base offset 2", p)
	}
	if p := produceByID(t, addr, [16]byte{1, 2, 3}, 0, makeBatch(-1, -1, -1, "x")).Partitions[0]; p.ErrorCode != kerr.UnknownTopicID.Code || p.ErrorMessage == nil {
		t.Fatalf("unknown id: %+v, want UNKNOWN_TOPIC_ID with a message", p)
	}

	adm := newAdmin(t, addr)
	if _, err := adm.DeleteTopics(ctx, "by-id"); err != nil {
		t.Fatal(err)
	}
	again, err := kadmCreate(ctx, t, addr, "by-id", 2)
	if err != nil {
		t.Fatal(err)
	}
	if p := produceByID(t, addr, created.ID, 1, makeBatch(-1, -1, -1, "stale")).Partitions[0]; p.ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("old id after re-create: %+v, want UNKNOWN_TOPIC_ID", p)
	}
	if p := produceByID(t, addr, again.ID, 1, makeBatch(-1, -1, -1, "fresh")).Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("new id: %+v, want offset 0 (nothing of the stale produce landed)", p)
	}
	ends, err := adm.ListEndOffsets(ctx, "by-id")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("by-id", 1); o.Offset != 1 {
		t.Fatalf("end offset of the re-created topic: %d, want 1", o.Offset)
	}
}

// fetchV sends a consumer Fetch at version v for one partition by id.
func fetchV(t *testing.T, addr string, v int16, id [16]byte, offset, knownHW int64) kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version = v
	req.MaxWaitMillis = 0
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset = offset
	rp.PartitionMaxBytes = 1 << 20
	rp.ReplicaDirectoryID = [16]byte{9, 9, 9}
	rp.HighWatermark = knownHW
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := mustRequest[*kmsg.FetchResponse](t, dialRaw(t, addr), req)
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch v%d: error %d, %d topics", v, resp.ErrorCode, len(resp.Topics))
	}
	return resp.Topics[0].Partitions[0]
}

// TestFetchV17V18: Fetch v17 (a directory id) and v18 (a known high
// watermark) serve a consumer as v16 does: the records and the high
// watermark, whatever those replica-only fields say.
func TestFetchV17V18(t *testing.T) {
	_, addr := startTestServer(t)
	ctx := testCtx(t, 30*time.Second)
	created, err := kadmCreate(ctx, t, addr, "fetch18", 1)
	if err != nil {
		t.Fatal(err)
	}
	if p := produceByID(t, addr, created.ID, 0, makeBatch(-1, -1, -1, "a", "b", "c")).Partitions[0]; p.ErrorCode != 0 {
		t.Fatalf("produce: %+v", p)
	}
	for _, v := range []int16{16, 17, 18} {
		for _, hw := range []int64{math.MaxInt64, -1, 1} {
			p := fetchV(t, addr, v, created.ID, 1, hw)
			var recs []string
			for _, b := range splitBatches(t, p.RecordBatches) {
				for _, r := range b {
					recs = append(recs, string(r.Value))
				}
			}
			if p.ErrorCode != 0 || p.HighWatermark != 3 || len(recs) == 0 || recs[len(recs)-1] != "c" {
				t.Fatalf("fetch v%d (told hw %d): error %d hw %d records %v", v, hw, p.ErrorCode, p.HighWatermark, recs)
			}
		}
	}
}

// splitBatches decodes the records of every batch in raw.
func splitBatches(t *testing.T, raw []byte) [][]kmsg.Record {
	t.Helper()
	var out [][]kmsg.Record
	for len(raw) > 0 {
		var b kmsg.RecordBatch
		if err := b.ReadFrom(raw); err != nil {
			t.Fatalf("decode batch: %v", err)
		}
		n := 12 + int(b.Length)
		recs := make([]kmsg.Record, b.NumRecords)
		rest := b.Records
		for i := range recs {
			if err := recs[i].ReadFrom(rest); err != nil {
				t.Fatalf("decode record: %v", err)
			}
			rest = rest[len(recs[i].AppendTo(nil)):]
		}
		out = append(out, recs)
		raw = raw[n:]
	}
	return out
}

// TestReplicaHWBehind: a v18 replica fetch that told a high watermark below
// the one answered is behind (answered at once); MaxInt64 ("not
// supported"), an equal one, an errored partition or an older version are
// not.
func TestReplicaHWBehind(t *testing.T) {
	id := [16]byte{7}
	mk := func(v int16, told int64, answered int64, code int16) (*kmsg.FetchRequest, *kmsg.FetchResponse) {
		req := kmsg.NewPtrFetchRequest()
		req.Version = v
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = 3
		rp.HighWatermark = told
		req.Topics = []kmsg.FetchRequestTopic{{TopicID: id, Partitions: []kmsg.FetchRequestTopicPartition{rp}}}
		resp := kmsg.NewPtrFetchResponse()
		fp := kmsg.NewFetchResponseTopicPartition()
		fp.Partition, fp.HighWatermark, fp.ErrorCode = 3, answered, code
		resp.Topics = []kmsg.FetchResponseTopic{{TopicID: id, Partitions: []kmsg.FetchResponseTopicPartition{fp}}}
		return req, resp
	}
	for _, c := range []struct {
		v              int16
		told, answered int64
		code           int16
		want           bool
	}{
		{18, 5, 7, 0, true},
		{18, -1, 0, 0, true},
		{18, 7, 7, 0, false},
		{18, math.MaxInt64, 7, 0, false},
		{18, 5, 7, kerr.NotLeaderForPartition.Code, false},
		{17, 5, 7, 0, false},
	} {
		req, resp := mk(c.v, c.told, c.answered, c.code)
		if got := replicaHWBehind(req, resp); got != c.want {
			t.Errorf("v%d told %d answered %d code %d: behind %v, want %v", c.v, c.told, c.answered, c.code, got, c.want)
		}
	}
}

// TestSessionRequestHighWatermark: an incremental v18 fetch carries the
// high watermark only of the partitions it names; the cached ones read as
// MaxInt64, so a follower that learnt a newer one without naming the
// partition again does not make every later fetch return at once.
func TestSessionRequestHighWatermark(t *testing.T) {
	named := sessionKey{id: [16]byte{1}, part: 0}
	cached := sessionKey{id: [16]byte{1}, part: 1}
	r := kmsg.NewPtrFetchRequest()
	r.Version = 18
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.HighWatermark = 0, 41
	r.Topics = []kmsg.FetchRequestTopic{{TopicID: named.id, Partitions: []kmsg.FetchRequestTopicPartition{rp}}}
	out := sessionRequest(r, []*cachedPartition{{key: named}, {key: cached}})
	got := map[int32]int64{}
	for _, rt := range out.Topics {
		for _, p := range rt.Partitions {
			got[p.Partition] = p.HighWatermark
		}
	}
	if got[0] != 41 || got[1] != math.MaxInt64 {
		t.Fatalf("session request high watermarks %v, want 0:41 1:MaxInt64", got)
	}
}

// listOffsetsAt asks for one special timestamp of partition 0 at version v.
func listOffsetsAt(t *testing.T, addr string, v int16, topic string, ts int64) kmsg.ListOffsetsResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = v
	req.TimeoutMillis = 2000
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = ts
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := mustRequest[*kmsg.ListOffsetsResponse](t, dialRaw(t, addr), req)
	return resp.Topics[0].Partitions[0]
}

// TestListOffsetsV9V10: -5 (latest tiered, v9+) is offset -1, timestamp -1,
// leader epoch -1 with nothing tiered, as Kafka answers without remote
// storage; a special timestamp older than its version, or an unknown
// negative one, is UNSUPPORTED_VERSION; v10 (TimeoutMillis) answers as v9,
// and an unknown topic within its timeout.
func TestListOffsetsV9V10(t *testing.T) {
	_, addr := startTestServer(t)
	ctx := testCtx(t, 30*time.Second)
	created, err := kadmCreate(ctx, t, addr, "lo10", 1)
	if err != nil {
		t.Fatal(err)
	}
	produceByID(t, addr, created.ID, 0, makeBatch(-1, -1, -1, "a", "b"))
	for _, v := range []int16{9, 10} {
		if p := listOffsetsAt(t, addr, v, "lo10", -5); p.ErrorCode != 0 || p.Offset != -1 || p.Timestamp != -1 || p.LeaderEpoch != -1 {
			t.Fatalf("v%d latest tiered: %+v", v, p)
		}
		if p := listOffsetsAt(t, addr, v, "lo10", -1); p.ErrorCode != 0 || p.Offset != 2 || p.LeaderEpoch < 0 {
			t.Fatalf("v%d latest: %+v", v, p)
		}
	}
	for _, c := range []struct {
		v  int16
		ts int64
	}{{8, -5}, {7, -4}, {6, -3}, {10, -6}, {10, -100}} {
		if p := listOffsetsAt(t, addr, c.v, "lo10", c.ts); p.ErrorCode != kerr.UnsupportedVersion.Code {
			t.Fatalf("v%d timestamp %d: error %d, want UNSUPPORTED_VERSION", c.v, c.ts, p.ErrorCode)
		}
	}
	start := time.Now()
	if p := listOffsetsAt(t, addr, 10, "no-such", -1); p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("v10 unknown topic: error %d", p.ErrorCode)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("v10 unknown topic took %v", d)
	}
}

// TestMetadataV13: v13 answers as v12 with the new top-level ErrorCode 0.
func TestMetadataV13(t *testing.T) {
	_, addr := startTestServer(t)
	ctx := testCtx(t, 30*time.Second)
	created, err := kadmCreate(ctx, t, addr, "md13", 3)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 13
	rt := kmsg.NewMetadataRequestTopic()
	rt.TopicID = created.ID
	req.Topics = append(req.Topics, rt)
	resp := mustRequest[*kmsg.MetadataResponse](t, dialRaw(t, addr), req)
	if resp.ErrorCode != 0 || len(resp.Brokers) != 1 || len(resp.Topics) != 1 {
		t.Fatalf("metadata v13: error %d, %d brokers, %d topics", resp.ErrorCode, len(resp.Brokers), len(resp.Topics))
	}
	if mt := resp.Topics[0]; mt.ErrorCode != 0 || mt.Topic == nil || *mt.Topic != "md13" || len(mt.Partitions) != 3 {
		t.Fatalf("metadata v13 topic: %+v", mt)
	}
}

// TestDescribeGroupsV6: an unknown group is GROUP_ID_NOT_FOUND with Kafka's
// message at v6 and "Dead" without error at v5; a known group is described
// without error at v6.
func TestDescribeGroupsV6(t *testing.T) {
	_, addr := startTestServer(t)
	ctx := testCtx(t, 30*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "dg6", 1); err != nil {
		t.Fatal(err)
	}
	adm := newAdmin(t, addr)
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: "dg6", Partition: 0, At: 1, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, "known-group", offs); err != nil {
		t.Fatal(err)
	}
	describe := func(v int16, group string) kmsg.DescribeGroupsResponseGroup {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Version = v
		req.Groups = []string{group}
		resp := mustRequest[*kmsg.DescribeGroupsResponse](t, dialRaw(t, addr), req)
		if len(resp.Groups) != 1 {
			t.Fatalf("describe groups v%d: %d groups", v, len(resp.Groups))
		}
		return resp.Groups[0]
	}
	g := describe(6, "no-such-group")
	if g.ErrorCode != kerr.GroupIDNotFound.Code || g.ErrorMessage == nil || *g.ErrorMessage != "Group no-such-group not found." {
		t.Fatalf("v6 unknown group: %+v", g)
	}
	if g := describe(5, "no-such-group"); g.ErrorCode != 0 || g.State != "Dead" {
		t.Fatalf("v5 unknown group: %+v", g)
	}
	if g := describe(6, "known-group"); g.ErrorCode != 0 || g.ErrorMessage != nil || g.State != "Empty" {
		t.Fatalf("v6 known group: %+v", g)
	}
}

// TestFranzGoNegotiatesKafka41Versions: franz-go, which sends the highest
// version both sides know, produces, consumes and lists offsets at Kafka
// 4.1's maxima (Produce 13 by topic id, Fetch 18, ListOffsets 10,
// Metadata 13) and every record comes back.
func TestFranzGoNegotiatesKafka41Versions(t *testing.T) {
	var mu sync.Mutex
	seen := map[int16]int16{}
	_, addr := startTestServer(t, func(c *Config) {
		c.principalHook = func(req *wire.Request) {
			mu.Lock()
			seen[req.Key] = max(seen[req.Key], req.Version)
			mu.Unlock()
		}
	})
	ctx := testCtx(t, 30*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "negotiated", 1); err != nil {
		t.Fatal(err)
	}
	prod := newClient(t, addr)
	for i := range 5 {
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "negotiated", Value: []byte{byte('a' + i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cons := newClient(t, addr, kgo.ConsumeTopics("negotiated"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for len(got) < 5 {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if strings.Join(got, "") != "abcde" {
		t.Fatalf("consumed %v", got)
	}
	if _, err := newAdmin(t, addr).ListEndOffsets(ctx, "negotiated"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for key, want := range map[int16]int16{0: 13, 1: 18, 2: 10, 3: 13} {
		if seen[key] != want {
			t.Errorf("%s: franz-go sent v%d, want v%d", kmsg.NameForKey(key), seen[key], want)
		}
	}
}
