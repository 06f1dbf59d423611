package raftmeta

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/raft"
)

// Arguments of the forwardable writes, as they travel to the controller
// (JSON, Go field names: add fields, never rename; see forward_wire.go).
type (
	registerBrokerArgs struct{ Broker Broker }
	createTopicArgs    struct {
		Spec         TopicSpec
		ValidateOnly bool
	}
	deleteTopicArgs      struct{ Name string }
	createPartitionsArgs struct {
		Name         string
		Total        int32
		Assignment   [][]int32 // nil and empty differ (see CreatePartitions); JSON keeps null apart from []
		ValidateOnly bool
	}
	alterTopicConfigsArgs struct {
		Name string
		Ops  []ConfigOp
	}
	allocateProducerIDsArgs struct{ Count int64 }
	alterPartitionArgs      struct{ Change PartitionChange }
)

// RegisterBroker adds or updates a broker and gives it a new broker epoch
// (b.Epoch is ignored: the controller chooses it, see newBrokerEpoch). It
// runs on the controller, forwarded there from any node (see the package
// doc, Forwarding); when it returns, this node's State() holds the
// registration and its epoch.
func (n *Node) RegisterBroker(ctx context.Context, b Broker) error {
	_, err := fwdRegisterBroker.call(ctx, n, registerBrokerArgs{Broker: b})
	return err
}

func (n *Node) registerBrokerLocal(ctx context.Context, a registerBrokerArgs) (struct{}, error) {
	if err := n.checkWritable(); err != nil {
		return struct{}{}, err
	}
	b := a.Broker
	b.Epoch = newBrokerEpoch()
	_, err := n.proposeChecked(ctx, n.fsm.current(), cmdRegisterBroker, &registerBrokerCmd{Broker: b}, false)
	return struct{}{}, err
}

// newBrokerEpoch draws a broker epoch: 63 random bits from crypto/rand,
// never 0 (which means "none"), so that nobody can guess a broker's
// current epoch from earlier ones. Kafka uses the registration record's
// offset, which is ordered but guessable; Strom only needs it unguessable
// and new, and compares epochs for equality only.
func newBrokerEpoch() int64 {
	var b [8]byte
	for {
		_, _ = crand.Read(b[:]) // never fails (see newTopicID)
		if e := int64(binary.BigEndian.Uint64(b[:]) >> 1); e != 0 {
			return e
		}
	}
}

// CreateTopic creates a topic, assigning replicas over registered brokers and
// electing the first replica of each partition leader with the full ISR.
// With validateOnly it runs every check and returns the topic that would be
// created, but proposes nothing. It runs on the controller, forwarded there
// from any node, so the placement and topic id are decided on the freshest
// state.
func (n *Node) CreateTopic(ctx context.Context, spec TopicSpec, validateOnly bool) (*Topic, error) {
	return fwdCreateTopic.call(ctx, n, createTopicArgs{Spec: spec, ValidateOnly: validateOnly})
}

func (n *Node) createTopicLocal(ctx context.Context, a createTopicArgs) (*Topic, error) {
	if err := n.checkWritable(); err != nil {
		return nil, err
	}
	s := n.fsm.current()
	cmd, err := planTopic(s, a.Spec, randomPlacement)
	if err != nil {
		return nil, err
	}
	res, err := n.proposeChecked(ctx, s, cmdCreateTopic, &cmd, a.ValidateOnly)
	return res.topic, err
}

// planTopic turns a spec into a create command: it validates the spec
// against s, picks a fresh topic id and, unless the spec has an explicit
// assignment, places replicas on the unfenced brokers with placement's random
// start (Kafka's algorithm, see assignReplicas).
func planTopic(s *State, spec TopicSpec, placement func(n int) (start, shift int)) (createTopicCmd, error) {
	cmd := createTopicCmd{Name: spec.Name, Configs: copyConfigs(spec.Configs), Internal: spec.Internal}
	if err := ValidateTopicName(spec.Name); err != nil {
		return cmd, err
	}
	if err := validateConfigs(spec.Configs); err != nil {
		return cmd, err
	}
	if s.Topics[spec.Name] != nil {
		return cmd, fmt.Errorf("%w: %q", ErrTopicExists, spec.Name)
	}
	if len(spec.Assignment) > 0 {
		rf := len(spec.Assignment[0])
		if (spec.Partitions > 0 && int(spec.Partitions) != len(spec.Assignment)) ||
			(spec.ReplicationFactor > 0 && int(spec.ReplicationFactor) != rf) {
			return cmd, fmt.Errorf("%w: assignment has %d partitions of %d replicas, spec says %d of %d",
				ErrInvalidReplicaAssignment, len(spec.Assignment), rf, spec.Partitions, spec.ReplicationFactor)
		}
		if len(spec.Assignment) > maxPartitions {
			return cmd, fmt.Errorf("%w: %d > %d", ErrInvalidPartitions, len(spec.Assignment), maxPartitions)
		}
		if err := validateAssignment(s, spec.Assignment, rf); err != nil {
			return cmd, err
		}
		cmd.Replicas = cloneAssignment(spec.Assignment)
	} else {
		replicas, err := placeReplicas(s, spec.Partitions, int(spec.ReplicationFactor), 0, -1, placement)
		if err != nil {
			return cmd, err
		}
		cmd.Replicas = replicas
	}
	for cmd.ID = newTopicID(); s.TopicsByID[cmd.ID] != nil; cmd.ID = newTopicID() {
	}
	return cmd, nil
}

// placeReplicas assigns count new partitions, numbered from first, with rf
// replicas each over the unfenced brokers. A non-negative startBroker fixes
// Kafka's start index to that broker's position (used when adding partitions,
// to continue the topic's existing pattern); otherwise placement picks it.
func placeReplicas(s *State, count int32, rf int, first int32, startBroker int32,
	placement func(n int) (start, shift int)) ([][]int32, error) {
	if count < 1 || int64(first)+int64(count) > maxPartitions {
		return nil, fmt.Errorf("%w: %d (allowed 1..%d)", ErrInvalidPartitions, int64(first)+int64(count), maxPartitions)
	}
	live := s.liveBrokerIDs()
	if rf < 1 || rf > len(live) {
		return nil, fmt.Errorf("%w: %d, with %d brokers available", ErrInvalidReplicationFactor, rf, len(live))
	}
	start, shift := -1, -1
	if startBroker >= 0 {
		if i := slices.Index(live, startBroker); i >= 0 {
			start, shift = i, i
		}
	}
	if start < 0 {
		start, shift = placement(len(live))
	}
	return assignReplicas(live, count, rf, start, shift, first), nil
}

func cloneAssignment(a [][]int32) [][]int32 {
	out := make([][]int32, len(a))
	for i, r := range a {
		out[i] = slices.Clone(r)
	}
	return out
}

// DeleteTopic removes a topic. It runs on the controller, forwarded there
// from any node.
func (n *Node) DeleteTopic(ctx context.Context, name string) error {
	_, err := fwdDeleteTopic.call(ctx, n, deleteTopicArgs{Name: name})
	return err
}

func (n *Node) deleteTopicLocal(ctx context.Context, a deleteTopicArgs) (struct{}, error) {
	if err := n.checkWritable(); err != nil {
		return struct{}{}, err
	}
	_, err := n.proposeChecked(ctx, n.fsm.current(), cmdDeleteTopic, &deleteTopicCmd{Name: a.Name}, false)
	return struct{}{}, err
}

// CreatePartitions grows a topic to total partitions. assignment, if not nil,
// lists the replicas of the new partitions only (Kafka's semantics); otherwise
// they are placed continuing the topic's existing round-robin pattern. It
// runs on the controller, forwarded there from any node.
func (n *Node) CreatePartitions(ctx context.Context, name string, total int32, assignment [][]int32, validateOnly bool) error {
	_, err := fwdCreatePartitions.call(ctx, n, createPartitionsArgs{
		Name: name, Total: total, Assignment: assignment, ValidateOnly: validateOnly})
	return err
}

func (n *Node) createPartitionsLocal(ctx context.Context, a createPartitionsArgs) (struct{}, error) {
	if err := n.checkWritable(); err != nil {
		return struct{}{}, err
	}
	s := n.fsm.current()
	cmd, err := planPartitions(s, a.Name, a.Total, a.Assignment, randomPlacement)
	if err != nil {
		return struct{}{}, err
	}
	_, err = n.proposeChecked(ctx, s, cmdCreatePartitions, &cmd, a.ValidateOnly)
	return struct{}{}, err
}

func planPartitions(s *State, name string, total int32, assignment [][]int32,
	placement func(n int) (start, shift int)) (createPartitionsCmd, error) {
	cmd := createPartitionsCmd{Name: name, Total: total}
	if err := ValidateTopicName(name); err != nil {
		return cmd, err
	}
	t := s.Topics[name]
	if t == nil {
		return cmd, fmt.Errorf("%w: %q", ErrUnknownTopic, name)
	}
	cur := int32(len(t.Partitions))
	if total <= cur || total > maxPartitions {
		return cmd, fmt.Errorf("%w: %q has %d partitions, requested %d", ErrInvalidPartitions, name, cur, total)
	}
	rf := len(TargetReplicas(t.Partitions[0])) // not counting replicas a reassignment is removing
	if assignment != nil {
		if len(assignment) != int(total-cur) {
			return cmd, fmt.Errorf("%w: %d new partitions but %d assignments",
				ErrInvalidReplicaAssignment, total-cur, len(assignment))
		}
		if err := validateAssignment(s, assignment, rf); err != nil {
			return cmd, err
		}
		cmd.Replicas = cloneAssignment(assignment)
		return cmd, nil
	}
	replicas, err := placeReplicas(s, total-cur, rf, cur, t.Partitions[0].Replicas[0], placement)
	if err != nil {
		return cmd, err
	}
	cmd.Replicas = replicas
	return cmd, nil
}

// AlterTopicConfigs applies set/delete operations to a topic's configs, in
// order. Keys and values are validated by the server. It runs on the
// controller, forwarded there from any node.
func (n *Node) AlterTopicConfigs(ctx context.Context, name string, ops []ConfigOp) error {
	_, err := fwdAlterTopicConfigs.call(ctx, n, alterTopicConfigsArgs{Name: name, Ops: ops})
	return err
}

func (n *Node) alterTopicConfigsLocal(ctx context.Context, a alterTopicConfigsArgs) (struct{}, error) {
	if err := n.checkWritable(); err != nil {
		return struct{}{}, err
	}
	_, err := n.proposeChecked(ctx, n.fsm.current(), cmdAlterTopicConfigs, &alterTopicConfigsCmd{Name: a.Name, Ops: a.Ops}, false)
	return struct{}{}, err
}

// AllocateProducerIDs reserves count consecutive producer ids and returns the
// first. Ids are never handed out twice, across restarts and leader changes.
// It runs on the controller, forwarded there from any node; a call retried
// after a lost connection may have reserved a block that nobody uses, which
// only wastes ids.
func (n *Node) AllocateProducerIDs(ctx context.Context, count int64) (int64, error) {
	return fwdAllocateProducerIDs.call(ctx, n, allocateProducerIDsArgs{Count: count})
}

func (n *Node) allocateProducerIDsLocal(ctx context.Context, a allocateProducerIDsArgs) (int64, error) {
	if err := n.checkWritable(); err != nil {
		return 0, err
	}
	res, err := n.proposeChecked(ctx, n.fsm.current(), cmdAllocateProducerIDs, &allocateProducerIDsCmd{Count: a.Count}, false)
	return res.producerID, err
}

// AlterPartition changes a partition's leader and ISR (ISR shrink/expand
// reported by a partition leader, or a leader election). The leader epoch
// grows when the leader changes; the partition epoch grows on every change.
// It returns the partition as applied. It runs on the controller, forwarded
// there from any node.
func (n *Node) AlterPartition(ctx context.Context, change PartitionChange) (Partition, error) {
	return fwdAlterPartition.call(ctx, n, alterPartitionArgs{Change: change})
}

func (n *Node) alterPartitionLocal(ctx context.Context, a alterPartitionArgs) (Partition, error) {
	if err := n.checkWritable(); err != nil {
		return Partition{}, err
	}
	res, err := n.proposeChecked(ctx, n.fsm.current(), cmdSetPartitionState, &setPartitionStateCmd{Change: a.Change}, false)
	return res.partition, err
}

// checkWritable fails fast on a closed node or one that is not (yet) the
// established controller.
func (n *Node) checkWritable() error {
	if n.isClosed() {
		return ErrClosed
	}
	if !n.IsController() {
		return &NotControllerError{ControllerID: n.ControllerID()}
	}
	return nil
}

// proposeChecked dry-runs the command on s (what the FSM will do, validation
// included, minus races with concurrent proposals, which the FSM re-checks)
// so invalid requests cost no log entry, then proposes it unless
// validateOnly.
func (n *Node) proposeChecked(ctx context.Context, s *State, t cmdType, body command, validateOnly bool) (applyResult, error) {
	data, err := encodeCommand(t, body)
	if err != nil {
		return applyResult{}, err
	}
	if _, res := applyCommand(s, s.Index+1, data); res.err != nil || validateOnly {
		return res, res.err
	}
	return n.proposeData(ctx, data)
}

// propose encodes and proposes a command without a dry run against the
// state, for commands whose outcome the state cannot change much (the
// cluster id, fencing); the FSM checks them all the same. Its stateless
// checks still run first, so a bad command costs no log entry.
func (n *Node) propose(ctx context.Context, t cmdType, body command) (applyResult, error) {
	if err := body.validate(); err != nil {
		return applyResult{}, err
	}
	data, err := encodeCommand(t, body)
	if err != nil {
		return applyResult{}, err
	}
	return n.proposeData(ctx, data)
}

// proposeData appends data to the raft log and waits until it is applied
// here, returning the FSM's result. The ctx deadline bounds both enqueueing
// and waiting; after ctx ends the entry may still be committed and applied.
func (n *Node) proposeData(ctx context.Context, data []byte) (applyResult, error) {
	if err := ctx.Err(); err != nil {
		return applyResult{}, err
	}
	var timeout time.Duration // 0: raft waits to enqueue as long as needed
	if dl, ok := ctx.Deadline(); ok {
		if timeout = time.Until(dl); timeout <= 0 {
			return applyResult{}, context.DeadlineExceeded
		}
	}
	f := n.raft.Apply(data, timeout)
	if err := n.await(ctx, f); err != nil {
		return applyResult{}, err
	}
	n.nudgeFollowers() // tell the other brokers now (nudge.go)
	res, ok := f.Response().(applyResult)
	if !ok {
		return applyResult{}, fmt.Errorf("raftmeta: unexpected apply response %T", f.Response())
	}
	return res, res.err
}

// await waits for a raft future or ctx. raft futures cannot be selected on,
// so a waiter goroutine (tracked in applyWG, drained by Close) blocks on it.
func (n *Node) await(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	n.applyWG.Go(func() { done <- f.Error() })
	n.mu.Unlock()
	select {
	case err := <-done:
		return n.raftError(err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// raftError translates raft's errors into this package's sentinels; losing
// leadership becomes a *NotControllerError naming the new leader if known.
func (n *Node) raftError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return &NotControllerError{ControllerID: n.ControllerID(), Err: err}
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrClosed
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	return fmt.Errorf("raftmeta: %w", err)
}
