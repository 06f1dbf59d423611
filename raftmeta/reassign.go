package raftmeta

import (
	"context"
	"fmt"
	"slices"
)

// Partition reassignment, Kafka's way (KIP-455, ReplicationControlManager and
// PartitionReassignmentReplicas): a reassignment is state of the partition,
// in the raft log, so a new controller continues it.
//
//   - Start (target T on a partition whose original replicas are O: its
//     replicas, minus any adding ones of a reassignment already running):
//     Replicas = T followed by O−T, AddingReplicas = T−O, RemovingReplicas =
//     O−T. The ISR keeps only members of the new replica list. When nothing
//     is added the reassignment completes in the same command.
//   - The adding replicas follow the leader like any follower; the leader
//     adds them to the ISR when caught up (AlterPartition).
//   - Complete (proposed by the controller once every target replica is in
//     the ISR, conditional on the partition epoch): Replicas = T, ISR = ISR∩T,
//     and if the leader is not in T, leadership moves to the first target
//     replica in the ISR. Brokers no longer listed delete their logs.
//   - Cancel: back to O, with ISR = ISR∩O, leader moved into O if needed.
//
// A change that would leave no in-sync replica is refused
// (ErrInvalidPartitionState): Strom never elects outside the ISR here.

// ReassignOp says what a ReassignPartition command does.
type ReassignOp uint8

// The reassignment operations; persisted in the log, so only add at the end.
const (
	ReassignStart    ReassignOp = iota + 1 // start (or replace) a reassignment to Target
	ReassignCancel                         // revert a running reassignment
	ReassignComplete                       // finish one whose target is in sync
)

// Reassignment asks for one partition's replicas to change.
type Reassignment struct {
	Topic     string
	Partition int32
	Op        ReassignOp
	Target    []int32 // ReassignStart only: the new replicas, preferred leader first
	// PartitionEpoch is checked by ReassignComplete only (the controller's
	// view must be current); starting and cancelling are not conditional,
	// as in Kafka.
	PartitionEpoch int32
}

type reassignPartitionCmd struct {
	R Reassignment `json:"r"`
}

func (c *reassignPartitionCmd) validate() error {
	switch c.R.Op {
	case ReassignStart:
		if len(c.R.Target) == 0 || len(c.R.Target) > maxReplicas {
			return fmt.Errorf("%w: %d target replicas", ErrInvalidReplicaAssignment, len(c.R.Target))
		}
	case ReassignCancel, ReassignComplete:
	default:
		return fmt.Errorf("%w: reassign op %d", ErrCorruptCommand, c.R.Op)
	}
	return nil
}

// maxReplicas bounds a target replica list (Kafka has no explicit bound;
// a replica list longer than this is surely a mistake).
const maxReplicas = 64

func (c *reassignPartitionCmd) apply(s *State) (*State, applyResult) {
	next, p, err := applyReassign(s, c.R)
	return next, applyResult{err: err, partition: p}
}

func applyReassign(s *State, r Reassignment) (*State, Partition, error) {
	t := s.Topics[r.Topic]
	if t == nil {
		return nil, Partition{}, fmt.Errorf("%w: %q", ErrUnknownTopic, r.Topic)
	}
	if r.Partition < 0 || int(r.Partition) >= len(t.Partitions) {
		return nil, Partition{}, fmt.Errorf("%w: %q partition %d", ErrUnknownPartition, r.Topic, r.Partition)
	}
	p := t.Partitions[r.Partition]
	var np Partition
	var err error
	switch r.Op {
	case ReassignStart:
		if err = validateAssignment(s, [][]int32{r.Target}, len(r.Target)); err == nil {
			np, err = startReassignment(p, r.Target)
		}
	case ReassignCancel:
		if len(p.AddingReplicas) == 0 && len(p.RemovingReplicas) == 0 {
			err = fmt.Errorf("%w: %s-%d", ErrNoReassignmentInProgress, r.Topic, r.Partition)
		} else {
			np, err = finishReassignment(p, OriginalReplicas(p))
		}
	case ReassignComplete:
		np, err = completeReassignment(p, r)
	}
	if err != nil {
		return nil, Partition{}, fmt.Errorf("%s-%d: %w", r.Topic, r.Partition, err)
	}
	nt := t.clone()
	nt.Partitions[r.Partition] = np
	next := s.clone()
	next.putTopic(nt)
	return next, np.clone(), nil
}

func completeReassignment(p Partition, r Reassignment) (Partition, error) {
	if r.PartitionEpoch != p.PartitionEpoch {
		return Partition{}, fmt.Errorf("%w: at epoch %d, change based on %d", ErrStalePartitionEpoch, p.PartitionEpoch, r.PartitionEpoch)
	}
	if len(p.AddingReplicas) == 0 && len(p.RemovingReplicas) == 0 {
		return Partition{}, ErrNoReassignmentInProgress
	}
	target := TargetReplicas(p)
	if !ReassignmentReady(p) {
		return Partition{}, fmt.Errorf("%w: target %v, ISR %v", ErrReassignmentNotReady, target, p.ISR)
	}
	return finishReassignment(p, target)
}

// OriginalReplicas is the replica list before the running reassignment (the
// replicas minus the adding ones), or the replicas when none runs.
func OriginalReplicas(p Partition) []int32 {
	return slices.DeleteFunc(slices.Clone(p.Replicas), func(id int32) bool { return slices.Contains(p.AddingReplicas, id) })
}

// TargetReplicas is where the running reassignment goes (the replicas minus
// the removing ones), or the replicas when none runs.
func TargetReplicas(p Partition) []int32 {
	return slices.DeleteFunc(slices.Clone(p.Replicas), func(id int32) bool { return slices.Contains(p.RemovingReplicas, id) })
}

// ReassignmentReady reports whether p has a reassignment running whose
// target replicas are all in the ISR, so the controller can complete it.
func ReassignmentReady(p Partition) bool {
	if len(p.AddingReplicas) == 0 && len(p.RemovingReplicas) == 0 {
		return false
	}
	for _, id := range TargetReplicas(p) {
		if !slices.Contains(p.ISR, id) {
			return false
		}
	}
	return true
}

// startReassignment computes the partition with a reassignment to target
// started (or completed at once when target adds no replica).
func startReassignment(p Partition, target []int32) (Partition, error) {
	orig := OriginalReplicas(p)
	var adding, removing []int32
	for _, id := range target {
		if !slices.Contains(orig, id) {
			adding = append(adding, id)
		}
	}
	for _, id := range orig {
		if !slices.Contains(target, id) {
			removing = append(removing, id)
		}
	}
	if len(adding) == 0 {
		return finishReassignment(p, target)
	}
	merged := append(slices.Clone(target), removing...)
	np, err := withReplicas(p, merged)
	np.AddingReplicas, np.RemovingReplicas = adding, removing
	return np, err
}

// finishReassignment sets the replicas to final with no reassignment left.
func finishReassignment(p Partition, final []int32) (Partition, error) {
	np, err := withReplicas(p, final)
	np.AddingReplicas, np.RemovingReplicas = nil, nil
	return np, err
}

// withReplicas returns p with the given replica list, the ISR cut down to it
// and, if the leader is no longer a replica, leadership given to the first
// replica in the ISR. Both epochs move as in applySetPartitionState.
func withReplicas(p Partition, replicas []int32) (Partition, error) {
	np := p.clone()
	np.Replicas = slices.Clone(replicas)
	np.ISR = slices.DeleteFunc(slices.Clone(p.ISR), func(id int32) bool { return !slices.Contains(replicas, id) })
	if len(np.ISR) == 0 {
		return np, fmt.Errorf("%w: no in-sync replica among %v (ISR %v)", ErrInvalidPartitionState, replicas, p.ISR)
	}
	if p.Leader >= 0 && !slices.Contains(replicas, p.Leader) {
		i := slices.IndexFunc(replicas, func(id int32) bool { return slices.Contains(np.ISR, id) })
		np.Leader = replicas[i]
		np.LeaderEpoch++
	}
	np.PartitionEpoch++
	return np, nil
}

type reassignArgs struct{ R Reassignment }

var fwdReassignPartition = forwardMethod[reassignArgs, Partition]{"ReassignPartition", (*Node).reassignPartitionLocal}

// ReassignPartition starts, cancels or completes a partition reassignment
// and returns the partition as applied. It runs on the controller,
// forwarded there from any node.
func (n *Node) ReassignPartition(ctx context.Context, r Reassignment) (Partition, error) {
	return fwdReassignPartition.call(ctx, n, reassignArgs{R: r})
}

func (n *Node) reassignPartitionLocal(ctx context.Context, a reassignArgs) (Partition, error) {
	if err := n.checkWritable(); err != nil {
		return Partition{}, err
	}
	res, err := n.proposeChecked(ctx, n.fsm.current(), cmdReassignPartition, &reassignPartitionCmd{R: a.R}, false)
	return res.partition, err
}
