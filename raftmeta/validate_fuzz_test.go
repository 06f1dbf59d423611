package raftmeta

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/hashicorp/raft"
)

// FuzzFSMApply applies an arbitrary log entry to baseLog's state. Whatever
// the bytes, the FSM does not panic (nor reach its panic guard), two
// replicas reach the same verdict and state, a refused entry changes
// nothing, and an accepted one leaves a state every reader can trust.
func FuzzFSMApply(f *testing.F) {
	for _, tc := range hostileCommands(f) {
		if len(tc.entry) < 4096 { // big seeds only slow the fuzzer down
			f.Add(tc.entry)
		}
	}
	for _, e := range richLog(f) {
		f.Add(e)
	}
	base := baseLog(f)
	f.Fuzz(func(t *testing.T, entry []byte) {
		var results [2]applyResult
		var states [2][]byte
		for i := range 2 {
			fm, _ := testFSM(t)
			applyLog(t, fm, base)
			before := fm.current()
			results[i] = fm.Apply(&raft.Log{Index: before.Index + 1, Type: raft.LogCommand, Data: entry}).(applyResult)
			if errors.Is(results[i].err, errApplyPanic) {
				t.Fatalf("apply panicked: %v", results[i].err)
			}
			if results[i].err != nil && fm.current() != before {
				t.Fatalf("refused entry changed the state: %v", results[i].err)
			}
			if err := checkStateInvariants(fm.current()); err != nil {
				t.Fatalf("accepted entry broke the state: %v", err)
			}
			states[i] = snapshotBytes(t, fm.current())
		}
		if fmt.Sprint(results[0].err) != fmt.Sprint(results[1].err) || !bytes.Equal(states[0], states[1]) {
			t.Fatalf("replicas disagree: %v / %v", results[0].err, results[1].err)
		}
	})
}

// checkStateInvariants is what the rest of Strom assumes of any published
// state: valid topic names (they become directory names), bounded partition
// counts, replicas that are distinct registered brokers, ISR within the
// replicas, a leader in the ISR or -1, sane broker registrations.
func checkStateInvariants(s *State) error {
	for id, b := range s.Brokers {
		if err := validateBroker(b); err != nil || id != b.ID {
			return fmt.Errorf("broker %d: %v", id, err)
		}
	}
	for name, tp := range s.Topics {
		if err := ValidateTopicName(name); err != nil {
			return err
		}
		if tp.Name != name || s.TopicsByID[tp.ID] != tp || tp.ID == ([16]byte{}) {
			return fmt.Errorf("topic %q: indexes disagree", name)
		}
		if len(tp.Partitions) == 0 || len(tp.Partitions) > maxPartitions {
			return fmt.Errorf("topic %q: %d partitions", name, len(tp.Partitions))
		}
		if err := validateConfigs(tp.Configs); err != nil {
			return err
		}
		for i, p := range tp.Partitions {
			if err := checkPartition(s, tp, i, p); err != nil {
				return err
			}
		}
	}
	if len(s.TopicsByID) != len(s.Topics) {
		return fmt.Errorf("%d topics by name, %d by id", len(s.Topics), len(s.TopicsByID))
	}
	for i, a := range s.ACLs {
		if err := validateACL(a); err != nil || (i > 0 && compareACL(s.ACLs[i-1], a) >= 0) {
			return fmt.Errorf("ACL %d %+v invalid or out of order: %v", i, a, err)
		}
	}
	return nil
}

func checkPartition(s *State, tp *Topic, i int, p Partition) error {
	if int(p.Index) != i || len(p.Replicas) != len(tp.Partitions[0].Replicas) {
		return fmt.Errorf("%s-%d: index %d, replicas %v", tp.Name, i, p.Index, p.Replicas)
	}
	if err := validateAssignment(s, [][]int32{p.Replicas}, len(p.Replicas)); err != nil {
		return err
	}
	for j, id := range p.ISR {
		if !slices.Contains(p.Replicas, id) || slices.Contains(p.ISR[:j], id) {
			return fmt.Errorf("%s-%d: ISR %v, replicas %v", tp.Name, i, p.ISR, p.Replicas)
		}
	}
	if p.Leader != -1 && !slices.Contains(p.ISR, p.Leader) {
		return fmt.Errorf("%s-%d: leader %d outside ISR %v", tp.Name, i, p.Leader, p.ISR)
	}
	return nil
}
