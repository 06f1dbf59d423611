package server

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/replica"
	"github.com/strombroker/strom/storage"
)

// commitReqV returns a simple (generation -1) OffsetCommit of one partition.
func commitReqV(version int16, groupID, topic string, partition int32, offset int64) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = version
	req.Group = groupID
	req.Generation = -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = partition, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// TestGroupOffsetCommitAfterLeadershipLoss: a coordinator whose
// __consumer_offsets partition just lost leadership (its replica is a
// follower at a newer epoch, the metadata not yet caught up) answers a commit
// NOT_COORDINATOR, so the client looks the coordinator up again, as Kafka
// maps NOT_LEADER_OR_FOLLOWER from its own log; not COORDINATOR_NOT_AVAILABLE.
func TestGroupOffsetCommitAfterLeadershipLoss(t *testing.T) {
	s, addr := startTestServer(t)
	cl := newClient(t, addr)
	ctx := testCtx(t, time.Minute)
	if _, err := kadmCreate(ctx, t, addr, "moved", 1); err != nil {
		t.Fatal(err)
	}
	const groupID = "moved-group"
	commit := func() int16 {
		resp := direct[*kmsg.OffsetCommitResponse](ctx, t, cl, commitReqV(8, groupID, "moved", 0, 5))
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	deadline := time.Now().Add(30 * time.Second)
	for code := commit(); code != 0; code = commit() {
		if time.Now().After(deadline) {
			t.Fatalf("commit before the move: %v", kerr.ErrorForCode(code))
		}
		time.Sleep(20 * time.Millisecond)
	}

	part := s.replicas.Get(offsetsTopic, s.groups.PartitionFor(groupID))
	if part == nil {
		t.Fatal("no local offsets partition for the group")
	}
	ours := part.LeaderEpoch()
	part.BecomeFollower(ours + 1)
	t.Cleanup(func() { part.BecomeLeader(ours+2, []int32{1}) })
	wantCode(t, "commit after losing leadership", commit(), kerr.NotCoordinator)
}

// TestGroupWireEncoding checks what the group handlers put on the wire
// around the coordinator's Go results: per-version shapes, per-partition and
// per-member codes, and the fields set on errors.
func TestGroupWireEncoding(t *testing.T) {
	s, addr := startTestServer(t)
	ctx := testCtx(t, time.Minute)
	if _, err := kadmCreate(ctx, t, addr, "wt", 2); err != nil {
		t.Fatal(err)
	}
	for code := int16(-1); code != 0; {
		resp := serve(ctx, t, s, commitReqV(2, "wire", "wt", 0, 7)).(*kmsg.OffsetCommitResponse)
		if code = resp.Topics[0].Partitions[0].ErrorCode; code != 0 && code != kerr.CoordinatorLoadInProgress.Code {
			t.Fatalf("commit: %v", kerr.ErrorForCode(code))
		}
	}

	// OffsetCommit: every partition answered, in request order, with its own code.
	cr := commitReqV(8, "wire", "wt", 1, 8)
	cr.Topics = append(cr.Topics, kmsg.OffsetCommitRequestTopic{Topic: "nosuch", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}})
	cresp := serve(ctx, t, s, cr).(*kmsg.OffsetCommitResponse)
	if len(cresp.Topics) != 2 || cresp.Topics[1].Topic != "nosuch" {
		t.Fatalf("commit topics: %+v", cresp.Topics)
	}
	wantCode(t, "commit known partition", cresp.Topics[0].Partitions[0].ErrorCode, nil)
	wantCode(t, "commit unknown topic", cresp.Topics[1].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition)

	// OffsetFetch v1: explicit topics (one named twice is answered once),
	// nothing committed -1.
	f1 := kmsg.NewPtrOffsetFetchRequest()
	f1.Version, f1.Group = 1, "wire"
	f1.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "wt", Partitions: []int32{0, 1}}, {Topic: "wt", Partitions: []int32{5}}}
	fresp := serve(ctx, t, s, f1).(*kmsg.OffsetFetchResponse)
	if fresp.Version != 1 || len(fresp.Topics) != 1 || len(fresp.Topics[0].Partitions) != 3 ||
		fresp.Topics[0].Partitions[0].Offset != 7 || fresp.Topics[0].Partitions[1].Offset != 8 || fresp.Topics[0].Partitions[2].Offset != -1 {
		t.Fatalf("fetch v1: %+v", fresp)
	}
	// v8: batched groups, one with null topics, one unknown.
	f8 := kmsg.NewPtrOffsetFetchRequest()
	f8.Version = 8
	f8.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "wire"}, {Group: "unknown", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "x", Partitions: []int32{0}}}}}
	fresp = serve(ctx, t, s, f8).(*kmsg.OffsetFetchResponse)
	if len(fresp.Groups) != 2 || len(fresp.Groups[0].Topics) != 1 || len(fresp.Groups[0].Topics[0].Partitions) != 2 || fresp.Groups[0].Topics[0].Partitions[1].Offset != 8 {
		t.Fatalf("fetch v8 group wire: %+v", fresp.Groups)
	}
	wantCode(t, "fetch v8 unknown group", fresp.Groups[1].ErrorCode, nil)
	if fresp.Groups[1].Topics[0].Partitions[0].Offset != -1 || fresp.Groups[1].Topics[0].Partitions[0].Metadata == nil {
		t.Fatalf("fetch v8 unknown group: %+v", fresp.Groups[1])
	}
	// v1 and v7 on a group whose partition is not served: before v2 the
	// error is on each partition, from v2 at the top.
	idx := s.groups.PartitionFor("wire")
	s.groups.UnloadPartition(idx)
	fresp = serve(ctx, t, s, f1).(*kmsg.OffsetFetchResponse)
	if len(fresp.Topics) != 1 || len(fresp.Topics[0].Partitions) != 3 {
		t.Fatalf("fetch v1 not coordinator: %+v", fresp)
	}
	for _, p := range fresp.Topics[0].Partitions {
		wantCode(t, "fetch v1 not coordinator", p.ErrorCode, kerr.NotCoordinator)
	}
	f7 := kmsg.NewPtrOffsetFetchRequest()
	f7.Version, f7.Group = 7, "wire"
	fresp = serve(ctx, t, s, f7).(*kmsg.OffsetFetchResponse)
	wantCode(t, "fetch v7 not coordinator", fresp.ErrorCode, kerr.NotCoordinator)
	if err := s.groups.LoadPartition(ctx, idx, offsetLog{s.replicas.Get(offsetsTopic, idx)}); err != nil {
		t.Fatal(err)
	}

	// DescribeGroups: authorized operations only when asked (v3+).
	dr := kmsg.NewPtrDescribeGroupsRequest()
	dr.Version, dr.Groups = 3, []string{"wire", "missing"}
	dresp := serve(ctx, t, s, dr).(*kmsg.DescribeGroupsResponse)
	if d := dresp.Groups[0]; d.State != "Empty" || d.AuthorizedOperations != -2147483648 || dresp.Groups[1].State != "Dead" {
		t.Fatalf("describe: %+v", dresp.Groups)
	}
	dr.IncludeAuthorizedOperations = true
	if d := serve(ctx, t, s, dr).(*kmsg.DescribeGroupsResponse).Groups[0]; d.AuthorizedOperations != 1<<3|1<<6|1<<8 {
		t.Fatalf("authorized ops: %d", d.AuthorizedOperations)
	}

	// ListGroups: the states filter from v4, the types filter from v5.
	list := func(v int16, states, types []string) int {
		r := kmsg.NewPtrListGroupsRequest()
		r.Version, r.StatesFilter, r.TypesFilter = v, states, types
		resp := serve(ctx, t, s, r).(*kmsg.ListGroupsResponse)
		wantCode(t, "list", resp.ErrorCode, nil)
		return len(resp.Groups)
	}
	if n := list(3, []string{"Stable"}, nil); n != 1 {
		t.Errorf("list v3 ignores the states filter: %d groups", n)
	}
	if n := list(4, []string{"Stable"}, nil); n != 0 {
		t.Errorf("list v4 Stable: %d groups", n)
	}
	if n := list(4, nil, []string{"consumer"}); n != 1 {
		t.Errorf("list v4 ignores the types filter: %d groups", n)
	}
	if n := list(5, nil, []string{"consumer"}); n != 0 {
		t.Errorf("list v5 type consumer: %d groups", n)
	}

	// JoinGroup errors: generation -1; MEMBER_ID_REQUIRED carries the id.
	jr := kmsg.NewPtrJoinGroupRequest()
	jr.Version, jr.Group, jr.SessionTimeoutMillis, jr.ProtocolType = 4, "joiners", 10000, "consumer"
	jr.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0}}}
	jresp := serve(ctx, t, s, jr).(*kmsg.JoinGroupResponse)
	wantCode(t, "join v4", jresp.ErrorCode, kerr.MemberIDRequired)
	if jresp.MemberID == "" || jresp.Generation != -1 || jresp.Protocol != nil {
		t.Fatalf("join v4 answer: %+v", jresp)
	}
	jr.SessionTimeoutMillis = 1
	jresp = serve(ctx, t, s, jr).(*kmsg.JoinGroupResponse)
	wantCode(t, "join bad session", jresp.ErrorCode, kerr.InvalidSessionTimeout)

	// SyncGroup errors: an empty (not null) assignment, no protocol.
	sr := kmsg.NewPtrSyncGroupRequest()
	sr.Version, sr.Group, sr.MemberID = 5, "wire", "nobody"
	sresp := serve(ctx, t, s, sr).(*kmsg.SyncGroupResponse)
	wantCode(t, "sync unknown member", sresp.ErrorCode, kerr.UnknownMemberID)
	if sresp.MemberAssignment == nil || sresp.Protocol != nil || sresp.ProtocolType != nil {
		t.Fatalf("sync error answer: %+v", sresp)
	}

	// LeaveGroup: before v3 the member's error is the top-level error; from
	// v3 a request error answers no members.
	lr := kmsg.NewPtrLeaveGroupRequest()
	lr.Version, lr.Group, lr.MemberID = 0, "wire", "nobody"
	wantCode(t, "leave v0", serve(ctx, t, s, lr).(*kmsg.LeaveGroupResponse).ErrorCode, kerr.UnknownMemberID)
	lr.Version, lr.Group = 3, ""
	lr.Members = []kmsg.LeaveGroupRequestMember{{MemberID: "nobody"}}
	if l := serve(ctx, t, s, lr).(*kmsg.LeaveGroupResponse); l.ErrorCode != kerr.InvalidGroupID.Code || len(l.Members) != 0 {
		t.Fatalf("leave v3 without group: %+v", l)
	}
	lr.Group = "wire"
	if l := serve(ctx, t, s, lr).(*kmsg.LeaveGroupResponse); l.ErrorCode != 0 || len(l.Members) != 1 || l.Members[0].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("leave v3 unknown member: %+v", l)
	}

	// OffsetDelete: a request error answers no topics.
	or := kmsg.NewPtrOffsetDeleteRequest()
	or.Group = "never"
	or.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "wt", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
	if o := serve(ctx, t, s, or).(*kmsg.OffsetDeleteResponse); o.ErrorCode != kerr.GroupIDNotFound.Code || o.Topics != nil {
		t.Fatalf("offset delete of unknown group: %+v", o)
	}
	or.Group = "wire"
	if o := serve(ctx, t, s, or).(*kmsg.OffsetDeleteResponse); o.ErrorCode != 0 || len(o.Topics) != 1 || o.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("offset delete: %+v", o)
	}

	// DeleteGroups: one code per group.
	gr := kmsg.NewPtrDeleteGroupsRequest()
	gr.Version, gr.Groups = 2, []string{"wire", "never"}
	g := serve(ctx, t, s, gr).(*kmsg.DeleteGroupsResponse)
	if len(g.Groups) != 2 {
		t.Fatalf("delete groups: %+v", g)
	}
	wantCode(t, "delete group", g.Groups[0].ErrorCode, nil)
	wantCode(t, "delete unknown group", g.Groups[1].ErrorCode, kerr.GroupIDNotFound)
}

// TestOffsetLogErrorContract: replica and storage errors from appending to
// __consumer_offsets reach the client as Kafka's coordinator maps the errors
// of writing its own log.
func TestOffsetLogErrorContract(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want *kerr.Error
	}{
		{replica.ErrNotLeader, kerr.NotCoordinator},
		{replica.ErrClosed, kerr.NotCoordinator},
		{storage.ErrStorage, kerr.NotCoordinator},
		{storage.ErrClosed, kerr.NotCoordinator},
		{replica.ErrNotEnoughReplicas, kerr.CoordinatorNotAvailable},
		{replica.ErrNotEnoughReplicasAfterAppend, kerr.CoordinatorNotAvailable},
		{context.DeadlineExceeded, kerr.CoordinatorNotAvailable},
		{context.Canceled, kerr.CoordinatorNotAvailable},
		{storage.ErrMessageTooLarge, kerr.UnknownServerError},
	} {
		err := offsetLogError(fmt.Errorf("produce: %w", tc.err))
		if !errors.Is(err, tc.err) {
			t.Errorf("%v: the replica error is lost: %v", tc.err, err)
		}
		wantCode(t, tc.err.Error(), errorCode(err), tc.want)
	}
}
