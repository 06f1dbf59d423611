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

	"github.com/strombroker/strom/internal/controller"
	"github.com/strombroker/strom/internal/group"
	"github.com/strombroker/strom/internal/reconciler"
	"github.com/strombroker/strom/internal/sasl"
	"github.com/strombroker/strom/internal/share"
	"github.com/strombroker/strom/internal/txn"
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

	topicInfoCache atomic.Pointer[topicInfoCache] // topicInfos

	throttle replThrottle // reassignment replication throttles (throttle.go)

	produceQuota, fetchQuota, requestQuota quotaSensors // client quota sensors (quota.go)
	connRates                              connRates    // connection creation rates (connquota.go)

	meta     *raftmeta.Node
	dirID    [16]byte // the data directory's id (directoryid.go)
	replicas *replica.Manager
	groups   *group.Coordinator
	txns     *txn.Coordinator
	// Share groups (share.go): membership on group coordinators, the
	// share-partitions of partitions led here, and the share coordinator.
	shareGroups *share.Groups
	shares      *share.Manager
	shareStore  *share.Store
	txnConns    brokerConns            // inter-broker connections of the transaction paths (txn_conns.go)
	ctrl        *controller.Controller // nil for a cluster of one

	listeners []net.Listener
	wires     []*wire.Server
	adv       []Listener // advertised listeners, ports resolved

	rec *reconciler.Reconciler // local replicas follow the applied metadata

	sessions *fetchSessionCache // incremental fetch sessions (KIP-227)
	metrics  *brokerMetrics     // Prometheus series (metrics.go)
	// telemetry is the KIP-714 client instances and pushed metrics (telemetry.go).
	telemetry *telemetry
	authz     *authorizer // nil when authorization is off (authorize.go)

	tls map[string]*tlsSource // certificates of SSL and SASL_SSL listeners, by listener name
	// raftTLS holds the Raft port's certificates (raft.security.protocol=SSL).
	raftTLS *tlsSource

	saslAuth    map[string]*sasl.Authenticator // by listener name, SASL_* listeners only (saslhandshake.go)
	saslReauths atomic.Int64                   // completed KIP-152 re-authentications, for tests and logs

	pids *producerIDs // producer ids from controller-reserved blocks (producerids.go)

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
	s := &Server{
		cfg:       cfg,
		logger:    cfg.Logger,
		sessions:  newFetchSessionCache(cfg.FetchSessionCacheSlots),
		authz:     newAuthorizer(cfg),
		telemetry: newTelemetry(),
		ctx:       ctx,
		cancel:    cancel,
	}
	s.metrics = newBrokerMetrics(s)
	s.pids = newProducerIDs(ctx, func(ctx context.Context, n int64) (int64, error) {
		return s.meta.AllocateProducerIDs(ctx, n)
	})
	var err error
	if s.saslAuth, err = s.buildAuthenticators(); err != nil {
		cancel()
		return nil, err
	}
	return s, nil
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
	if s.dirID, err = loadDirectoryID(s.cfg.DataDir); err != nil { // directoryid.go
		return fmt.Errorf("data dir %s: %w", s.cfg.DataDir, err)
	}
	if err := s.listen(); err != nil {
		return err
	}
	if err := s.startTLS(); err != nil {
		return err
	}
	if s.meta, err = raftmeta.Open(s.metaConfig()); err != nil {
		return fmt.Errorf("start metadata node: %w", err)
	}
	if s.replicas, err = replica.NewManager(s.replicaConfig()); err != nil {
		return err
	}
	if s.cfg.clusterMode() {
		if err := s.startController(ctx); err != nil {
			return fmt.Errorf("start gossip on %s: %w", s.cfg.GossipAddr, err)
		}
	}
	if err := s.meta.WaitController(ctx); err != nil {
		return fmt.Errorf("wait for controller: %w", err)
	}
	if err := s.register(ctx); err != nil {
		return err
	}
	s.pids.prefetch() // the first producer need not wait for the controller
	if err := s.ensureOffsetsTopic(ctx); err != nil {
		return err
	}
	s.groups = group.New(s.groupConfig())
	s.txns = txn.New(s.txnConfig())
	s.startShare()
	if err := s.startReconciler(ctx); err != nil {
		return err
	}
	s.serve()
	s.metrics.setState(brokerRunning)
	return nil
}

// listen binds every listener first, so that port 0 resolves before
// anything is advertised.
func (s *Server) listen() error {
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
	return nil
}

// metaConfig is the metadata node's configuration: a one-voter quorum of
// its own for a single broker, bootstrap-expect voters found by gossip in a
// cluster.
func (s *Server) metaConfig() raftmeta.Config {
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
	mc.ClusterKeys = s.cfg.ClusterKeys
	if s.raftTLS != nil {
		mc.TLS, mc.TLSClient = s.raftTLS.serverConfig(), s.raftTLS.clientConfig
	}
	if s.cfg.FastRaft {
		raftmeta.FastTimers(&mc)
	} else if t := s.cfg.RaftElectionTimeout; t > 0 {
		mc.HeartbeatTimeout, mc.ElectionTimeout, mc.LeaderLeaseTimeout = t, t, t/2
	}
	return mc
}

// replicaConfig configures the hosted replicas; ISR changes go to the
// controller through s (ChangeISR).
func (s *Server) replicaConfig() replica.Config {
	repl := replica.DefaultReplicationConfig()
	repl.ISRChanger = s
	repl.NetDial = s.interBrokerNetDial()
	repl.BrokerEpoch = s.brokerEpoch
	repl.FollowerThrottle = followerThrottle{s} // throttle.go
	if s.cfg.ReplicaLagTimeMax > 0 {
		repl.LagTimeMax = s.cfg.ReplicaLagTimeMax
	}
	if s.cfg.ReplicaFetchWaitMax > 0 {
		repl.FetchMaxWait = s.cfg.ReplicaFetchWaitMax
	}
	s.interBrokerSASL(&repl)
	return replica.Config{
		NodeID:                 s.cfg.NodeID,
		DataDir:                s.cfg.DataDir,
		RetentionCheckInterval: s.cfg.RetentionCheckInterval,
		MaxOpenFiles:           s.cfg.LogMaxOpenFiles,
		Cleaner:                s.cleanerConfig(),
		Logger:                 s.logger.With("component", "replica"),
		Replication:            repl,
	}
}

// brokerEpoch is this broker's epoch in its applied metadata (0 before it
// registered): what its follower fetches carry as ReplicaState.Epoch.
func (s *Server) brokerEpoch() int64 {
	return s.meta.State().Brokers[s.cfg.NodeID].Epoch
}

// groupConfig configures the group coordinator. Groups map to
// __consumer_offsets partitions by the topic's real partition count, fixed
// when the cluster first created it: a broker started with another
// offsets.topic.num.partitions must still find every group where the others
// do.
func (s *Server) groupConfig() group.Config {
	gc := group.DefaultConfig()
	gc.NumPartitions = s.cfg.OffsetsTopicPartitions
	if t := s.meta.State().Topics[offsetsTopic]; t != nil && len(t.Partitions) > 0 {
		gc.NumPartitions = int32(len(t.Partitions))
	}
	gc.InitialRebalanceDelay = s.cfg.GroupInitialRebalanceDelay
	gc.MinSessionTimeout = s.cfg.GroupMinSessionTimeout
	gc.MaxSessionTimeout = s.cfg.GroupMaxSessionTimeout
	gc.MaxSize = s.cfg.GroupMaxSize
	gc.Logger = s.logger.With("component", "group")
	gc.TopicPartitionExists = s.topicPartitionExists
	gc.ConsumerHeartbeatInterval = s.cfg.GroupConsumerHeartbeatInterval
	gc.ConsumerSessionTimeout = s.cfg.GroupConsumerSessionTimeout
	gc.ConsumerMaxSize = s.cfg.GroupConsumerMaxSize
	gc.ConsumerAssignors = s.cfg.GroupConsumerAssignors
	gc.Topics = s.topicInfos
	return gc
}

// startReconciler starts following the metadata with local replicas and
// waits (bounded by ctx) for the first pass, so that clients served next
// find every partition this broker hosts open.
func (s *Server) startReconciler(ctx context.Context) error {
	s.rec = reconciler.New(reconciler.Config{
		NodeID:              s.cfg.NodeID,
		InterBrokerListener: s.cfg.InterBrokerListenerName,
		Settings:            s.settingsFor,
		Logger:              s.logger.With("component", "reconciler"),
	}, s.meta, s.replicas, groupPartitions{s.groups})
	s.rec.Start()
	if err := s.rec.Wait(ctx, s.meta.State().Index); err != nil {
		return fmt.Errorf("open local partitions: %w", err)
	}
	return nil
}

// serve starts answering Kafka clients on every listener and logs where,
// warning when a wildcard bind is advertised under a derived name.
func (s *Server) serve() {
	for i, ln := range s.listeners {
		tlsCfg, certPrincipal := s.listenerTLS(s.cfg.Listeners[i].Name)
		ws := wire.NewServer(wire.Config{
			Handler:             s,
			Versions:            apiVersions(),
			MaxRequestSize:      s.cfg.SocketRequestMaxBytes,
			MaxConnections:      s.cfg.MaxConnections,
			MaxConnectionsPerIP: s.cfg.MaxConnectionsPerIP,
			AcceptQuota:         listenerAcceptQuota{s, s.protectedListener(s.cfg.Listeners[i].Name)},
			ConnectionsMaxIdle:  s.cfg.ConnectionsMaxIdle,
			WriteTimeout:        s.cfg.SocketWriteTimeout,
			ListenerName:        s.cfg.Listeners[i].Name,
			SecurityProtocol:    s.cfg.SecurityProtocol(s.cfg.Listeners[i].Name),
			Logger:              s.logger.With("component", "wire", "listener", s.cfg.Listeners[i].Name),
			TLS:                 tlsCfg,
			PrincipalFromCert:   certPrincipal,
			Observe:             s.metrics.observeRequest,
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
			"listener", l.Name, "protocol", s.cfg.SecurityProtocol(l.Name), "bind", s.listeners[i].Addr().String(), "advertised", s.adv[i].Addr())
		if isUnspecified(l.Host) && !s.hasExplicitAdvertise(l.Name) {
			s.logger.Warn("listening on all interfaces; clients are told to connect to "+s.adv[i].Addr()+
				" — if they cannot reach that address, set --advertise (advertised.listeners, STROM_ADVERTISE) to one they can",
				"listener", l.Name)
		}
	}
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

// register records this broker and its advertised listeners in the metadata,
// with a new broker epoch chosen by the controller; when it returns this
// broker's own State() holds that epoch (brokerEpoch).
func (s *Server) register(ctx context.Context) error {
	b := raftmeta.Broker{ID: s.cfg.NodeID, Rack: s.cfg.Rack, RaftAddr: s.cfg.RaftAddr, DirectoryID: s.dirID}
	for _, l := range s.adv {
		b.Listeners = append(b.Listeners, raftmeta.Listener{Name: l.Name, Host: l.Host, Port: int32(l.Port)})
	}
	// Always, even when nothing changed: every start of the process gets a
	// new broker epoch, which its follower fetches must carry.
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
		if t, ok := st.Topics[offsetsTopic]; ok {
			return s.compactOffsetsTopic(ctx, t) // cleaner.go
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
		Configs:           map[string]string{"cleanup.policy": "compact", "retention.ms": "-1", "retention.bytes": "-1", "segment.bytes": strconv.FormatInt(offsetsSegmentBytes(&s.cfg), 10)},
		Internal:          true,
	}, false)
	if err != nil && !errors.Is(err, raftmeta.ErrTopicExists) {
		return fmt.Errorf("create %s: %w", offsetsTopic, err)
	}
	return nil
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
		s.metrics.isrChanged(p.ISR, newISR)
		s.logger.Info("ISR changed", "topic", topic, "partition", partition, "from", p.ISR, "to", newISR)
	}
	return err
}

// topicInfos is the consumer-group coordinator's view of the topics,
// rebuilt once per metadata state and shared (it is never changed).
func (s *Server) topicInfos() map[string]group.TopicInfo {
	st := s.meta.State()
	if c := s.topicInfoCache.Load(); c != nil && c.state == st {
		return c.topics
	}
	m := make(map[string]group.TopicInfo, len(st.Topics))
	for name, t := range st.Topics {
		m[name] = group.TopicInfo{Name: name, ID: t.ID, Partitions: int32(len(t.Partitions))}
	}
	s.topicInfoCache.Store(&topicInfoCache{state: st, topics: m})
	return m
}

// topicInfoCache is topicInfos' map for one metadata state.
type topicInfoCache struct {
	state  *raftmeta.State
	topics map[string]group.TopicInfo
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
	s.metrics.setState(brokerShuttingDown)
	if s.ctrl != nil {
		s.ctrl.Stopping() // before the steps below, which take longer on some brokers than others
	}
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
	if s.rec != nil {
		s.rec.Close() // waits out a pass and group loads in progress
	}
	if s.shares != nil {
		s.shares.Close()
	}
	if s.txns != nil {
		s.txns.Close()
	}
	s.txnConns.close()
	s.pids.close()
	if s.groups != nil {
		s.groups.Close()
	}
	s.wg.Wait()
	if s.ctrl != nil {
		// Leaves gossip on purpose, so peers do not wait out a failure
		// timeout before moving leadership away.
		errs = append(errs, s.ctrl.Close())
	}
	if s.replicas != nil {
		errs = append(errs, s.replicas.Close())
	}
	if s.meta != nil {
		errs = append(errs, s.meta.Close())
	}
	return errors.Join(errs...)
}

// allocateProducerID hands out a producer id (producerids.go).
func (s *Server) allocateProducerID(ctx context.Context) (int64, error) {
	return s.pids.take(ctx)
}

// requestTimeout bounds a handler's own blocking on behalf of a client.
func requestTimeout(ms int32) time.Duration {
	if ms <= 0 {
		return 30 * time.Second
	}
	return time.Duration(ms) * time.Millisecond
}
