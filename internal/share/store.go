package share

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"
	"unicode/utf16"
)

// Log is one __share_group_state partition as the share coordinator sees
// it; the server implements it on a replica partition with the contract of
// txn.Log: Append is acks=all and returns an error wrapping
// ErrNotCoordinator when leadership was lost (ErrCoordinatorNotAvailable
// for retriable failures); Read and the offsets reach the log end. Safe
// for concurrent use.
type Log interface {
	Append(ctx context.Context, batch []byte) (int64, error)
	Read(offset int64, maxBytes int) ([]byte, error)
	LogStartOffset() int64
	LogEndOffset() int64
}

// StoreConfig configures a Store.
type StoreConfig struct {
	// NumPartitions is __share_group_state's partition count.
	NumPartitions int32
	// Partition returns the log of partition idx and its leader epoch when
	// this broker leads it (ok false otherwise). Must not block.
	Partition func(idx int32) (log Log, leaderEpoch int32, ok bool)
	Logger    *slog.Logger
}

// Store is the share coordinator (Kafka's ShareCoordinatorService): the
// persisted state of every share-partition whose key hashes to a
// __share_group_state partition this broker leads. Each key's state is
// written as a full ShareSnapshot record (acks=all) before a write returns,
// so a new leader of the state partition replays it. A partition is
// (re)loaded on first use at each leader epoch, so a leader change never
// serves a state older than the log.
//
// Concurrency: safe for concurrent use. Operations on one state partition
// are serialised by its mutex (held across the append and a load), which
// also orders the log; Store.mu guards only the partition map and is never
// held while taking a statePartition.mu.
type Store struct {
	cfg StoreConfig
	log *slog.Logger

	mu    sync.Mutex
	parts map[int32]*statePartition
}

type statePartition struct {
	mu     sync.Mutex
	epoch  int32 // leader epoch at load; -1: not loaded
	log    Log
	states map[Key]State
	writes int32 // snapshot epoch counter (diagnostic, as Kafka's)
}

// NewStore returns a share coordinator.
func NewStore(cfg StoreConfig) *Store {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Store{cfg: cfg, log: cfg.Logger, parts: make(map[int32]*statePartition)}
}

// CoordinatorKey is the FindCoordinator key (type 2) of a share-partition,
// "group:topicId:partition" as Kafka's SharePartitionKey renders it.
func CoordinatorKey(k Key, topicID string) string {
	return k.Group + ":" + topicID + ":" + strconv.Itoa(int(k.Partition))
}

// PartitionForKey maps a coordinator key to its __share_group_state
// partition: abs(Java String.hashCode) % partitions, as Kafka does.
func PartitionForKey(key string, partitions int32) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(key)) {
		h = 31*h + int32(u)
	}
	if h == math.MinInt32 {
		h = 0
	}
	if h < 0 {
		h = -h
	}
	return h % max(partitions, 1)
}

// partition returns state partition idx loaded at the current leader
// epoch, locked; the caller unlocks it.
func (s *Store) partition(ctx context.Context, idx int32) (*statePartition, error) {
	log, epoch, ok := s.cfg.Partition(idx)
	if !ok {
		return nil, fmt.Errorf("%w: %s partition %d is not led here", ErrNotCoordinator, StateTopic, idx)
	}
	s.mu.Lock()
	p := s.parts[idx]
	if p == nil {
		p = &statePartition{epoch: -1}
		s.parts[idx] = p
	}
	s.mu.Unlock()
	p.mu.Lock()
	if p.epoch == epoch && p.log == log {
		return p, nil
	}
	states, err := replay(ctx, log)
	if err != nil {
		p.mu.Unlock()
		return nil, fmt.Errorf("%w: load %s partition %d: %w", ErrCoordinatorNotAvailable, StateTopic, idx, err)
	}
	p.epoch, p.log, p.states = epoch, log, states
	s.log.Info("loaded share-state partition", "partition", idx, "leader_epoch", epoch, "keys", len(states))
	return p, nil
}

// Read returns the state of idx's key k (ok false: never initialised).
func (s *Store) Read(ctx context.Context, idx int32, k Key) (State, bool, error) {
	p, err := s.partition(ctx, idx)
	if err != nil {
		return State{}, false, err
	}
	defer p.mu.Unlock()
	st, ok := p.states[k]
	return st, ok, nil
}

// Write persists a share-partition leader's state. It is fenced when the
// state epoch is older than the stored one (the offsets were altered or
// deleted meanwhile) or the leader epoch is older (a superseded leader).
func (s *Store) Write(ctx context.Context, idx int32, k Key, st State) error {
	p, err := s.partition(ctx, idx)
	if err != nil {
		return err
	}
	defer p.mu.Unlock()
	if cur, ok := p.states[k]; ok {
		switch {
		case st.StateEpoch < cur.StateEpoch:
			return fmt.Errorf("%w: state epoch %d < %d", ErrFencedStateEpoch, st.StateEpoch, cur.StateEpoch)
		case st.LeaderEpoch < cur.LeaderEpoch:
			return fmt.Errorf("%w: leader epoch %d < %d", ErrFencedLeaderEpoch, st.LeaderEpoch, cur.LeaderEpoch)
		}
	}
	return p.put(ctx, k, &st)
}

// Initialize sets a share-partition's start offset afresh with a new state
// epoch (AlterShareGroupOffsets), forgetting its in-flight records; the
// leader's next write is fenced and it reloads.
func (s *Store) Initialize(ctx context.Context, idx int32, k Key, startOffset int64) error {
	p, err := s.partition(ctx, idx)
	if err != nil {
		return err
	}
	defer p.mu.Unlock()
	cur := p.states[k]
	st := State{StateEpoch: cur.StateEpoch + 1, LeaderEpoch: cur.LeaderEpoch, StartOffset: startOffset}
	return p.put(ctx, k, &st)
}

// Delete forgets a share-partition (DeleteShareGroupOffsets, DeleteGroups).
func (s *Store) Delete(ctx context.Context, idx int32, k Key) error {
	p, err := s.partition(ctx, idx)
	if err != nil {
		return err
	}
	defer p.mu.Unlock()
	if _, ok := p.states[k]; !ok {
		return nil
	}
	return p.put(ctx, k, nil)
}

// put appends k's new state (nil: a tombstone) and applies it once the
// append is committed. Called with p.mu held.
func (p *statePartition) put(ctx context.Context, k Key, st *State) error {
	var value []byte
	if st != nil {
		p.writes++
		sortBatches(st.Batches)
		value = encodeValue(*st, p.writes)
	}
	if _, err := p.log.Append(ctx, recordBatch(encodeKey(k), value, time.Now().UnixMilli())); err != nil {
		return err
	}
	if st == nil {
		delete(p.states, k)
	} else {
		p.states[k] = *st
	}
	return nil
}

func sortBatches(b []StateBatch) {
	sort.Slice(b, func(i, j int) bool { return b[i].First < b[j].First })
}

// StateTopic is Kafka's internal topic of share-partition state.
const StateTopic = "__share_group_state"
