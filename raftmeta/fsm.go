package raftmeta

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// applyResult is what fsm.Apply returns through raft's ApplyFuture.Response.
// err carries the FSM's verdict (a sentinel from errors.go, wrapped).
type applyResult struct {
	err        error
	producerID int64     // AllocateProducerIDs: first id of the block
	topic      *Topic    // CreateTopic: the created topic
	partition  Partition // SetPartitionState: the new partition state
	clusterID  string    // SetClusterID: the id in effect afterwards
	acls       []ACL     // DeleteACLs: the ACLs removed
}

// applyCommand is the deterministic heart of the FSM: given the current state
// and one log entry it returns the next state, or nil when the state does not
// change (the command failed or was a no-op). It never mutates s, so the
// leader also uses it to validate a command before proposing it (a dry run).
//
// Everything it needs comes from s, index and data: no clock, no randomness,
// no map iteration order leaks into the result.
func applyCommand(s *State, index uint64, data []byte) (next *State, res applyResult) {
	if len(data) == 0 {
		return nil, applyResult{err: fmt.Errorf("%w: empty entry at index %d", ErrCorruptCommand, index)}
	}
	t, body := cmdType(data[0]), data[1:]
	c := newCommand(t)
	if c == nil {
		return nil, applyResult{err: fmt.Errorf("%w: code %d at index %d", ErrUnknownCommand, uint8(t), index)}
	}
	if err := decodeBody(t, body, c); err != nil {
		return nil, applyResult{err: err}
	}
	if err := c.validate(); err != nil {
		return nil, applyResult{err: err}
	}
	defer func() {
		// A bug, not an input: the checks above should make this
		// unreachable. Every replica fails the same entry the same way (s
		// is never mutated), which beats every replica crashing on it.
		if r := recover(); r != nil {
			next, res = nil, applyResult{err: fmt.Errorf("%w: %w: %v at index %d: %v", ErrCorruptCommand, errApplyPanic, t, index, r)}
		}
	}()
	next, res = c.apply(s)
	if res.err != nil || next == nil {
		return nil, res
	}
	next.Index = index
	return next, res
}

// errApplyPanic marks a command whose apply panicked (see applyCommand).
var errApplyPanic = errors.New("raftmeta: apply panicked")

// apply methods: each command's effect on the state, after validate passed.

func (c *registerBrokerCmd) apply(s *State) (*State, applyResult) {
	next, err := applyRegisterBroker(s, *c)
	return next, applyResult{err: err}
}

func (c *createTopicCmd) apply(s *State) (*State, applyResult) {
	next, t, err := applyCreateTopic(s, *c)
	return next, applyResult{err: err, topic: t}
}

func (c *deleteTopicCmd) apply(s *State) (*State, applyResult) {
	next, err := applyDeleteTopic(s, *c)
	return next, applyResult{err: err}
}

func (c *createPartitionsCmd) apply(s *State) (*State, applyResult) {
	next, t, err := applyCreatePartitions(s, *c)
	return next, applyResult{err: err, topic: t}
}

func (c *alterTopicConfigsCmd) apply(s *State) (*State, applyResult) {
	next, err := applyAlterTopicConfigs(s, *c)
	return next, applyResult{err: err}
}

func (c *allocateProducerIDsCmd) apply(s *State) (*State, applyResult) {
	next, id, err := applyAllocateProducerIDs(s, *c)
	return next, applyResult{err: err, producerID: id}
}

func (c *setPartitionStateCmd) apply(s *State) (*State, applyResult) {
	next, p, err := applySetPartitionState(s, *c)
	return next, applyResult{err: err, partition: p}
}

func (c *setClusterIDCmd) apply(s *State) (*State, applyResult) {
	next, id, err := applySetClusterID(s, *c)
	return next, applyResult{err: err, clusterID: id}
}

func (c *setBrokersFencedCmd) apply(s *State) (*State, applyResult) {
	next, err := applySetBrokersFenced(s, *c)
	return next, applyResult{err: err}
}

func applyRegisterBroker(s *State, c registerBrokerCmd) (*State, error) {
	b := c.Broker
	if b.ID < 0 {
		return nil, fmt.Errorf("%w: id %d", ErrInvalidBroker, b.ID)
	}
	b.Listeners = slices.Clone(b.Listeners)
	next := s.clone()
	next.Brokers[b.ID] = b
	return next, nil
}

// applySetBrokersFenced sets Fenced on the listed brokers. Brokers already in
// the requested state are left alone; if nothing changes the state is not
// republished.
func applySetBrokersFenced(s *State, c setBrokersFencedCmd) (*State, error) {
	for _, ids := range [][]int32{c.Fence, c.Unfence} {
		for _, id := range ids {
			if _, ok := s.Brokers[id]; !ok {
				return nil, fmt.Errorf("%w: broker %d is not registered", ErrInvalidBroker, id)
			}
			if slices.Contains(c.Fence, id) && slices.Contains(c.Unfence, id) {
				return nil, fmt.Errorf("%w: broker %d both fenced and unfenced", ErrInvalidBroker, id)
			}
		}
	}
	var next *State
	set := func(id int32, fenced bool) {
		if b := s.Brokers[id]; b.Fenced != fenced {
			if next == nil {
				next = s.clone()
			}
			b.Fenced = fenced
			next.Brokers[id] = b
		}
	}
	for _, id := range c.Fence {
		set(id, true)
	}
	for _, id := range c.Unfence {
		set(id, false)
	}
	return next, nil
}

func applyCreateTopic(s *State, c createTopicCmd) (*State, *Topic, error) {
	switch {
	case c.Name == "":
		return nil, nil, ErrInvalidTopicName
	case s.Topics[c.Name] != nil:
		return nil, nil, fmt.Errorf("%w: %q", ErrTopicExists, c.Name)
	case c.ID == [16]byte{}:
		return nil, nil, fmt.Errorf("%w: create %q without a topic id", ErrCorruptCommand, c.Name)
	case s.TopicsByID[c.ID] != nil:
		return nil, nil, fmt.Errorf("%w: topic id of %q already in use", ErrTopicExists, c.Name)
	case len(c.Replicas) == 0:
		return nil, nil, fmt.Errorf("%w: %q has no partitions", ErrInvalidPartitions, c.Name)
	case len(c.Replicas[0]) == 0:
		return nil, nil, fmt.Errorf("%w: %q has no replicas", ErrInvalidReplicationFactor, c.Name)
	}
	if err := validateAssignment(s, c.Replicas, len(c.Replicas[0])); err != nil {
		return nil, nil, err
	}
	t := &Topic{
		Name:       c.Name,
		ID:         c.ID,
		Partitions: newPartitions(0, c.Replicas),
		Configs:    copyConfigs(c.Configs),
		Internal:   c.Internal,
	}
	next := s.clone()
	next.putTopic(t)
	return next, t, nil
}

// newPartitions builds fresh partitions numbered from first: the first replica
// leads, every replica is in sync (nothing has been written yet), epochs 0.
func newPartitions(first int32, replicas [][]int32) []Partition {
	ps := make([]Partition, len(replicas))
	for i, r := range replicas {
		ps[i] = Partition{
			Index:    first + int32(i),
			Replicas: slices.Clone(r),
			ISR:      slices.Clone(r),
			Leader:   r[0],
		}
	}
	return ps
}

func applyDeleteTopic(s *State, c deleteTopicCmd) (*State, error) {
	t := s.Topics[c.Name]
	if t == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTopic, c.Name)
	}
	next := s.clone()
	delete(next.Topics, t.Name)
	delete(next.TopicsByID, t.ID)
	return next, nil
}

func applyCreatePartitions(s *State, c createPartitionsCmd) (*State, *Topic, error) {
	t := s.Topics[c.Name]
	if t == nil {
		return nil, nil, fmt.Errorf("%w: %q", ErrUnknownTopic, c.Name)
	}
	cur := int32(len(t.Partitions))
	if c.Total <= cur || int64(cur)+int64(len(c.Replicas)) != int64(c.Total) {
		return nil, nil, fmt.Errorf("%w: %q has %d partitions, cannot grow to %d with %d new",
			ErrInvalidPartitions, c.Name, cur, c.Total, len(c.Replicas))
	}
	if err := validateAssignment(s, c.Replicas, len(t.Partitions[0].Replicas)); err != nil {
		return nil, nil, err
	}
	nt := t.clone()
	nt.Partitions = append(nt.Partitions, newPartitions(cur, c.Replicas)...)
	next := s.clone()
	next.putTopic(nt)
	return next, nt, nil
}

func applyAlterTopicConfigs(s *State, c alterTopicConfigsCmd) (*State, error) {
	t := s.Topics[c.Name]
	if t == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTopic, c.Name)
	}
	nt := t.clone()
	nt.Configs = copyConfigs(applyConfigOps(nt.Configs, c.Ops))
	next := s.clone()
	next.putTopic(nt)
	return next, nil
}

func applyAllocateProducerIDs(s *State, c allocateProducerIDsCmd) (*State, int64, error) {
	if c.Count < 1 || s.NextProducerID > math.MaxInt64-c.Count {
		return nil, 0, fmt.Errorf("%w: %d", ErrInvalidProducerIDCount, c.Count)
	}
	next := s.clone()
	first := next.NextProducerID
	next.NextProducerID += c.Count
	return next, first, nil
}

func applySetPartitionState(s *State, c setPartitionStateCmd) (*State, Partition, error) {
	ch := c.Change
	t := s.Topics[ch.Topic]
	if t == nil {
		return nil, Partition{}, fmt.Errorf("%w: %q", ErrUnknownTopic, ch.Topic)
	}
	if ch.Partition < 0 || int(ch.Partition) >= len(t.Partitions) {
		return nil, Partition{}, fmt.Errorf("%w: %q partition %d", ErrUnknownPartition, ch.Topic, ch.Partition)
	}
	p := t.Partitions[ch.Partition]
	if ch.PartitionEpoch != p.PartitionEpoch {
		return nil, Partition{}, fmt.Errorf("%w: %s-%d at epoch %d, change based on %d",
			ErrStalePartitionEpoch, ch.Topic, ch.Partition, p.PartitionEpoch, ch.PartitionEpoch)
	}
	if err := validatePartitionChange(p, ch); err != nil {
		return nil, Partition{}, err
	}
	np := p.clone()
	np.ISR = slices.Clone(ch.ISR)
	if ch.Leader != p.Leader {
		np.Leader = ch.Leader
		np.LeaderEpoch++
	}
	np.PartitionEpoch++
	nt := t.clone()
	nt.Partitions[ch.Partition] = np
	next := s.clone()
	next.putTopic(nt)
	return next, np.clone(), nil
}

// validatePartitionChange: the ISR is a duplicate-free subset of the replicas
// and a leader (unless -1, offline) is in the ISR; we never elect outside it.
func validatePartitionChange(p Partition, ch PartitionChange) error {
	for i, id := range ch.ISR {
		if !slices.Contains(p.Replicas, id) || slices.Contains(ch.ISR[:i], id) {
			return fmt.Errorf("%w: %s-%d: ISR %v not a subset of replicas %v",
				ErrInvalidPartitionState, ch.Topic, ch.Partition, ch.ISR, p.Replicas)
		}
	}
	if ch.Leader != -1 && !slices.Contains(ch.ISR, ch.Leader) {
		return fmt.Errorf("%w: %s-%d: leader %d not in ISR %v",
			ErrInvalidPartitionState, ch.Topic, ch.Partition, ch.Leader, ch.ISR)
	}
	return nil
}

// applySetClusterID sets the cluster id once; later proposals (a second
// leader racing the first) are no-ops that report the id in effect.
func applySetClusterID(s *State, c setClusterIDCmd) (*State, string, error) {
	if c.ClusterID == "" {
		return nil, "", fmt.Errorf("%w: empty cluster id", ErrCorruptCommand)
	}
	if s.ClusterID != "" {
		return nil, s.ClusterID, nil
	}
	next := s.clone()
	next.ClusterID = c.ClusterID
	return next, c.ClusterID, nil
}

// fsm adapts applyCommand to raft.FSM and publishes each new state.
//
// Concurrency: raft calls Apply, Restore and Snapshot from its single FSM
// goroutine, never concurrently; Persist of a returned snapshot may run while
// Apply continues, which is safe because states are immutable. Readers use
// current() and never block the FSM.
type fsm struct {
	logger   *slog.Logger
	state    atomic.Pointer[State]
	onChange func() // called after every published state, on the FSM goroutine; must not block
}

func newFSM(logger *slog.Logger, onChange func()) *fsm {
	f := &fsm{logger: logger, onChange: onChange}
	f.state.Store(emptyState())
	return f
}

func (f *fsm) current() *State { return f.state.Load() }

// Apply implements raft.FSM. Its return value is an applyResult.
func (f *fsm) Apply(l *raft.Log) any {
	next, res := applyCommand(f.current(), l.Index, l.Data)
	if errors.Is(res.err, ErrUnknownCommand) || errors.Is(res.err, ErrCorruptCommand) {
		// Every replica hits this entry, including ones nobody is waiting on:
		// say so loudly, this binary is older than the log or the log is bad.
		f.logger.Error("raftmeta: cannot apply log entry; upgrade this node", "index", l.Index, "err", res.err)
	}
	if next != nil {
		f.state.Store(next)
		f.onChange()
	}
	return res
}

// Snapshot implements raft.FSM; the current immutable state is the snapshot.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{state: f.current()}, nil
}

// Restore implements raft.FSM, replacing the whole state.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	s, err := decodeSnapshot(rc)
	if err != nil {
		return err
	}
	f.state.Store(s)
	f.onChange()
	return nil
}

type fsmSnapshot struct{ state *State }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := encodeSnapshot(sink, s.state); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}
