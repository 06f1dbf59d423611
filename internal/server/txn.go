package server

// The transaction coordinator's assembly: __transaction_state (created on
// the first FindCoordinator for a transactional id, as Kafka does), its
// partitions handed to internal/txn as this broker leads them, and the
// marker writer, which appends COMMIT/ABORT markers through each
// partition's leader: in-process when that is this broker, else with
// WriteTxnMarkers over the inter-broker listener.

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
	"github.com/strombroker/strom/internal/txn"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/replica"
	"github.com/strombroker/strom/storage"
	"github.com/strombroker/strom/wire"
)

// txnTopic is Kafka's internal topic for transaction state.
const txnTopic = "__transaction_state"

// txnDefaults fills the transaction settings left zero with Kafka's
// defaults.
func (c *Config) txnDefaults() {
	d := DefaultConfig()
	if c.TransactionStateLogPartitions <= 0 {
		c.TransactionStateLogPartitions = d.TransactionStateLogPartitions
	}
	if c.TransactionStateLogReplicationFactor <= 0 {
		c.TransactionStateLogReplicationFactor = d.TransactionStateLogReplicationFactor
	}
	if c.TransactionStateLogMinISR <= 0 {
		c.TransactionStateLogMinISR = d.TransactionStateLogMinISR
	}
	if c.TransactionMaxTimeout <= 0 {
		c.TransactionMaxTimeout = d.TransactionMaxTimeout
	}
	if c.TransactionAbortInterval <= 0 {
		c.TransactionAbortInterval = d.TransactionAbortInterval
	}
}

// txnConfig configures the transaction coordinator. Like groups, ids map to
// partitions by the topic's real partition count once it exists.
func (s *Server) txnConfig() txn.Config {
	s.cfg.txnDefaults()
	n := s.cfg.TransactionStateLogPartitions
	if t := s.meta.State().Topics[txnTopic]; t != nil && len(t.Partitions) > 0 {
		n = int32(len(t.Partitions))
	}
	return txn.Config{
		NumPartitions:      n,
		MaxTimeout:         s.cfg.TransactionMaxTimeout,
		AbortInterval:      s.cfg.TransactionAbortInterval,
		IDExpiration:       s.cfg.TransactionalIDExpiration,
		Partition:          s.txnPartition,
		AllocateProducerID: s.allocateProducerID,
		OffsetsPartition:   s.groups.PartitionFor,
		Markers:            markerWriter{s},
		Logger:             s.logger.With("component", "txn"),
	}
}

// txnPartition gives the coordinator partition idx of __transaction_state
// when this broker leads it.
func (s *Server) txnPartition(idx int32) (txn.Log, int32, bool) {
	part := s.replicas.Get(txnTopic, idx)
	if part == nil || !part.IsLeader() {
		return nil, 0, false
	}
	return txnLog{coordinatorLog{part}}, part.LeaderEpoch(), true
}

// ensureTxnTopic creates __transaction_state if it does not exist yet,
// compacted (the latest state of each transactional id is all a coordinator
// replays; expired ids leave tombstones), with
// transaction.state.log.replication.factor capped at the live brokers and
// transaction.state.log.min.isr, then waits until this broker's replicas
// reflect it.
func (s *Server) ensureTxnTopic(ctx context.Context) error {
	st := s.meta.State()
	if _, ok := st.Topics[txnTopic]; ok {
		return nil
	}
	rf := max(min(int(s.cfg.TransactionStateLogReplicationFactor), liveBrokers(st)), 1)
	_, err := s.meta.CreateTopic(ctx, raftmeta.TopicSpec{
		Name:              txnTopic,
		Partitions:        s.cfg.TransactionStateLogPartitions,
		ReplicationFactor: int16(rf),
		Configs: map[string]string{
			"cleanup.policy": "compact", "retention.ms": "-1", "retention.bytes": "-1", "segment.bytes": strconv.Itoa(100 << 20),
			"min.insync.replicas": strconv.Itoa(min(int(s.cfg.TransactionStateLogMinISR), rf)),
		},
		Internal: true,
	}, false)
	if err != nil && !errors.Is(err, raftmeta.ErrTopicExists) {
		return fmt.Errorf("create %s: %w", txnTopic, err)
	}
	s.awaitLocal(ctx)
	return nil
}

// txnLog is a __transaction_state partition for the transaction
// coordinator.
type txnLog struct{ coordinatorLog }

func (l txnLog) Append(ctx context.Context, batch []byte) (int64, error) {
	return l.append(ctx, batch, txnLogError)
}

// txnLogError maps a write failure of the coordinator's own log as
// offsetLogError does for groups.
func txnLogError(err error) error {
	switch {
	case errors.Is(err, replica.ErrNotLeader), errors.Is(err, replica.ErrClosed),
		errors.Is(err, replica.ErrNotHosted), errors.Is(err, storage.ErrStorage), errors.Is(err, storage.ErrClosed):
		return fmt.Errorf("%w: %w", txn.ErrNotCoordinator, err)
	default:
		return fmt.Errorf("%w: %w", txn.ErrCoordinatorNotAvailable, err)
	}
}

// AppendTxn implements group.TxnOffsetLog: offsets committed in a
// transaction are the producer's transactional batch.
func (o offsetLog) AppendTxn(ctx context.Context, batch []byte) (int64, error) {
	res, err := o.part.ProduceFromCoordinator(ctx, batch)
	if err != nil {
		return -1, offsetLogError(err)
	}
	return res.BaseOffset, nil
}

// markerWriter implements txn.MarkerWriter.
type markerWriter struct{ s *Server }

// WriteMarkers writes the markers partition by partition, locally or
// through the leader's WriteTxnMarkers, and fails on the first partition
// that could not take one (the coordinator retries them all; a repeated
// marker is harmless).
func (w markerWriter) WriteMarkers(ctx context.Context, pid int64, epoch int16, commit bool, coordinatorEpoch int32, parts []txn.TP) error {
	st := w.s.meta.State()
	remote := map[int32][]txn.TP{}
	for _, tp := range parts {
		t := st.Topics[tp.Topic]
		if t == nil || int(tp.Partition) >= len(t.Partitions) {
			continue // deleted: nothing to mark, as Kafka drops it
		}
		leader := t.Partitions[tp.Partition].Leader
		if leader != w.s.cfg.NodeID {
			remote[leader] = append(remote[leader], tp)
			continue
		}
		if err := w.s.writeLocalMarker(ctx, tp, pid, epoch, commit, coordinatorEpoch); err != nil {
			return err
		}
	}
	for leader, tps := range remote {
		if err := w.s.writeRemoteMarkers(ctx, st, leader, pid, epoch, commit, coordinatorEpoch, tps); err != nil {
			return err
		}
	}
	return nil
}

// writeLocalMarker appends one marker to a partition this broker leads and,
// on __consumer_offsets, applies or drops the transaction's offsets.
func (s *Server) writeLocalMarker(ctx context.Context, tp txn.TP, pid int64, epoch int16, commit bool, coordinatorEpoch int32) error {
	part := s.replicas.Get(tp.Topic, tp.Partition)
	if part == nil {
		return fmt.Errorf("%w: %s/%d not hosted here", replica.ErrNotLeader, tp.Topic, tp.Partition)
	}
	if _, err := part.WriteTxnMarker(ctx, pid, epoch, commit, coordinatorEpoch); err != nil {
		return fmt.Errorf("marker on %s/%d: %w", tp.Topic, tp.Partition, err)
	}
	if tp.Topic == offsetsTopic {
		s.groups.CompleteTxn(tp.Partition, pid, commit)
	}
	return nil
}

// writeRemoteMarkers sends WriteTxnMarkers v1 to broker leader.
func (s *Server) writeRemoteMarkers(ctx context.Context, st *raftmeta.State, leader int32, pid int64, epoch int16, commit bool, coordinatorEpoch int32, tps []txn.TP) error {
	b, ok := st.Brokers[leader]
	if !ok {
		return fmt.Errorf("%w: leader %d of a transaction partition unknown", replica.ErrNotLeader, leader)
	}
	l := reconciler.InterBrokerListener(b, s.cfg.InterBrokerListenerName)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.Version = 1
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch = pid, epoch, commit, coordinatorEpoch
	byTopic := map[string]int{}
	for _, tp := range tps {
		i, ok := byTopic[tp.Topic]
		if !ok {
			i = len(m.Topics)
			byTopic[tp.Topic] = i
			t := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			t.Topic = tp.Topic
			m.Topics = append(m.Topics, t)
		}
		m.Topics[i].Partitions = append(m.Topics[i].Partitions, tp.Partition)
	}
	req.Markers = append(req.Markers, m)
	resp, err := s.brokerRequest(ctx, net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port))), req)
	if err != nil {
		return fmt.Errorf("WriteTxnMarkers to broker %d: %w", leader, err)
	}
	for _, rm := range resp.(*kmsg.WriteTxnMarkersResponse).Markers {
		for _, t := range rm.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					return fmt.Errorf("marker on %s/%d at broker %d: %w", t.Topic, p.Partition, leader, kerr.ErrorForCode(p.ErrorCode))
				}
			}
		}
	}
	return nil
}

// dialBroker opens an inter-broker connection (TLS and SASL as the
// follower fetchers use them).
func (s *Server) dialBroker(ctx context.Context, addr string) (replica.Requester, error) {
	repl := replica.DefaultReplicationConfig()
	repl.NetDial = s.interBrokerNetDial()
	s.interBrokerSASL(&repl)
	if repl.Dialer != nil {
		return repl.Dialer(ctx, addr)
	}
	cl, err := wire.DialWith(ctx, repl.NetDial, addr, fmt.Sprintf("strom-txn-markers-%d", s.cfg.NodeID))
	if err != nil {
		return nil, err
	}
	return cl, nil
}
