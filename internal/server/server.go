package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strombroker/strom/internal/group"
	"github.com/strombroker/strom/internal/membership"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/replica"
	"github.com/strombroker/strom/wire"
)

// offsetsTopic is Kafka's internal topic for committed offsets and group metadata.
const offsetsTopic = "__consumer_offsets"

// Server is one Strom broker: the metadata node, the hosted replicas, the
// group coordinator and the Kafka listeners, wired together.
type Server struct {
	cfg    Config
	logger *slog.Logger

	meta     *raftmeta.Node
	replicas *replica.Manager
	groups   *group.Coordinator
	members  *membership.Membership // nil for a cluster of one

	// gossipedState records that our gossip meta already says we belong to
	// a cluster (raftmeta.Peer.HasState); only the cluster loop touches it.
	gossipedState bool
	lastRejoin    time.Time   // cluster loop only
	rejoining     atomic.Bool // a background gossip rejoin is running
	lastAdvCheck  time.Time   // cluster loop only
	gossipAdv     string      // the gossip address we advertise ("" if fixed by the bind address)

	listeners []net.Listener
	wires     []*wire.Server
	adv       []Listener // advertised listeners, ports resolved

	// reconcileMu serialises reconcile so handlers can run it synchronously
	// after a metadata change.
	reconcileMu  sync.Mutex
	loadedGroups map[int32]bool

	pidMu   sync.Mutex
	pidNext int64
	pidEnd  int64

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New builds a broker from cfg without starting it.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg:          cfg,
		logger:       cfg.Logger,
		loadedGroups: make(map[int32]bool),
		ctx:          ctx,
		cancel:       cancel,
	}, nil
}

// Start opens the data directory, starts the controller, registers this
// broker, loads its partitions and starts serving clients. On error, whatever
// was started is stopped again.
func (s *Server) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := os.MkdirAll(s.cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("create data dir %s: %w", s.cfg.DataDir, err)
	}
	// Listen first so that port 0 resolves before we advertise anything.
	s.adv = s.cfg.advertised()
	for i, l := range s.cfg.Listeners {
		ln, err := net.Listen("tcp", l.Addr())
		if err != nil {
			return fmt.Errorf("listen on %s (listeners): %w", l, err)
		}
		s.listeners = append(s.listeners, ln)
		if s.adv[i].Port == 0 {
			s.adv[i].Port = ln.Addr().(*net.TCPAddr).Port
		}
	}

	mc := raftmeta.DefaultConfig()
	mc.NodeID = s.cfg.NodeID
	mc.DataDir = filepath.Join(s.cfg.DataDir, "meta")
	mc.RaftBind = s.cfg.RaftAddr
	mc.BootstrapSelf = !s.cfg.clusterMode()
	if s.cfg.clusterMode() {
		mc.BootstrapExpect = max(s.cfg.BootstrapExpect, 1)
		if s.cfg.RaftAdvertise != "" {
			mc.RaftAdvertise = s.cfg.RaftAdvertise
		}
	}
	mc.Logger = s.logger.With("component", "raft")
	mc.Dial = s.cfg.Dial
	if s.cfg.FastRaft {
		raftmeta.FastTimers(&mc)
	}
	if s.meta, err = raftmeta.Open(mc); err != nil {
		return fmt.Errorf("start metadata node: %w", err)
	}
	repl := replica.DefaultReplicationConfig()
	repl.ISRChanger = s
	repl.NetDial = s.cfg.Dial
	if s.cfg.ReplicaLagTimeMax > 0 {
		repl.LagTimeMax = s.cfg.ReplicaLagTimeMax
	}
	if s.cfg.ReplicaFetchWaitMax > 0 {
		repl.FetchMaxWait = s.cfg.ReplicaFetchWaitMax
	}
	if s.replicas, err = replica.NewManager(replica.Config{
		NodeID:                 s.cfg.NodeID,
		DataDir:                s.cfg.DataDir,
		RetentionCheckInterval: s.cfg.RetentionCheckInterval,
		Logger:                 s.logger.With("component", "replica"),
		Replication:            repl,
	}); err != nil {
		return err
	}
	gc := group.DefaultConfig()
	gc.NumPartitions = s.cfg.OffsetsTopicPartitions
	gc.InitialRebalanceDelay = s.cfg.GroupInitialRebalanceDelay
	gc.MinSessionTimeout = s.cfg.GroupMinSessionTimeout
	gc.MaxSessionTimeout = s.cfg.GroupMaxSessionTimeout
	gc.Logger = s.logger.With("component", "group")
	gc.TopicPartitionExists = s.topicPartitionExists
	s.groups = group.New(gc)

	if s.cfg.clusterMode() {
		if err := s.startMembership(ctx); err != nil {
			return fmt.Errorf("start gossip on %s: %w", s.cfg.GossipAddr, err)
		}
		s.wg.Add(1)
		go s.clusterLoop()
	}
	if err := s.meta.WaitController(ctx); err != nil {
		return fmt.Errorf("wait for controller: %w", err)
	}
	if err := s.register(ctx); err != nil {
		return err
	}
	if err := s.ensureOffsetsTopic(ctx); err != nil {
		return err
	}
	s.reconcile()
	s.wg.Add(1)
	go s.reconcileLoop()

	for i, ln := range s.listeners {
		ws := wire.NewServer(wire.Config{
			Handler:        s,
			Versions:       apiVersions(),
			MaxRequestSize: s.cfg.SocketRequestMaxBytes,
			ListenerName:   s.cfg.Listeners[i].Name,
			Logger:         s.logger.With("component", "wire", "listener", s.cfg.Listeners[i].Name),
		})
		s.wires = append(s.wires, ws)
		s.wg.Add(1)
		go func(ln net.Listener) {
			defer s.wg.Done()
			if err := ws.Serve(ln); err != nil {
				s.logger.Error("listener stopped", "addr", ln.Addr(), "err", err)
			}
		}(ln)
	}
	for i, l := range s.cfg.Listeners {
		s.logger.Info("listening for Kafka clients",
			"listener", l.Name, "bind", s.listeners[i].Addr().String(), "advertised", s.adv[i].Addr())
		if isUnspecified(l.Host) && !s.hasExplicitAdvertise(l.Name) {
			s.logger.Warn("listening on all interfaces; clients are told to connect to "+s.adv[i].Addr()+
				" — if they cannot reach that address, set --advertise (advertised.listeners, STROM_ADVERTISE) to one they can",
				"listener", l.Name)
		}
	}
	return nil
}

func (s *Server) hasExplicitAdvertise(name string) bool {
	for _, a := range s.cfg.AdvertisedListeners {
		if a.Name == name {
			return true
		}
	}
	return false
}

// Addrs returns the bound address of each listener (useful with port 0).
func (s *Server) Addrs() []string {
	out := make([]string, len(s.listeners))
	for i, ln := range s.listeners {
		out[i] = ln.Addr().String()
	}
	return out
}

// register records this broker and its advertised listeners in the metadata.
func (s *Server) register(ctx context.Context) error {
	b := raftmeta.Broker{ID: s.cfg.NodeID, Rack: s.cfg.Rack, RaftAddr: s.cfg.RaftAddr}
	for _, l := range s.adv {
		b.Listeners = append(b.Listeners, raftmeta.Listener{Name: l.Name, Host: l.Host, Port: int32(l.Port)})
	}
	if cur, ok := s.meta.State().Brokers[b.ID]; ok && slices.Equal(cur.Listeners, b.Listeners) && cur.Rack == b.Rack && cur.RaftAddr == b.RaftAddr && !cur.Fenced {
		return nil
	}
	if err := s.meta.RegisterBroker(ctx, b); err != nil {
		return fmt.Errorf("register broker %d: %w", b.ID, err)
	}
	return nil
}

// ensureOffsetsTopic creates __consumer_offsets on first start. In a cluster
// it first waits (bounded by ctx) for as many brokers as its replication
// factor wants, up to bootstrap-expect, so that committed offsets are
// replicated from the start.
func (s *Server) ensureOffsetsTopic(ctx context.Context) error {
	want := min(int(s.cfg.OffsetsTopicReplicationFactor), max(s.cfg.BootstrapExpect, 1))
	for {
		st := s.meta.State()
		if _, ok := st.Topics[offsetsTopic]; ok {
			return nil
		}
		if liveBrokers(st) >= want {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d brokers to create %s: %w", want, offsetsTopic, ctx.Err())
		case <-s.meta.Changed():
		case <-time.After(200 * time.Millisecond):
		}
	}
	st := s.meta.State()
	rf := min(int(s.cfg.OffsetsTopicReplicationFactor), liveBrokers(st))
	_, err := s.meta.CreateTopic(ctx, raftmeta.TopicSpec{
		Name:              offsetsTopic,
		Partitions:        s.cfg.OffsetsTopicPartitions,
		ReplicationFactor: int16(max(rf, 1)),
		Configs:           map[string]string{"retention.ms": "-1", "retention.bytes": "-1", "segment.bytes": strconv.Itoa(100 << 20)},
		Internal:          true,
	}, false)
	if err != nil && !errors.Is(err, raftmeta.ErrTopicExists) {
		return fmt.Errorf("create %s: %w", offsetsTopic, err)
	}
	return nil
}

func (s *Server) reconcileLoop() {
	defer s.wg.Done()
	for {
		ch := s.meta.Changed()
		s.reconcile()
		select {
		case <-s.ctx.Done():
			return
		case <-ch:
		}
	}
}

// reconcile makes the hosted replicas match the metadata: open what this
// broker should host, set leadership, load group partitions it now leads, and
// drop what was deleted.
func (s *Server) reconcile() {
	s.reconcileMu.Lock()
	defer s.reconcileMu.Unlock()
	if s.ctx.Err() != nil {
		return
	}
	st := s.meta.State()
	self := s.cfg.NodeID
	want := make(map[string]map[int32]bool)
	for name, t := range st.Topics {
		set := s.settingsFor(t)
		for _, p := range t.Partitions {
			if !slices.Contains(p.Replicas, self) {
				continue
			}
			if want[name] == nil {
				want[name] = make(map[int32]bool)
			}
			want[name][p.Index] = true
			part, err := s.replicas.Open(name, p.Index, set)
			if err != nil {
				s.logger.Error("cannot open partition", "topic", name, "partition", p.Index, "err", err)
				continue
			}
			lead := p.Leader == self
			s.syncLeadership(st, name, p, part)
			if name == offsetsTopic {
				s.syncGroupPartition(p.Index, part, lead)
			}
		}
	}
	for _, part := range s.replicas.Partitions() {
		if want[part.Topic][part.Index] {
			continue
		}
		if part.Topic == offsetsTopic {
			s.syncGroupPartition(part.Index, nil, false)
		}
		if err := s.replicas.Remove(part.Topic, part.Index); err != nil {
			s.logger.Error("cannot remove partition", "topic", part.Topic, "partition", part.Index, "err", err)
		}
	}
}

// syncLeadership makes a hosted replica lead, follow the elected leader, or
// wait (offline partition) as the metadata says.
func (s *Server) syncLeadership(st *raftmeta.State, topic string, p raftmeta.Partition, part *replica.Partition) {
	var err error
	switch {
	case p.Leader == s.cfg.NodeID:
		err = s.replicas.BecomeLeader(topic, p.Index, p.LeaderEpoch, p.ISR)
	case p.Leader >= 0:
		b, ok := st.Brokers[p.Leader]
		if !ok {
			err = fmt.Errorf("leader %d is not a registered broker", p.Leader)
			break
		}
		l := interBrokerListener(b, s.cfg.InterBrokerListenerName)
		err = s.replicas.BecomeFollower(topic, p.Index, p.Leader, net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port))), p.LeaderEpoch)
	default:
		s.replicas.StopFollowing(topic, p.Index)
		part.BecomeFollower(p.LeaderEpoch)
	}
	if err != nil && !errors.Is(err, replica.ErrStaleLeaderEpoch) {
		s.logger.Warn("cannot apply partition leadership", "topic", topic, "partition", p.Index, "leader", p.Leader, "epoch", p.LeaderEpoch, "err", err)
	}
}

// interBrokerListener is the endpoint brokers use to reach each other: the
// named inter-broker listener, else the broker's first listener.
func interBrokerListener(b raftmeta.Broker, name string) raftmeta.Listener {
	for _, l := range b.Listeners {
		if l.Name == name {
			return l
		}
	}
	if len(b.Listeners) > 0 {
		return b.Listeners[0]
	}
	return raftmeta.Listener{}
}

// ChangeISR implements replica.ISRChanger: the leader's proposal goes to
// the controller as an AlterPartition, which checks it against the current
// leader epoch and partition epoch.
func (s *Server) ChangeISR(ctx context.Context, topic string, partition int32, leaderEpoch int32, newISR []int32) error {
	t := s.meta.State().Topics[topic]
	if t == nil || int(partition) >= len(t.Partitions) {
		return fmt.Errorf("%w: %s/%d", errUnknownTopic, topic, partition)
	}
	p := t.Partitions[partition]
	if p.Leader != s.cfg.NodeID || p.LeaderEpoch != leaderEpoch {
		return fmt.Errorf("%w: no longer leader of %s/%d at epoch %d", replica.ErrNotLeader, topic, partition, leaderEpoch)
	}
	for _, id := range newISR {
		if !slices.Contains(p.Replicas, id) {
			return fmt.Errorf("%w: broker %d is not a replica of %s/%d", errInvalidRequest, id, topic, partition)
		}
	}
	_, err := s.meta.AlterPartition(ctx, raftmeta.PartitionChange{
		Topic: topic, Partition: partition, Leader: p.Leader, ISR: newISR, PartitionEpoch: p.PartitionEpoch,
	})
	if err == nil {
		s.logger.Info("ISR changed", "topic", topic, "partition", partition, "from", p.ISR, "to", newISR)
	}
	return err
}

// syncGroupPartition loads or unloads one __consumer_offsets partition into
// the group coordinator as its leadership changes.
func (s *Server) syncGroupPartition(idx int32, part *replica.Partition, lead bool) {
	switch {
	case lead && !s.loadedGroups[idx]:
		if err := s.groups.LoadPartition(s.ctx, idx, offsetLog{part}); err != nil {
			s.logger.Error("cannot load group partition", "partition", idx, "err", err)
			return
		}
		s.loadedGroups[idx] = true
	case !lead && s.loadedGroups[idx]:
		s.groups.UnloadPartition(idx)
		delete(s.loadedGroups, idx)
	}
}

func (s *Server) topicPartitionExists(topic string, partition int32) bool {
	t, ok := s.meta.State().Topics[topic]
	return ok && partition >= 0 && int(partition) < len(t.Partitions)
}

// Close stops listeners, the coordinator, replicas (flushing logs) and Raft.
// It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Server) close() error {
	s.cancel()
	var errs []error
	for _, w := range s.wires {
		errs = append(errs, w.Close())
	}
	if len(s.wires) == 0 {
		for _, ln := range s.listeners {
			ln.Close()
		}
	}
	// Taking the lock waits out a reconcile in progress.
	s.reconcileMu.Lock()
	s.reconcileMu.Unlock()
	if s.groups != nil {
		s.groups.Close()
	}
	s.wg.Wait()
	if s.members != nil {
		// Tell peers we are leaving on purpose, so they do not wait out a
		// failure timeout before moving leadership away.
		if err := s.members.Leave(2 * time.Second); err != nil {
			s.logger.Debug("gossip leave", "err", err)
		}
		errs = append(errs, s.members.Shutdown())
	}
	if s.replicas != nil {
		errs = append(errs, s.replicas.Close())
	}
	if s.meta != nil {
		errs = append(errs, s.meta.Close())
	}
	return errors.Join(errs...)
}

// allocateProducerID hands out producer ids from blocks reserved through the
// controller, so ids stay unique across restarts and brokers.
func (s *Server) allocateProducerID(ctx context.Context) (int64, error) {
	s.pidMu.Lock()
	defer s.pidMu.Unlock()
	if s.pidNext >= s.pidEnd {
		const block = 1000
		first, err := s.meta.AllocateProducerIDs(ctx, block)
		if err != nil {
			return -1, err
		}
		s.pidNext, s.pidEnd = first, first+block
	}
	id := s.pidNext
	s.pidNext++
	return id, nil
}

// requestTimeout bounds a handler's own blocking on behalf of a client.
func requestTimeout(ms int32) time.Duration {
	if ms <= 0 {
		return 30 * time.Second
	}
	return time.Duration(ms) * time.Millisecond
}
