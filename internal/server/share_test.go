package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/sharetest"
	"github.com/strombroker/strom/wire"
)

// shareTestConfig: share-partitions start at the log start, few state
// partitions.
func shareTestConfig(c *Config) {
	c.ShareAutoOffsetReset = "earliest"
	c.ShareStateTopicPartitions = 3
	c.ShareHeartbeatInterval = 200 * time.Millisecond
}

// produceN writes values "0".."n-1" (plus offset base) to topic.
func shareProduce(t *testing.T, ctx context.Context, addr, topic string, from, n int) {
	t.Helper()
	cl := newClient(t, addr, kgo.DefaultProduceTopic(topic))
	recs := make([]*kgo.Record, 0, n)
	for i := from; i < from+n; i++ {
		recs = append(recs, &kgo.Record{Value: []byte(strconv.Itoa(i))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func newShareConsumer(t *testing.T, addr, group, topic string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return newClient(t, addr, append([]kgo.Opt{kgo.ShareGroup(group), kgo.ConsumeTopics(topic),
		kgo.FetchMaxWait(200 * time.Millisecond)}, opts...)...)
}

// TestShareGroupConsumersSplitRecords: two share consumers on one
// partition divide its records between them, each record delivered once.
func TestShareGroupConsumersSplitRecords(t *testing.T) {
	_, addr := startTestServer(t, shareTestConfig, func(c *Config) {
		if testing.Verbose() {
			c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	})
	ctx := testCtx(t, 60*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "share-split", 1); err != nil {
		t.Fatal(err)
	}
	const total = 200
	shareProduce(t, ctx, addr, "share-split", 0, total)

	var mu sync.Mutex
	seen := map[string]int{}
	perClient := [2]int{}
	poll := func(i int, cl *kgo.Client) int {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		fs := cl.PollFetches(pctx)
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			r.Ack(kgo.AckAccept)
			mu.Lock()
			seen[string(r.Value)]++
			perClient[i]++
			mu.Unlock()
			n++
		})
		return n
	}
	c1 := newShareConsumer(t, addr, "split", "share-split", kgo.ShareMaxRecords(10))
	c2 := newShareConsumer(t, addr, "split", "share-split", kgo.ShareMaxRecords(10))
	// c1 takes a first batch and holds it (no further poll, so no ack):
	// c2 can only get other records.
	for poll(0, c1) == 0 {
		if ctx.Err() != nil {
			t.Fatal("c1 got nothing")
		}
	}
	for poll(1, c2) == 0 {
		if ctx.Err() != nil {
			t.Fatal("c2 got nothing while c1 held its records")
		}
	}
	done := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == total
	}
	for !done() {
		if ctx.Err() != nil {
			t.Fatalf("consumed %d distinct of %d", len(seen), total)
		}
		poll(0, c1)
		poll(1, c2)
	}
	for v, n := range seen {
		if n != 1 {
			t.Errorf("record %s delivered %d times", v, n)
		}
	}
	if perClient[0] == 0 || perClient[1] == 0 {
		t.Fatalf("records per consumer %v: want both to have some", perClient)
	}
	t.Logf("records per consumer: %v", perClient)
}

// rawShareFetch acquires records for member with a share session of its
// own and never acknowledges them: a consumer that died holding records.
func rawShareFetch(t *testing.T, ctx context.Context, addr, group, member, topic string) []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord {
	t.Helper()
	acq, _ := rawShareFetchConn(t, ctx, addr, group, member, topic)
	return acq
}

// rawShareFetchConn is rawShareFetch that also returns its connection.
func rawShareFetchConn(t *testing.T, ctx context.Context, addr, group, member, topic string) ([]kmsg.ShareFetchResponseTopicPartitionAcquiredRecord, *wire.Client) {
	t.Helper()
	md, err := newAdmin(t, addr).Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	id := md.Topics[topic].ID
	cl := dialRaw(t, addr)
	for ctx.Err() == nil {
		req := kmsg.NewPtrShareFetchRequest()
		req.Version = 1
		req.GroupID, req.MemberID = &group, &member
		req.MaxWaitMillis, req.MaxBytes, req.MaxRecords = 500, 1<<20, 100
		rt := kmsg.NewShareFetchRequestTopic()
		rt.TopicID = id
		rt.Partitions = []kmsg.ShareFetchRequestTopicPartition{{Partition: 0}}
		req.Topics = append(req.Topics, rt)
		resp, err := cl.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		r := resp.(*kmsg.ShareFetchResponse)
		if r.ErrorCode != 0 {
			t.Fatalf("share fetch: error %d", r.ErrorCode)
		}
		for _, rt := range r.Topics {
			for _, p := range rt.Partitions {
				if p.ErrorCode != 0 {
					t.Fatalf("share fetch partition: error %d", p.ErrorCode)
				}
				if len(p.AcquiredRecords) > 0 {
					return p.AcquiredRecords, cl
				}
			}
		}
		// Nothing yet: the next request reopens the session (epoch 0).
	}
	t.Fatal("raw share fetch acquired nothing")
	return nil, nil
}

// TestShareGroupConnectionCloseReleases: records held by a member whose
// connection closes go to another member at once, long before their
// acquisition lock would expire; the delivery count still counts them.
func TestShareGroupConnectionCloseReleases(t *testing.T) {
	_, addr := startTestServer(t, shareTestConfig) // 30s locks
	ctx := testCtx(t, 20*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "share-conn", 1); err != nil {
		t.Fatal(err)
	}
	shareProduce(t, ctx, addr, "share-conn", 0, 3)
	acq, conn := rawShareFetchConn(t, ctx, addr, "conn", "crashing-member", "share-conn")
	if len(acq) != 1 || acq[0].LastOffset != 2 {
		t.Fatalf("acquired %+v", acq)
	}
	conn.Close()
	cl := newShareConsumer(t, addr, "conn", "share-conn")
	for v, n := range consumeShareCounts(t, ctx, cl, 3) {
		if n != 2 {
			t.Errorf("record %s: delivery count %d, want 2", v, n)
		}
	}
}

// consumeShareCounts is consumeShare returning each value's delivery count.
func consumeShareCounts(t *testing.T, ctx context.Context, cl *kgo.Client, want int) map[string]int32 {
	t.Helper()
	counts := map[string]int32{}
	for len(counts) < want {
		if ctx.Err() != nil {
			t.Fatalf("consumed %d distinct records of %d", len(counts), want)
		}
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			counts[string(r.Value)] = r.DeliveryCount()
			r.Ack(kgo.AckAccept)
		})
	}
	return counts
}

// TestShareGroupLockTimeoutRedelivers: records acquired and never
// acknowledged go to another member once their acquisition lock runs out,
// with their delivery count raised.
func TestShareGroupLockTimeoutRedelivers(t *testing.T) {
	_, addr := startTestServer(t, shareTestConfig, func(c *Config) { c.ShareRecordLockDuration = 700 * time.Millisecond })
	ctx := testCtx(t, 60*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "share-lock", 1); err != nil {
		t.Fatal(err)
	}
	shareProduce(t, ctx, addr, "share-lock", 0, 5)
	acq := rawShareFetch(t, ctx, addr, "lock", "dead-member", "share-lock")
	if len(acq) != 1 || acq[0].FirstOffset != 0 || acq[0].LastOffset != 4 || acq[0].DeliveryCount != 1 {
		t.Fatalf("acquired %+v, want offsets 0-4 once", acq)
	}
	acquiredAt := time.Now()
	cl := newShareConsumer(t, addr, "lock", "share-lock")
	got := map[string]int32{}
	for len(got) < 5 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("got %v before the deadline", got)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got[string(r.Value)] = r.DeliveryCount()
			r.Ack(kgo.AckAccept)
		})
	}
	if waited := time.Since(acquiredAt); waited < 700*time.Millisecond {
		t.Fatalf("records redelivered after %v, before the 700ms lock ran out", waited)
	}
	for v, n := range got {
		if n != 2 {
			t.Errorf("record %s: delivery count %d, want 2", v, n)
		}
	}
	if err := cl.FlushAcks(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestShareGroupDeliveryLimitArchivesPoison: a record released on every
// delivery is archived after group.share.delivery.count.limit deliveries
// and never seen again; the records after it flow on.
func TestShareGroupDeliveryLimitArchivesPoison(t *testing.T) {
	_, addr := startTestServer(t, shareTestConfig, func(c *Config) { c.ShareDeliveryCountLimit = 3 })
	ctx := testCtx(t, 60*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "share-poison", 1); err != nil {
		t.Fatal(err)
	}
	shareProduce(t, ctx, addr, "share-poison", 0, 3) // "1" is the poison record
	cl := newShareConsumer(t, addr, "poison", "share-poison")
	var poison []int32
	others := map[string]bool{}
	pollUntil := func(what string, cond func() bool) {
		for !cond() {
			if ctx.Err() != nil {
				t.Fatalf("waiting for %s: poison deliveries %v, others %v", what, poison, others)
			}
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			fs := cl.PollFetches(pctx)
			cancel()
			fs.EachRecord(func(r *kgo.Record) {
				if string(r.Value) == "1" {
					poison = append(poison, r.DeliveryCount())
					r.Ack(kgo.AckRelease)
					return
				}
				others[string(r.Value)] = true
				r.Ack(kgo.AckAccept)
			})
		}
	}
	pollUntil("three deliveries of the poison record", func() bool { return len(poison) >= 3 && others["0"] && others["2"] })
	shareProduce(t, ctx, addr, "share-poison", 3, 1) // a record after the archived one
	pollUntil("the record after it", func() bool { return others["3"] })
	if fmt.Sprint(poison) != "[1 2 3]" {
		t.Fatalf("poison record deliveries %v, want [1 2 3] then archived", poison)
	}
}

// consumeShare polls cl until want distinct values arrived, accepting
// each, and returns how often each value came.
func consumeShare(t *testing.T, ctx context.Context, cl *kgo.Client, want int) map[string]int {
	t.Helper()
	return sharetest.Consume(t, ctx, cl, func(seen map[string]int) bool { return len(seen) >= want })
}

// TestShareGroupStateSurvivesRestart: acknowledged records are not
// delivered again after a broker restart; the share-partition resumes
// where its persisted state says.
func TestShareGroupStateSurvivesRestart(t *testing.T) {
	c := testConfig(t)
	shareTestConfig(&c)
	s, addr := startWithConfig(t, c)
	ctx := testCtx(t, 60*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "share-restart", 1); err != nil {
		t.Fatal(err)
	}
	shareProduce(t, ctx, addr, "share-restart", 0, 50)
	cl := newShareConsumer(t, addr, "restart", "share-restart")
	first := consumeShare(t, ctx, cl, 50)
	cl.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	_, addr2 := startWithConfig(t, c)
	shareProduce(t, ctx, addr2, "share-restart", 50, 50)
	cl2 := newShareConsumer(t, addr2, "restart", "share-restart")
	second := consumeShare(t, ctx, cl2, 50)
	for v := range second {
		if first[v] > 0 {
			t.Errorf("record %s, acknowledged before the restart, was delivered again", v)
		}
		if n, _ := strconv.Atoi(v); n < 50 {
			t.Errorf("record %s delivered after the restart", v)
		}
	}
}

// TestShareGroupAdmin drives the share-group admin APIs through kadm:
// offsets set before the first consumer, describe, list, offsets moving
// with acknowledgements, NON_EMPTY_GROUP while a member is in, offsets and
// group deletion.
func TestShareGroupAdmin(t *testing.T) {
	_, addr := startTestServer(t, func(c *Config) { c.ShareStateTopicPartitions = 3 }) // share.auto.offset.reset latest
	ctx := testCtx(t, 60*time.Second)
	adm := newAdmin(t, addr)
	if _, err := kadmCreate(ctx, t, addr, "share-admin", 1); err != nil {
		t.Fatal(err)
	}
	shareProduce(t, ctx, addr, "share-admin", 0, 10)
	at := func(o int64) kadm.Offsets {
		return kadm.Offsets{"share-admin": {0: {Topic: "share-admin", Partition: 0, At: o}}}
	}
	if rs, err := adm.AlterShareGroupOffsets(ctx, "adm", at(4)); err != nil || rs.Error() != nil {
		t.Fatalf("alter offsets: %v %v", err, rs.Error())
	}
	startOffset := func() int64 {
		t.Helper()
		d, err := adm.DescribeShareGroupOffsets(ctx, "adm")
		if err != nil || d.Error() != nil {
			t.Fatalf("describe offsets: %v %v", err, d.Error())
		}
		o, ok := d["adm"].Offsets.Lookup("share-admin", 0)
		if !ok {
			return -1 // the group has no offsets for the topic
		}
		if o.Err != nil {
			t.Fatalf("describe offsets: %+v", d["adm"])
		}
		return o.StartOffset
	}
	if so := startOffset(); so != 4 {
		t.Fatalf("start offset %d after altering it to 4", so)
	}
	listed, err := adm.ListGroupsByType(ctx, []string{"share"})
	if err != nil || listed["adm"].State != "Empty" || listed["adm"].GroupType != "share" {
		t.Fatalf("list share groups: %v %+v", err, listed)
	}

	cl := newShareConsumer(t, addr, "adm", "share-admin")
	got := consumeShare(t, ctx, cl, 6)
	for v := range got {
		if n, _ := strconv.Atoi(v); n < 4 {
			t.Fatalf("record %s below the altered start offset 4 delivered", v)
		}
	}
	dg, err := adm.DescribeShareGroups(ctx, "adm")
	if err != nil || dg.Error() != nil {
		t.Fatalf("describe share groups: %v %v", err, dg.Error())
	}
	if g := dg["adm"]; g.GroupState != "Stable" || len(g.Members) != 1 || len(g.AssignedPartitions()["share-admin"]) != 1 {
		t.Fatalf("described %+v, want one member assigned share-admin/0", g)
	}
	if rs, err := adm.AlterShareGroupOffsets(ctx, "adm", at(0)); err == nil && !errors.Is(rs.Error(), kerr.NonEmptyGroup) {
		t.Fatalf("altering offsets of a group with a member: %v, want NON_EMPTY_GROUP", rs.Error())
	}
	cl.Close() // leaves the group
	waitUntil(t, 10*time.Second, "the group to be empty", func() bool {
		dg, err := adm.DescribeShareGroups(ctx, "adm")
		return err == nil && dg["adm"].GroupState == "Empty"
	})
	if so := startOffset(); so != 10 {
		t.Fatalf("start offset %d after every record was accepted, want 10", so)
	}
	// Rewinding an empty group replays from there, although the leader
	// still has the share-partition loaded.
	if rs, err := adm.AlterShareGroupOffsets(ctx, "adm", at(8)); err != nil || rs.Error() != nil {
		t.Fatalf("rewind offsets: %v %v", err, rs.Error())
	}
	again := newShareConsumer(t, addr, "adm", "share-admin")
	if got := consumeShare(t, ctx, again, 2); got["8"] != 1 || got["9"] != 1 {
		t.Fatalf("after rewinding to 8 got %v, want 8 and 9", got)
	}
	again.Close()
	waitUntil(t, 10*time.Second, "the group to be empty again", func() bool {
		dg, err := adm.DescribeShareGroups(ctx, "adm")
		return err == nil && dg["adm"].GroupState == "Empty"
	})
	if rs, err := adm.DeleteShareGroupOffsets(ctx, "adm", "share-admin"); err != nil || rs.Error() != nil {
		t.Fatalf("delete offsets: %v %v", err, rs.Error())
	}
	if so := startOffset(); so != -1 {
		t.Fatalf("start offset %d after deleting the offsets, want -1", so)
	}
	if rs, err := adm.DeleteGroups(ctx, "adm"); err != nil || rs.Error() != nil {
		t.Fatalf("delete group: %v %v", err, rs.Error())
	}
	if listed, err := adm.ListGroupsByType(ctx, []string{"share"}); err != nil || len(listed) != 0 {
		t.Fatalf("share groups after the delete: %v %v", listed, err)
	}
}

// TestShareProtocolErrors checks the precise error codes of the share APIs
// for bad input, with a client of our own built on kmsg.
func TestShareProtocolErrors(t *testing.T) {
	_, addr := startTestServer(t, shareTestConfig)
	ctx := testCtx(t, 30*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "share-errs", 1); err != nil {
		t.Fatal(err)
	}
	md, err := newAdmin(t, addr).Metadata(ctx, "share-errs")
	if err != nil {
		t.Fatal(err)
	}
	topicID := md.Topics["share-errs"].ID
	cl := dialRaw(t, addr)
	send := func(req kmsg.Request) kmsg.Response {
		t.Helper()
		resp, err := cl.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	heartbeat := func(member string, epoch int32, topics ...string) *kmsg.ShareGroupHeartbeatResponse {
		req := kmsg.NewPtrShareGroupHeartbeatRequest()
		req.Version, req.GroupID, req.MemberID, req.MemberEpoch, req.SubscribedTopicNames = 1, "errs", member, epoch, topics
		return send(req).(*kmsg.ShareGroupHeartbeatResponse)
	}
	expect := func(what string, got int16, want *kerr.Error) {
		t.Helper()
		if got != want.Code {
			t.Errorf("%s: error %v, want %s", what, kerr.ErrorForCode(got), want.Message)
		}
	}
	expect("heartbeat without a member id", heartbeat("", 0, "share-errs").ErrorCode, kerr.InvalidRequest)
	expect("join without topics", heartbeat("m1", 0).ErrorCode, kerr.InvalidRequest)
	expect("heartbeat of an unknown member", heartbeat("m1", 3, "share-errs").ErrorCode, kerr.UnknownMemberID)
	joined := heartbeat("m1", 0, "share-errs")
	if joined.ErrorCode != 0 || joined.MemberEpoch < 1 || joined.Assignment == nil || len(joined.Assignment.TopicPartitions) != 1 {
		t.Fatalf("join: %+v", joined)
	}
	expect("a stale member epoch", heartbeat("m1", joined.MemberEpoch+5).ErrorCode, kerr.FencedMemberEpoch)

	fetch := func(epoch int32, acks ...kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch) *kmsg.ShareFetchResponse {
		group, member := "errs", "m1"
		req := kmsg.NewPtrShareFetchRequest()
		req.Version, req.GroupID, req.MemberID, req.ShareSessionEpoch = 1, &group, &member, epoch
		rt := kmsg.NewShareFetchRequestTopic()
		rt.TopicID = topicID
		rt.Partitions = []kmsg.ShareFetchRequestTopicPartition{{Partition: 0, AcknowledgementBatches: acks}}
		req.Topics = append(req.Topics, rt)
		return send(req).(*kmsg.ShareFetchResponse)
	}
	ack := kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch{FirstOffset: 0, LastOffset: 0, AcknowledgeTypes: []int8{1}}
	expect("share fetch without a session", fetch(3).ErrorCode, kerr.ShareSessionNotFound)
	expect("acknowledgements opening a session", fetch(0, ack).ErrorCode, kerr.InvalidRequest)
	expect("opening a session", fetch(0).ErrorCode, &kerr.Error{Message: "no error"})
	expect("a wrong session epoch", fetch(7).ErrorCode, kerr.InvalidShareSessionEpoch)
	r := fetch(1, ack)
	if r.ErrorCode != 0 || len(r.Topics) != 1 || r.Topics[0].Partitions[0].AcknowledgeErrorCode != kerr.InvalidRecordState.Code {
		t.Errorf("acknowledging a record never acquired: %+v, want INVALID_RECORD_STATE", r)
	}

	sa := kmsg.NewPtrShareAcknowledgeRequest()
	group, member := "errs", "m1"
	sa.Version, sa.GroupID, sa.MemberID, sa.ShareSessionEpoch = 1, &group, &member, 0
	expect("share acknowledge at epoch 0", send(sa).(*kmsg.ShareAcknowledgeResponse).ErrorCode, kerr.InvalidShareSessionEpoch)

	desc := kmsg.NewPtrShareGroupDescribeRequest()
	desc.Version, desc.GroupIDs = 1, []string{"errs", "no-such-group"}
	dr := send(desc).(*kmsg.ShareGroupDescribeResponse)
	if len(dr.Groups) != 2 || dr.Groups[0].ErrorCode != 0 || len(dr.Groups[0].Members) != 1 || dr.Groups[1].ErrorCode != kerr.GroupIDNotFound.Code {
		t.Errorf("describe: %+v", dr.Groups)
	}

	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorType, fc.CoordinatorKeys = 6, 2, []string{"no-partition", "g:" + formatTopicID(topicID) + ":0"}
	fr := send(fc).(*kmsg.FindCoordinatorResponse)
	if len(fr.Coordinators) != 2 || fr.Coordinators[0].ErrorCode != kerr.InvalidRequest.Code || fr.Coordinators[1].ErrorCode != 0 || fr.Coordinators[1].NodeID != 1 {
		t.Errorf("find share coordinators: %+v", fr.Coordinators)
	}
	fc.Version = 5
	if fr := send(fc).(*kmsg.FindCoordinatorResponse); fr.Coordinators[1].ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("key type 2 before v6: %+v", fr.Coordinators[1])
	}

	w := kmsg.NewPtrWriteShareGroupStateRequest()
	w.GroupID = "errs"
	wt := kmsg.NewWriteShareGroupStateRequestTopic()
	wt.TopicID = topicID
	wt.Partitions = []kmsg.WriteShareGroupStateRequestTopicPartition{{Partition: 0, StartOffset: 0,
		StateBatches: []kmsg.WriteShareGroupStateRequestTopicPartitionStateBatch{{FirstOffset: 0, LastOffset: 1 << 40, DeliveryState: 2}}}}
	w.Topics = append(w.Topics, wt)
	expect("a state spanning 2^40 offsets", send(w).(*kmsg.WriteShareGroupStateResponse).Topics[0].Partitions[0].ErrorCode, kerr.InvalidRequest)
}

// TestShareGroupManyPartitions: three consumers on a three-partition topic
// (one partition each by the simple assignor) consume every record once.
func TestShareGroupManyPartitions(t *testing.T) {
	_, addr := startTestServer(t, shareTestConfig)
	ctx := testCtx(t, 60*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "share-many", 3); err != nil {
		t.Fatal(err)
	}
	const total = 300
	shareProduce(t, ctx, addr, "share-many", 0, total)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i := range 3 {
		cl := newShareConsumer(t, addr, "many", "share-many", kgo.ClientID(fmt.Sprint("c", i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cctx.Err() == nil {
				cl.PollFetches(cctx).EachRecord(func(r *kgo.Record) {
					r.Ack(kgo.AckAccept)
					mu.Lock()
					seen[string(r.Value)]++
					mu.Unlock()
				})
			}
		}()
	}
	waitUntil(t, 30*time.Second, "every record consumed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == total
	})
	cancel()
	wg.Wait()
	for v, n := range seen {
		if n != 1 {
			t.Errorf("record %s delivered %d times", v, n)
		}
	}
}

// TestShareGroupIDConflicts: a classic consumer cannot join a share
// group's id, nor a share consumer a classic group's.
func TestShareGroupIDConflicts(t *testing.T) {
	_, addr := startTestServer(t, shareTestConfig)
	ctx := testCtx(t, 30*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "share-ids", 1); err != nil {
		t.Fatal(err)
	}
	cl := dialRaw(t, addr)
	hb := kmsg.NewPtrShareGroupHeartbeatRequest()
	hb.Version, hb.GroupID, hb.MemberID, hb.SubscribedTopicNames = 1, "is-share", "m", []string{"share-ids"}
	if resp, err := cl.Request(ctx, hb); err != nil || resp.(*kmsg.ShareGroupHeartbeatResponse).ErrorCode != 0 {
		t.Fatalf("share join: %v %+v", err, resp)
	}
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version, join.Group, join.ProtocolType, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = 9, "is-share", "consumer", 10000, 10000
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 0}}}
	if resp, err := cl.Request(ctx, join); err != nil || resp.(*kmsg.JoinGroupResponse).ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("classic join of a share group's id: %v %+v", err, resp)
	}

	classic := newClient(t, addr, kgo.ConsumerGroup("is-classic"), kgo.ConsumeTopics("share-ids"))
	waitUntil(t, 10*time.Second, "the classic group to form", func() bool {
		classic.PollFetches(testCtx(t, 200*time.Millisecond))
		dg, err := newAdmin(t, addr).DescribeGroups(ctx, "is-classic")
		return err == nil && dg["is-classic"].State == "Stable"
	})
	hb.GroupID = "is-classic"
	if resp, err := cl.Request(ctx, hb); err != nil || resp.(*kmsg.ShareGroupHeartbeatResponse).ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("share join of a classic group's id: %v %+v", err, resp)
	}
}

// TestShareGroupConfigAutoOffsetReset: share.auto.offset.reset set on the
// group (IncrementalAlterConfigs, resource type GROUP, as kgo's docs say)
// makes a new share group start at the log start on a broker whose default
// is latest; DescribeConfigs shows it, and unknown group configs are
// refused.
func TestShareGroupConfigAutoOffsetReset(t *testing.T) {
	s, addr := startTestServer(t, func(c *Config) { c.ShareStateTopicPartitions = 3 }) // default latest
	ctx := testCtx(t, 30*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "share-cfg", 1); err != nil {
		t.Fatal(err)
	}
	shareProduce(t, ctx, addr, "share-cfg", 0, 5)
	cl := dialRaw(t, addr)
	alter := func(key, value string) int16 {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		res := kmsg.NewIncrementalAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeGroupConfig, "cfg"
		res.Configs = []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: key, Op: kmsg.IncrementalAlterConfigOpSet, Value: &value}}
		req.Resources = append(req.Resources, res)
		resp, err := cl.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.(*kmsg.IncrementalAlterConfigsResponse).Resources[0].ErrorCode
	}
	if code := alter("consumer.session.timeout.ms", "50000"); code != kerr.InvalidConfig.Code {
		t.Fatalf("an unsupported group config: error %d, want INVALID_CONFIG", code)
	}
	if code := alter("share.auto.offset.reset", "soonest"); code != kerr.InvalidConfig.Code {
		t.Fatalf("a bad value: error %d, want INVALID_CONFIG", code)
	}
	if code := alter("share.auto.offset.reset", "earliest"); code != 0 {
		t.Fatalf("set share.auto.offset.reset: error %d", code)
	}
	dreq := kmsg.NewPtrDescribeConfigsRequest()
	dreq.Version = 4
	dres := kmsg.NewDescribeConfigsRequestResource()
	dres.ResourceType, dres.ResourceName = kmsg.ConfigResourceTypeGroupConfig, "cfg"
	dreq.Resources = append(dreq.Resources, dres)
	dresp, err := cl.Request(ctx, dreq)
	if err != nil {
		t.Fatal(err)
	}
	rs := dresp.(*kmsg.DescribeConfigsResponse).Resources
	if len(rs) != 1 || rs[0].ErrorCode != 0 || len(rs[0].Configs) != 1 {
		t.Fatalf("describe group configs: %+v", rs)
	}
	if c := rs[0].Configs[0]; c.Name != "share.auto.offset.reset" || c.Value == nil || *c.Value != "earliest" || c.Source != kmsg.ConfigSourceGroupConfig {
		t.Fatalf("described %+v", c)
	}
	consumer := newShareConsumer(t, addr, "cfg", "share-cfg")
	got := consumeShare(t, ctx, consumer, 5)
	if got["0"] != 1 {
		t.Fatalf("got %v, want the records produced before the group started", got)
	}
	consumer.Close()
	adm := newAdmin(t, addr)
	waitUntil(t, 10*time.Second, "the group to be deleted", func() bool {
		rs, err := adm.DeleteGroups(ctx, "cfg")
		return err == nil && rs.Error() == nil
	})
	if _, ok := s.meta.State().GroupConfigs["cfg"]; ok {
		t.Fatal("the deleted group's configs are still set")
	}
}
