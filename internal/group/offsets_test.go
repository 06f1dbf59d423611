package group

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestOffsetCommitErrors(t *testing.T) {
	cfg := testConfig()
	cfg.TopicPartitionExists = func(topic string, _ int32) bool { return topic != "missing" }
	cfg.MaxMetadataSize = 12
	c, log := newTestCoordinator(t, cfg, nil)
	ids, gen := stableGroup(t, c, "members", 1, time.Minute)
	one := map[string]map[int32]int64{"t1": {0: 5}}
	bigMeta := commitReq(2, "simple", "", -1, one)
	long := strings.Repeat("x", 13)
	bigMeta.Topics[0].Partitions[0].Metadata = &long
	for _, tc := range []struct {
		name string
		req  *kmsg.OffsetCommitRequest
		want error
	}{
		{"simple commit creates group", commitReq(2, "simple", "", -1, one), nil},
		{"v0 simple commit", commitReq(0, "simple0", "whatever", 7, one), nil},
		{"empty group id allowed", commitReq(2, "", "", -1, one), nil},
		{"unknown group with generation", commitReq(2, "nope", "m", 3, one), ErrIllegalGeneration},
		{"simple commit to group with members", commitReq(2, "members", "", -1, one), ErrUnknownMemberID},
		{"unknown member", commitReq(2, "members", "who", gen, one), ErrUnknownMemberID},
		{"wrong generation", commitReq(2, "members", ids[0], gen+1, one), ErrIllegalGeneration},
		{"member commit", commitReq(9, "members", ids[0], gen, one), nil},
		{"metadata too large", bigMeta, ErrOffsetMetadataTooLarge},
		{"unknown topic", commitReq(2, "simple", "", -1, map[string]map[int32]int64{"missing": {0: 1}}), ErrUnknownTopicOrPartition},
		{"unsupported version", commitReq(10, "simple", "", -1, one), ErrUnsupportedVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			allCodes(t, c.OffsetCommit(context.Background(), tc.req), tc.want)
		})
	}
	// Commits while CompletingRebalance are refused.
	joined := make(chan joinResp, 1)
	go func() { joined <- join(t, c, joinReq(5, "members", "", time.Minute)) }()
	waitFor(t, "rebalance", func() bool { return describe(t, c, "members").State == "PreparingRebalance" })
	lj := doJoin(c, context.Background(), joinReq(5, "members", ids[0], time.Minute))
	<-joined
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(7, "members", ids[0], lj.Generation, one)), ErrRebalanceInProgress)

	// Append failures map to coordinator errors and store nothing.
	log.setFail(errTest)
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(2, "simple", "", -1, map[string]map[int32]int64{"t9": {0: 1}})), ErrCoordinatorNotAvailable)
	log.setFail(fmt.Errorf("replica lost leadership: %w", ErrNotCoordinator))
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(2, "simple", "", -1, map[string]map[int32]int64{"t9": {0: 1}})), ErrNotCoordinator)
	log.setFail(nil)
	if got := fetchAll(t, c, "simple"); len(got) != 1 || got[tp{"t1", 0}] != 5 {
		t.Fatalf("offsets after failed commits: %v", got)
	}
}

func TestOffsetCommitRecordFormat(t *testing.T) {
	c, log := newTestCoordinator(t, testConfig(), nil)
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(7, "fmt", "", -1, map[string]map[int32]int64{"t": {0: 1, 1: 2}})), nil)
	req := commitReq(2, "fmt", "", -1, map[string]map[int32]int64{"r": {0: 3}})
	req.RetentionTimeMillis = 60000
	allCodes(t, c.OffsetCommit(context.Background(), req), nil)
	recs := log.records(t)
	if len(recs) != 3 || len(log.batches) != 2 {
		t.Fatalf("%d records in %d batches, want 3 in 2", len(recs), len(log.batches))
	}
	for i, r := range recs {
		if r.offset != int64(i) {
			t.Fatalf("record %d at offset %d", i, r.offset)
		}
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(r.key); err != nil || k.Version != 1 || k.Group != "fmt" {
			t.Fatalf("key %+v: %v", k, err)
		}
		var v kmsg.OffsetCommitValue
		if err := v.ReadFrom(r.value); err != nil {
			t.Fatal(err)
		}
		wantVersion := int16(3)
		if k.Topic == "r" {
			wantVersion = 1
			if v.ExpireTimestamp-v.CommitTimestamp != 60000 {
				t.Fatalf("expire %d commit %d", v.ExpireTimestamp, v.CommitTimestamp)
			}
		}
		if v.Version != wantVersion || v.Metadata != "md-"+k.Topic {
			t.Fatalf("value %+v, want version %d", v, wantVersion)
		}
	}
	// The batch header is a valid v2 batch with producer id -1.
	var b kmsg.RecordBatch
	if err := b.ReadFrom(log.batches[0]); err != nil || b.Magic != 2 || b.ProducerID != -1 || b.NumRecords != 2 || b.Attributes != 0 {
		t.Fatalf("batch %+v: %v", b, err)
	}
}

func TestDecodeBatchesRejectsCorruption(t *testing.T) {
	good := buildBatch(1, []kv{{offsetKey("g", "t", 0), offsetValue(offsetEntry{offset: 1, expireTime: -1})}})
	for _, tc := range []struct {
		name string
		mod  func([]byte) []byte
		want error
	}{
		{"crc", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, ErrCorruptBatch},
		{"truncated", func(b []byte) []byte { return b[:len(b)-3] }, ErrCorruptBatch},
		{"short header", func(b []byte) []byte { return b[:20] }, ErrCorruptBatch},
		{"magic", func(b []byte) []byte { b[16] = 1; return b }, ErrCorruptBatch},
		{"compressed", func(b []byte) []byte {
			b[22] |= 1 // gzip
			binary.BigEndian.PutUint32(b[17:21], crc32c(b[21:]))
			return b
		}, ErrCompressedBatch},
		{"bad record length", func(b []byte) []byte {
			b[61] = 0x7e // record length varint: 63, past the end
			binary.BigEndian.PutUint32(b[17:21], crc32c(b[21:]))
			return b
		}, ErrCorruptBatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mod(append([]byte(nil), good...))
			_, err := decodeBatches(b, func(decodedRecord) error { return nil })
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	n := 0
	next, err := decodeBatches(append(append([]byte(nil), good...), good...), func(decodedRecord) error { n++; return nil })
	if err != nil || n != 2 || next != 1 {
		t.Fatalf("two good batches: n=%d next=%d err=%v", n, next, err)
	}
}

func TestCommitUnloadLoadFetch(t *testing.T) {
	c, log := newTestCoordinator(t, testConfig(), nil)
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(7, "standalone", "", -1, map[string]map[int32]int64{"a": {0: 10, 1: 11}, "b": {0: 20}})), nil)
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(7, "standalone", "", -1, map[string]map[int32]int64{"a": {0: 12}})), nil)
	ids, gen := stableGroup(t, c, "consumers", 2, time.Minute)
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(8, "consumers", ids[0], gen, map[string]map[int32]int64{"t1": {0: 99}})), nil)
	lr := kmsg.NewPtrOffsetCommitRequest()
	*lr = *commitReq(6, "consumers", ids[1], gen, map[string]map[int32]int64{"t1": {1: 5}})
	lr.Topics[0].Partitions[0].LeaderEpoch = 4
	allCodes(t, c.OffsetCommit(context.Background(), lr), nil)
	// A group that went Empty after its members left.
	eids, _ := stableGroup(t, c, "emptied", 1, time.Minute)
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group, leave.MemberID = "emptied", eids[0]
	doLeave(c, context.Background(), leave)
	waitFor(t, "emptied metadata persisted", func() bool {
		for _, r := range log.records(t) {
			var k kmsg.GroupMetadataKey
			var v kmsg.GroupMetadataValue
			if k.ReadFrom(r.key) == nil && k.Version == 2 && k.Group == "emptied" && v.ReadFrom(r.value) == nil && len(v.Members) == 0 && v.Generation == 2 {
				return true
			}
		}
		return false
	})

	c.UnloadPartition(0)
	if _, err := c.OffsetFetch(context.Background(), "standalone", nil, false); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("fetch after unload: %v", err)
	}
	if err := c.LoadPartition(context.Background(), 0, log); err != nil {
		t.Fatal(err)
	}
	want := map[tp]int64{{"a", 0}: 12, {"a", 1}: 11, {"b", 0}: 20}
	if got := fetchAll(t, c, "standalone"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("standalone after reload: %v, want %v", got, want)
	}
	if got := fetchAll(t, c, "consumers"); got[tp{"t1", 0}] != 99 || got[tp{"t1", 1}] != 5 {
		t.Fatalf("consumers after reload: %v", got)
	}
	// Leader epoch and metadata survive (OffsetFetch v5+).
	fts, err := c.OffsetFetch(context.Background(), "consumers", []FetchTopic{{Topic: "t1", Partitions: []int32{1, 7}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	ps := fts[0].Partitions
	if ps[0].LeaderEpoch != 4 || ps[0].Metadata != "md-t1" || ps[1].Offset != -1 || ps[1].LeaderEpoch != -1 {
		t.Fatalf("fetch with epochs: %+v", ps)
	}
	// Group metadata survives: the consumer group comes back Stable with its
	// members, who keep heartbeating without a rebalance.
	d := describe(t, c, "consumers")
	if d.State != "Stable" || d.ProtocolType != "consumer" || d.Protocol != "range" || len(d.Members) != 2 {
		t.Fatalf("describe after reload: %+v", d)
	}
	if code := heartbeat(c, 4, "consumers", ids[1], gen, nil); code != nil {
		t.Fatalf("heartbeat after reload: %v", code)
	}
	sr := doSync(c, context.Background(), syncReq(5, "consumers", ids[1], gen, nil))
	if sr.Err != nil || string(sr.MemberAssignment) != "a-"+ids[1] {
		t.Fatalf("sync after reload: %+v", sr)
	}
	if d := describe(t, c, "emptied"); d.State != "Empty" || d.ProtocolType != "consumer" {
		t.Fatalf("emptied after reload: %+v", d)
	}
	// A new member joining the reloaded group continues the generation.
	jCh := make(chan joinResp, 1)
	go func() { jCh <- join(t, c, joinReq(5, "consumers", "", time.Minute)) }()
	waitFor(t, "rebalance", func() bool { return describe(t, c, "consumers").State == "PreparingRebalance" })
	for _, id := range ids {
		go doJoin(c, context.Background(), joinReq(5, "consumers", id, time.Minute))
	}
	if j := <-jCh; j.Err != nil || j.Generation != gen+1 {
		t.Fatalf("join after reload: %+v", j)
	}
}

func TestReplaySkipsOtherKeyVersionsAndHonoursStart(t *testing.T) {
	log := &memLog{}
	// A share-group record (key version 11) the coordinator must skip,
	// then a commit.
	unknown := []byte{0, 11, 0, 1, 'x'}
	if _, err := log.Append(context.Background(), buildBatch(1, []kv{{unknown, []byte{1, 2}}})); err != nil {
		t.Fatal(err)
	}
	commit := offsetValue(offsetEntry{offset: 42, leaderEpoch: -1, commitTime: 1, expireTime: -1})
	if _, err := log.Append(context.Background(), buildBatch(1, []kv{{offsetKey("g", "t", 0), commit}})); err != nil {
		t.Fatal(err)
	}
	c, _ := newTestCoordinator(t, testConfig(), log)
	if got := fetchAll(t, c, "g"); got[tp{"t", 0}] != 42 {
		t.Fatalf("fetched %v", got)
	}
	// A corrupt log fails the load and leaves the partition unserved.
	bad := &memLog{}
	bad.batches = [][]byte{append([]byte(nil), log.batches[1]...)}
	bad.batches[0][len(bad.batches[0])-1] ^= 0xff
	bad.bases = []int64{0}
	bad.next = 1
	c2 := New(testConfig())
	t.Cleanup(c2.Close)
	if err := c2.LoadPartition(context.Background(), 0, bad); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("load corrupt: %v", err)
	}
	if r := doJoin(c2, context.Background(), joinReq(5, "g", "", time.Second)); !errors.Is(r.Err, ErrNotCoordinator) {
		t.Fatalf("join after failed load: %v", r.Err)
	}
}

func TestDeleteGroupsTombstones(t *testing.T) {
	c, log := newTestCoordinator(t, testConfig(), nil)
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(7, "doomed", "", -1, map[string]map[int32]int64{"a": {0: 1, 1: 2}})), nil)
	stableGroup(t, c, "busy", 1, time.Minute)
	groups := []string{"doomed", "busy", "never"}
	res := c.DeleteGroups(context.Background(), groups)
	want := []error{nil, ErrNonEmptyGroup, ErrGroupIDNotFound}
	if len(res) != len(groups) {
		t.Fatalf("%d results for %d groups", len(res), len(groups))
	}
	for i, g := range res {
		if g.Group != groups[i] || !errors.Is(g.Err, want[i]) {
			t.Fatalf("group %s: %v, want %v", g.Group, g.Err, want[i])
		}
	}
	// The last batch holds tombstones for both offsets and the group.
	recs := log.records(t)
	tomb := 0
	for _, r := range recs[len(recs)-3:] {
		if r.value != nil {
			t.Fatalf("non-tombstone in delete batch: %x", r.key)
		}
		var ok kmsg.OffsetCommitKey
		var gk kmsg.GroupMetadataKey
		if (ok.ReadFrom(r.key) == nil && ok.Version == 1 && ok.Group == "doomed") || (gk.ReadFrom(r.key) == nil && gk.Version == 2 && gk.Group == "doomed") {
			tomb++
		}
	}
	if tomb != 3 {
		t.Fatalf("%d tombstones for doomed", tomb)
	}
	if got := fetchAll(t, c, "doomed"); len(got) != 0 {
		t.Fatalf("offsets after delete: %v", got)
	}
	if d := describe(t, c, "doomed"); d.State != "Dead" || d.Err != nil {
		t.Fatalf("describe deleted: %+v", d)
	}
	// Reloading replays the tombstones: still gone.
	c2, _ := newTestCoordinator(t, testConfig(), log)
	if got := fetchAll(t, c2, "doomed"); len(got) != 0 {
		t.Fatalf("offsets after reload: %v", got)
	}
	if res := c2.DeleteGroups(context.Background(), groups[:1]); !errors.Is(res[0].Err, ErrGroupIDNotFound) {
		t.Fatalf("delete again: %+v", res[0])
	}
	// A failed tombstone write keeps the group.
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(7, "kept", "", -1, map[string]map[int32]int64{"a": {0: 1}})), nil)
	log.setFail(errTest)
	if res := c.DeleteGroups(context.Background(), []string{"kept"}); !errors.Is(res[0].Err, ErrCoordinatorNotAvailable) {
		t.Fatalf("delete with failing log: %+v", res[0])
	}
	log.setFail(nil)
	if got := fetchAll(t, c, "kept"); len(got) != 1 {
		t.Fatalf("kept offsets: %v", got)
	}
}

func TestOffsetFetchVersions(t *testing.T) {
	c, log := newTestCoordinator(t, testConfig(), nil)
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(7, "f", "", -1, map[string]map[int32]int64{"a": {0: 1}, "b": {2: 3}})), nil)

	// Explicit topics (one named twice), unknown partition -1.
	fts, err := c.OffsetFetch(context.Background(), "f", []FetchTopic{{"a", []int32{0}}, {"a", []int32{1}}}, false)
	if err != nil || len(fts) != 1 || len(fts[0].Partitions) != 2 || fts[0].Partitions[0].Offset != 1 || fts[0].Partitions[1].Offset != -1 {
		t.Fatalf("explicit topics: %+v, %v", fts, err)
	}
	// An unserved group.
	c.UnloadPartition(0)
	if _, err := c.OffsetFetch(context.Background(), "f", []FetchTopic{{"a", []int32{0, 1}}}, false); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("not coordinator: %v", err)
	}
	if err := c.LoadPartition(context.Background(), 0, log); err != nil {
		t.Fatal(err)
	}

	// Null topics: every committed offset, sorted; an unknown group has
	// none and no error.
	fts, err = c.OffsetFetch(context.Background(), "f", nil, false)
	if err != nil || len(fts) != 2 || fts[0].Topic != "a" || fts[1].Partitions[0].Offset != 3 {
		t.Fatalf("all of group f: %+v, %v", fts, err)
	}
	fts, err = c.OffsetFetch(context.Background(), "unknown", []FetchTopic{{"x", []int32{0}}}, false)
	if err != nil || fts[0].Partitions[0].Offset != -1 || fts[0].Partitions[0].Err != nil {
		t.Fatalf("unknown group: %+v, %v", fts, err)
	}

	// v7 RequireStable while a commit is being appended.
	log.mu.Lock()
	log.gate, log.entered = make(chan struct{}), make(chan struct{}, 1)
	log.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.OffsetCommit(context.Background(), commitReq(7, "f", "", -1, map[string]map[int32]int64{"a": {0: 5}}))
	}()
	<-log.entered
	fts, err = c.OffsetFetch(context.Background(), "f", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	unstable := 0
	for _, tt := range fts {
		for _, p := range tt.Partitions {
			if errors.Is(p.Err, ErrUnstableOffsetCommit) {
				unstable++
			}
		}
	}
	if unstable != 1 {
		t.Fatalf("require stable: %d unstable partitions, want 1: %+v", unstable, fts)
	}
	log.mu.Lock()
	close(log.gate)
	log.gate = nil
	log.mu.Unlock()
	<-done
	if got := fetchAll(t, c, "f"); got[tp{"a", 0}] != 5 {
		t.Fatalf("after gated commit: %v", got)
	}
}

func TestListAndDescribeGroups(t *testing.T) {
	c, _ := newTestCoordinator(t, testConfig(), nil)
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(7, "simple", "", -1, map[string]map[int32]int64{"a": {0: 1}})), nil)
	ids, _ := stableGroup(t, c, "stable", 2, time.Minute)
	list := func(states, types []string) map[string]ListedGroup {
		gs, err := c.ListGroups(context.Background(), states, types)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		out := map[string]ListedGroup{}
		for _, g := range gs {
			out[g.Group] = g
		}
		return out
	}
	all := list(nil, nil)
	if len(all) != 2 || all["stable"].ProtocolType != "consumer" || all["simple"].ProtocolType != "" {
		t.Fatalf("list v0: %+v", all)
	}
	if got := list([]string{"stable"}, nil); len(got) != 1 || got["stable"].GroupState != "Stable" {
		t.Fatalf("list stable: %+v", got)
	}
	if got := list([]string{"Empty"}, []string{"Classic"}); len(got) != 1 || got["simple"].GroupType != "classic" {
		t.Fatalf("list empty classic: %+v", got)
	}
	if got := list(nil, []string{"consumer"}); len(got) != 0 {
		t.Fatalf("list consumer type: %+v", got)
	}

	ds := c.DescribeGroups(context.Background(), []string{"stable", "missing"})
	s, m := ds[0], ds[1]
	if s.Err != nil || s.State != "Stable" || s.Protocol != "range" || len(s.Members) != 2 {
		t.Fatalf("describe stable: %+v", s)
	}
	if s.Members[0].MemberID != ids[0] || !bytes.Equal(s.Members[0].MemberAssignment, []byte("a-"+ids[0])) || len(s.Members[0].ProtocolMetadata) == 0 {
		t.Fatalf("describe member: %+v", s.Members[0])
	}
	if m.State != "Dead" || m.Err != nil || len(m.Members) != 0 {
		t.Fatalf("describe missing: %+v", m)
	}
}

func TestClientInfoInMembers(t *testing.T) {
	c, _ := newTestCoordinator(t, testConfig(), nil)
	ctx := WithClient(context.Background(), "my-client", "/127.0.0.1")
	req := joinReq(3, "ci", "", time.Minute)
	resp := doJoin(c, ctx, req)
	if resp.Err != nil || !strings.HasPrefix(resp.MemberID, "my-client-") {
		t.Fatalf("join: %+v", resp)
	}
	syncAll(t, c, "ci", []string{resp.MemberID}, resp.Generation)
	d := describe(t, c, "ci")
	if d.Members[0].ClientID != "my-client" || d.Members[0].ClientHost != "/127.0.0.1" {
		t.Fatalf("member: %+v", d.Members[0])
	}
}

func TestOffsetDelete(t *testing.T) {
	c, _ := newTestCoordinator(t, testConfig(), nil)
	ids, gen := stableGroup(t, c, "od", 1, time.Minute) // subscribed to t1
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(7, "od", ids[0], gen, map[string]map[int32]int64{"t1": {0: 1}, "t2": {0: 2}})), nil)
	type delResp struct {
		Err    error
		Topics []PartitionResult
	}
	del := func(group string, topics ...string) delResp {
		r := kmsg.NewPtrOffsetDeleteRequest()
		r.Group = group
		for _, tt := range topics {
			rt := kmsg.NewOffsetDeleteRequestTopic()
			rt.Topic = tt
			rt.Partitions = []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}
			r.Topics = append(r.Topics, rt)
		}
		res, err := c.OffsetDelete(context.Background(), r)
		return delResp{err, res}
	}
	resp := del("od", "t1", "t2")
	if resp.Err != nil || !errors.Is(resp.Topics[0].Err, ErrGroupSubscribedToTopic) || resp.Topics[1].Err != nil {
		t.Fatalf("delete from stable group: %+v", resp)
	}
	if got := fetchAll(t, c, "od"); len(got) != 1 || got[tp{"t1", 0}] != 1 {
		t.Fatalf("offsets after delete: %v", got)
	}
	if r := del("nope", "t1"); !errors.Is(r.Err, ErrGroupIDNotFound) {
		t.Fatalf("unknown group: %+v", r)
	}
	if r := del("", "t1"); !errors.Is(r.Err, ErrInvalidGroupID) {
		t.Fatalf("empty group id: %+v", r)
	}
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(7, "simple", "", -1, map[string]map[int32]int64{"t1": {0: 1}})), nil)
	if r := del("simple", "t1"); r.Err != nil || r.Topics[0].Err != nil {
		t.Fatalf("empty group: %+v", r)
	}
	if got := fetchAll(t, c, "simple"); len(got) != 0 {
		t.Fatalf("simple offsets: %v", got)
	}
}

func TestExpireOffsets(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetsRetention = time.Hour
	c, log := newTestCoordinator(t, cfg, nil)
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(7, "simple", "", -1, map[string]map[int32]int64{"a": {0: 1}})), nil)
	short := commitReq(3, "explicit", "", -1, map[string]map[int32]int64{"a": {0: 1}})
	short.RetentionTimeMillis = 1000
	allCodes(t, c.OffsetCommit(context.Background(), short), nil)
	ids, gen := stableGroup(t, c, "live", 1, time.Minute)
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(7, "live", ids[0], gen, map[string]map[int32]int64{"t1": {0: 1}, "gone": {0: 1}})), nil)

	now := time.Now()
	if n := c.expireOffsets(now.Add(2 * time.Second)); n != 1 {
		t.Fatalf("expired %d after 2s, want the explicit one", n)
	}
	if n := c.expireOffsets(now.Add(2 * time.Hour)); n != 2 {
		t.Fatalf("expired %d after 2h, want simple and live's unsubscribed topic", n)
	}
	if got := fetchAll(t, c, "live"); len(got) != 1 || got[tp{"t1", 0}] != 1 {
		t.Fatalf("live offsets: %v", got)
	}
	// Empty groups without offsets were deleted, with tombstones.
	if gs, err := c.ListGroups(context.Background(), nil, nil); err != nil || len(gs) != 1 || gs[0].Group != "live" {
		t.Fatalf("groups after expiry: %+v, %v", gs, err)
	}
	c2, _ := newTestCoordinator(t, cfg, log)
	if gs, err := c2.ListGroups(context.Background(), nil, nil); err != nil || len(gs) != 1 {
		t.Fatalf("groups after reload: %+v, %v", gs, err)
	}
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }
