package server

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
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
