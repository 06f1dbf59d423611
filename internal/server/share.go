package server

// The share groups' assembly (KIP-932): membership (share.Groups) on each
// group's coordinator, the share-partitions (share.Manager) on each
// partition's leader, and their state persisted by the share coordinator
// (share.Store) in __share_group_state, created on first use like
// __transaction_state. A share-partition leader reads and writes its state
// through sharePersister: in-process when it also leads the state
// partition of the key, else with ReadShareGroupState and
// WriteShareGroupState to that partition's leader, as Kafka's brokers do.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/reconciler"
	"github.com/strombroker/strom/internal/share"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/replica"
	"github.com/strombroker/strom/storage"
)

// shareDefaults fills the share settings left zero with Kafka's defaults.
func (c *Config) shareDefaults() {
	d := DefaultConfig()
	setDefault(&c.ShareRecordLockDuration, d.ShareRecordLockDuration)
	setDefault(&c.ShareDeliveryCountLimit, d.ShareDeliveryCountLimit)
	setDefault(&c.SharePartitionMaxRecordLocks, d.SharePartitionMaxRecordLocks)
	setDefault(&c.ShareHeartbeatInterval, d.ShareHeartbeatInterval)
	setDefault(&c.ShareSessionTimeout, d.ShareSessionTimeout)
	setDefault(&c.ShareGroupMaxSize, d.ShareGroupMaxSize)
	setDefault(&c.ShareStateTopicPartitions, d.ShareStateTopicPartitions)
	setDefault(&c.ShareStateTopicReplicationFactor, d.ShareStateTopicReplicationFactor)
	setDefault(&c.ShareStateTopicMinISR, d.ShareStateTopicMinISR)
	if c.ShareAutoOffsetReset == "" {
		c.ShareAutoOffsetReset = d.ShareAutoOffsetReset
	}
}

func setDefault[T int | int16 | int32 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// startShare builds the share groups' parts; Close stops the manager.
func (s *Server) startShare() {
	s.cfg.shareDefaults()
	s.shareStore = share.NewStore(share.StoreConfig{
		NumPartitions: s.cfg.ShareStateTopicPartitions,
		Partition:     s.shareStatePartition,
		Logger:        s.logger.With("component", "share-coordinator"),
	})
	s.shareGroups = share.NewGroups(share.GroupsConfig{
		HeartbeatInterval: s.cfg.ShareHeartbeatInterval,
		SessionTimeout:    s.cfg.ShareSessionTimeout,
		MaxSize:           s.cfg.ShareGroupMaxSize,
	})
	s.shares = share.NewManager(share.ManagerConfig{
		LockDuration:   s.cfg.ShareRecordLockDuration,
		DeliveryLimit:  s.cfg.ShareDeliveryCountLimit,
		MaxRecordLocks: s.cfg.SharePartitionMaxRecordLocks,
		Persister:      sharePersister{s},
		Logger:         s.logger.With("component", "share"),
	})
}

// shareStatePartition gives the share coordinator partition idx of
// __share_group_state when this broker leads it.
func (s *Server) shareStatePartition(idx int32) (share.Log, int32, bool) {
	part := s.replicas.Get(share.StateTopic, idx)
	if part == nil || !part.IsLeader() {
		return nil, 0, false
	}
	return shareLog{coordinatorLog{part}}, part.LeaderEpoch(), true
}

// ensureShareStateTopic creates __share_group_state if needed: compacted
// (the latest snapshot of each share-partition is all a coordinator
// replays), replication factor capped at the live brokers.
func (s *Server) ensureShareStateTopic(ctx context.Context) error {
	st := s.meta.State()
	if _, ok := st.Topics[share.StateTopic]; ok {
		return nil
	}
	rf := max(min(int(s.cfg.ShareStateTopicReplicationFactor), liveBrokers(st)), 1)
	_, err := s.meta.CreateTopic(ctx, raftmeta.TopicSpec{
		Name:              share.StateTopic,
		Partitions:        s.cfg.ShareStateTopicPartitions,
		ReplicationFactor: int16(rf),
		Configs: map[string]string{
			"cleanup.policy": "compact", "retention.ms": "-1", "retention.bytes": "-1", "segment.bytes": strconv.Itoa(100 << 20),
			"min.insync.replicas": strconv.Itoa(min(int(s.cfg.ShareStateTopicMinISR), rf)),
		},
		Internal: true,
	}, false)
	if err != nil && !errors.Is(err, raftmeta.ErrTopicExists) {
		return fmt.Errorf("create %s: %w", share.StateTopic, err)
	}
	s.awaitLocal(ctx)
	return nil
}

// shareStateIndex maps a share-partition to its __share_group_state
// partition by the topic's real partition count.
func (s *Server) shareStateIndex(st *raftmeta.State, k share.Key) int32 {
	n := s.cfg.ShareStateTopicPartitions
	if t := st.Topics[share.StateTopic]; t != nil && len(t.Partitions) > 0 {
		n = int32(len(t.Partitions))
	}
	return share.PartitionForKey(share.CoordinatorKey(k, formatTopicID(k.TopicID)), n)
}

// shareLog is a __share_group_state partition for the share coordinator.
type shareLog struct{ coordinatorLog }

func (l shareLog) Append(ctx context.Context, batch []byte) (int64, error) {
	return l.append(ctx, batch, shareLogError)
}

// shareLogError maps a write failure of the share coordinator's log as
// offsetLogError does for groups.
func shareLogError(err error) error {
	switch {
	case errors.Is(err, replica.ErrNotLeader), errors.Is(err, replica.ErrClosed), errors.Is(err, replica.ErrStaleLeaderEpoch),
		errors.Is(err, replica.ErrNotHosted), errors.Is(err, storage.ErrStorage), errors.Is(err, storage.ErrClosed):
		return fmt.Errorf("%w: %w", share.ErrNotCoordinator, err)
	default:
		return fmt.Errorf("%w: %w", share.ErrCoordinatorNotAvailable, err)
	}
}

// sharePersister implements share.Persister for this broker's
// share-partitions.
type sharePersister struct{ s *Server }

// coordinator finds k's state partition and its leader (self: true when
// that is this broker).
func (p sharePersister) coordinator(ctx context.Context, k share.Key) (idx int32, addr string, self bool, err error) {
	s := p.s
	if err := s.ensureShareStateTopic(ctx); err != nil {
		return 0, "", false, fmt.Errorf("%w: %w", share.ErrCoordinatorNotAvailable, err)
	}
	st := s.meta.State()
	idx = s.shareStateIndex(st, k)
	t := st.Topics[share.StateTopic]
	if t == nil || int(idx) >= len(t.Partitions) {
		return idx, "", false, fmt.Errorf("%w: %s not ready", share.ErrCoordinatorNotAvailable, share.StateTopic)
	}
	leader := t.Partitions[idx].Leader
	if leader == s.cfg.NodeID {
		return idx, "", true, nil
	}
	b, ok := st.Brokers[leader]
	if !ok || b.Fenced {
		return idx, "", false, fmt.Errorf("%w: leader %d of %s/%d unavailable", share.ErrCoordinatorNotAvailable, leader, share.StateTopic, idx)
	}
	l := reconciler.InterBrokerListener(b, s.cfg.InterBrokerListenerName)
	return idx, net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port))), false, nil
}

// stateOp runs one share-state operation on k at k's share coordinator:
// local when that is this broker, else build's one-partition request sent
// there. answer reads the error code of the answer's only partition (and
// whatever else the caller keeps from it); ok false when the answer does
// not hold exactly one partition.
func (p sharePersister) stateOp(ctx context.Context, k share.Key, local func(idx int32) error, build func() kmsg.Request, answer func(kmsg.Response) (code int16, ok bool)) error {
	idx, addr, self, err := p.coordinator(ctx, k)
	if err != nil {
		return err
	}
	if self {
		return local(idx)
	}
	req := build()
	name := kmsg.NameForKey(req.Key())
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := p.s.brokerRequest(ctx, addr, req)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", share.ErrCoordinatorNotAvailable, name, err)
	}
	code, ok := answer(resp)
	if !ok {
		return fmt.Errorf("%w: malformed %s answer", share.ErrCoordinatorNotAvailable, name)
	}
	if code != 0 {
		return shareRemoteError(code)
	}
	return nil
}

func (p sharePersister) readOnce(ctx context.Context, k share.Key) (st share.State, found bool, err error) {
	err = p.stateOp(ctx, k, func(idx int32) error {
		var e error
		st, found, e = p.s.shareStore.Read(ctx, idx, k)
		return e
	}, func() kmsg.Request {
		req := kmsg.NewPtrReadShareGroupStateRequest()
		req.GroupID = k.Group
		rt := kmsg.NewReadShareGroupStateRequestTopic()
		rt.TopicID = k.TopicID
		rp := kmsg.NewReadShareGroupStateRequestTopicPartition()
		rp.Partition, rp.LeaderEpoch = k.Partition, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return req
	}, func(resp kmsg.Response) (int16, bool) {
		r := resp.(*kmsg.ReadShareGroupStateResponse)
		if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
			return 0, false
		}
		rpp := r.Topics[0].Partitions[0]
		if rpp.ErrorCode == 0 {
			st = share.State{StateEpoch: rpp.StateEpoch, StartOffset: rpp.StartOffset}
			for _, b := range rpp.StateBatches {
				st.Batches = append(st.Batches, share.StateBatch{First: b.FirstOffset, Last: b.LastOffset, State: share.RecordState(b.DeliveryState), DeliveryCount: b.DeliveryCount})
			}
			found = rpp.StartOffset >= 0
		}
		return rpp.ErrorCode, true
	})
	if err != nil {
		return share.State{}, false, err
	}
	return st, found, nil
}

func (p sharePersister) writeOnce(ctx context.Context, k share.Key, st share.State) error {
	return p.stateOp(ctx, k, func(idx int32) error {
		return p.s.shareStore.Write(ctx, idx, k, st)
	}, func() kmsg.Request {
		req := kmsg.NewPtrWriteShareGroupStateRequest()
		req.GroupID = k.Group
		rt := kmsg.NewWriteShareGroupStateRequestTopic()
		rt.TopicID = k.TopicID
		rp := kmsg.NewWriteShareGroupStateRequestTopicPartition()
		rp.Partition, rp.StateEpoch, rp.LeaderEpoch, rp.StartOffset = k.Partition, st.StateEpoch, st.LeaderEpoch, st.StartOffset
		for _, b := range st.Batches {
			wb := kmsg.NewWriteShareGroupStateRequestTopicPartitionStateBatch()
			wb.FirstOffset, wb.LastOffset, wb.DeliveryState, wb.DeliveryCount = b.First, b.Last, int8(b.State), b.DeliveryCount
			rp.StateBatches = append(rp.StateBatches, wb)
		}
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return req
	}, func(resp kmsg.Response) (int16, bool) {
		r := resp.(*kmsg.WriteShareGroupStateResponse)
		if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
			return 0, false
		}
		return r.Topics[0].Partitions[0].ErrorCode, true
	})
}

// initializeOnce sets k's start offset afresh at its share coordinator,
// locally or with InitializeShareGroupState.
func (p sharePersister) initializeOnce(ctx context.Context, k share.Key, start int64) error {
	return p.stateOp(ctx, k, func(idx int32) error {
		return p.s.shareStore.Initialize(ctx, idx, k, start)
	}, func() kmsg.Request {
		req := kmsg.NewPtrInitializeShareGroupStateRequest()
		req.GroupID = k.Group
		rt := kmsg.NewInitializeShareGroupStateRequestTopic()
		rt.TopicID = k.TopicID
		rp := kmsg.NewInitializeShareGroupStateRequestTopicPartition()
		rp.Partition, rp.StartOffset = k.Partition, start
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return req
	}, func(resp kmsg.Response) (int16, bool) {
		r := resp.(*kmsg.InitializeShareGroupStateResponse)
		if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
			return 0, false
		}
		return r.Topics[0].Partitions[0].ErrorCode, true
	})
}

// deleteOnce forgets k at its share coordinator, locally or with
// DeleteShareGroupState.
func (p sharePersister) deleteOnce(ctx context.Context, k share.Key) error {
	return p.stateOp(ctx, k, func(idx int32) error {
		return p.s.shareStore.Delete(ctx, idx, k)
	}, func() kmsg.Request {
		req := kmsg.NewPtrDeleteShareGroupStateRequest()
		req.GroupID = k.Group
		rt := kmsg.NewDeleteShareGroupStateRequestTopic()
		rt.TopicID = k.TopicID
		rp := kmsg.NewDeleteShareGroupStateRequestTopicPartition()
		rp.Partition = k.Partition
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return req
	}, func(resp kmsg.Response) (int16, bool) {
		r := resp.(*kmsg.DeleteShareGroupStateResponse)
		if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
			return 0, false
		}
		return r.Topics[0].Partitions[0].ErrorCode, true
	})
}

// shareRemoteError turns a share coordinator's error code back into this
// package's contract.
func shareRemoteError(code int16) error {
	ke := kerr.ErrorForCode(code)
	switch code {
	case kerr.NotCoordinator.Code:
		return fmt.Errorf("%w: %w", share.ErrNotCoordinator, ke)
	case kerr.FencedStateEpoch.Code:
		return fmt.Errorf("%w: %w", share.ErrFencedStateEpoch, ke)
	case kerr.FencedLeaderEpoch.Code:
		return fmt.Errorf("%w: %w", share.ErrFencedLeaderEpoch, ke)
	default:
		return fmt.Errorf("%w: %w", share.ErrCoordinatorNotAvailable, ke)
	}
}

// shareErrorCode maps share's errors to Kafka codes (one of
// areaErrorCodes).
func shareErrorCode(err error) (int16, bool) {
	for _, m := range []struct {
		err  error
		code int16
	}{
		{share.ErrInvalidRequest, kerr.InvalidRequest.Code},
		{share.ErrInvalidRecordState, kerr.InvalidRecordState.Code},
		{share.ErrSessionNotFound, kerr.ShareSessionNotFound.Code},
		{share.ErrInvalidSessionEpoch, kerr.InvalidShareSessionEpoch.Code},
		{share.ErrSessionLimit, kerr.ShareSessionLimitReached.Code},
		{share.ErrUnknownMember, kerr.UnknownMemberID.Code},
		{share.ErrFencedMemberEpoch, kerr.FencedMemberEpoch.Code},
		{share.ErrGroupNotFound, kerr.GroupIDNotFound.Code},
		{share.ErrNonEmptyGroup, kerr.NonEmptyGroup.Code},
		{share.ErrGroupMaxSize, kerr.GroupMaxSizeReached.Code},
		{share.ErrNotCoordinator, kerr.NotCoordinator.Code},
		{share.ErrCoordinatorNotAvailable, kerr.CoordinatorNotAvailable.Code},
		{share.ErrFencedStateEpoch, kerr.FencedStateEpoch.Code},
		{share.ErrFencedLeaderEpoch, kerr.FencedLeaderEpoch.Code},
	} {
		if errors.Is(err, m.err) {
			return m.code, true
		}
	}
	return 0, false
}

// The share coordinator of a key may be moving (a new leader of its
// __share_group_state partition, or the topic just created and not yet
// open there): like Kafka's persister, retry NOT_COORDINATOR and
// COORDINATOR_NOT_AVAILABLE with a backoff for a while, honouring ctx.
const (
	sharePersistRetryFor = 5 * time.Second
	sharePersistBackoff  = 50 * time.Millisecond
)

func (p sharePersister) retry(ctx context.Context, op func() error) error {
	deadline := time.Now().Add(sharePersistRetryFor)
	backoff := sharePersistBackoff
	for {
		err := op()
		if err == nil || !(errors.Is(err, share.ErrNotCoordinator) || errors.Is(err, share.ErrCoordinatorNotAvailable)) || time.Now().Add(backoff).After(deadline) {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// Read implements share.Persister.
func (p sharePersister) Read(ctx context.Context, k share.Key) (st share.State, ok bool, err error) {
	err = p.retry(ctx, func() error {
		var e error
		st, ok, e = p.readOnce(ctx, k)
		return e
	})
	return st, ok, err
}

// Write implements share.Persister.
func (p sharePersister) Write(ctx context.Context, k share.Key, st share.State) error {
	return p.retry(ctx, func() error { return p.writeOnce(ctx, k, st) })
}

// Initialize sets k's start offset afresh (AlterShareGroupOffsets).
func (p sharePersister) Initialize(ctx context.Context, k share.Key, start int64) error {
	return p.retry(ctx, func() error { return p.initializeOnce(ctx, k, start) })
}

// Delete forgets k (DeleteShareGroupOffsets, DeleteGroups).
func (p sharePersister) Delete(ctx context.Context, k share.Key) error {
	return p.retry(ctx, func() error { return p.deleteOnce(ctx, k) })
}
