package raftmeta

import (
	"errors"
	"slices"
	"testing"
)

// TestUnregisterBroker: only a registered, fenced broker at the epoch the
// proposer saw is removed; it leaves the ISRs that keep another member and
// the partitions it led go leaderless at a new leader epoch.
func TestUnregisterBroker(t *testing.T) {
	f, _ := testFSM(t)
	applyLog(t, f, baseLog(t))
	applyLog(t, f, [][]byte{cmd(t, cmdCreateTopic, createTopicCmd{Name: "solo", ID: topicID(2), Replicas: [][]int32{{2}}})})
	unreg := func(id int32, epoch int64) error {
		return applyOne(t, f, cmd(t, cmdUnregisterBroker, unregisterBrokerCmd{ID: id, Epoch: epoch})).err
	}
	if err := unreg(9, 0); !errors.Is(err, ErrBrokerNotRegistered) {
		t.Fatalf("unknown id: %v", err)
	}
	if err := unreg(-1, 0); !errors.Is(err, ErrInvalidBroker) {
		t.Fatalf("negative id: %v", err)
	}
	if err := unreg(2, 0); !errors.Is(err, ErrBrokerAlive) {
		t.Fatalf("live broker: %v", err)
	}
	applyLog(t, f, [][]byte{cmd(t, cmdSetBrokersFenced, setBrokersFencedCmd{Fence: []int32{2}})})
	if err := unreg(2, 77); !errors.Is(err, ErrBrokerAlive) {
		t.Fatalf("other epoch: %v", err)
	}
	before := f.current()
	if err := unreg(2, before.Brokers[2].Epoch); err != nil {
		t.Fatal(err)
	}
	st := f.current()
	if _, ok := st.Brokers[2]; ok || len(st.Brokers) != 2 {
		t.Fatalf("brokers after unregister: %v", st.Brokers)
	}
	a0, a1 := st.Topics["a"].Partitions[0], st.Topics["a"].Partitions[1]
	if !slices.Equal(a0.ISR, []int32{1}) || a0.Leader != 1 || a0.PartitionEpoch != before.Topics["a"].Partitions[0].PartitionEpoch+1 {
		t.Fatalf("a-0 (led by 1): %+v", a0)
	}
	old := before.Topics["a"].Partitions[1]
	if !slices.Equal(a1.ISR, []int32{3}) || a1.Leader != -1 || a1.LeaderEpoch != old.LeaderEpoch+1 || !slices.Equal(a1.Replicas, old.Replicas) {
		t.Fatalf("a-1 (led by 2): %+v, was %+v", a1, old)
	}
	if s := st.Topics["solo"].Partitions[0]; !slices.Equal(s.ISR, []int32{2}) || s.Leader != -1 {
		t.Fatalf("solo-0 (only replica 2): %+v", s)
	}
	if st.TopicsByID[topicID(1)] != st.Topics["a"] {
		t.Fatal("topic id index not updated")
	}
	if err := unreg(2, 0); !errors.Is(err, ErrBrokerNotRegistered) {
		t.Fatalf("second unregister: %v", err)
	}
}
