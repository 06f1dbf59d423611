package raftmeta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

const (
	// retainSnapshots is how many FSM snapshots raft keeps on disk.
	retainSnapshots = 2
	// transportTimeout bounds one raft RPC's I/O.
	transportTimeout = 10 * time.Second
	// barrierTimeout bounds how long establishing leadership waits to enqueue
	// the barrier; the leader loop retries after it.
	barrierTimeout = 5 * time.Second
	// retryBackoff spaces retries of the leader loop's own proposals.
	retryBackoff = 100 * time.Millisecond
	// controllerRefresh bounds how stale State().ControllerID can be when
	// raft's leader observations were missed (see monitor).
	controllerRefresh = time.Second
	// applyDrainTimeout bounds how long Close waits for apply waiters that raft
	// has not answered (see Close).
	applyDrainTimeout = 5 * time.Second
)

// nodeIDKey is our own key in raft's stable store: the node id this data
// directory belongs to. Opening it as another id would join the cluster under
// a wrong identity, so Open refuses.
var nodeIDKey = []byte("strom.node_id")

// Node is a metadata node: a Raft member with the FSM. With one voter it is
// always the controller; with several, the raft leader is.
//
// All methods are safe for concurrent use. Reads (State, Changed,
// IsController) never block on raft. Writes run on the controller (forwarded
// there from other nodes, see the package doc) and block until the command
// is applied on this node or ctx ends; when ctx ends first the command may
// still be applied later.
//
// Lock order: bootMu, then reconSem, then membersMu, then mu, then pubMu.
// bootMu and reconSem are held while waiting on raft (they only serialise
// TryBootstrap and reconciliation runs); membersMu, mu and pubMu never are.
// forwarder.mu and tcpStream.mu are leaves, never held across I/O.
type Node struct {
	cfg    Config
	logger *slog.Logger
	id     raft.ServerID
	addr   raft.ServerAddress // advertised raft address

	fsm      *fsm
	raft     *raft.Raft
	stores   *raftStores
	notifyCh chan bool             // raft.Config.NotifyCh: our own leadership
	obsCh    chan raft.Observation // leader changes seen by any member
	observer *raft.Observer

	// controllerID is the raft leader's node id, -1 if unknown. It is not FSM
	// state: publish overlays it on the FSM's state.
	controllerID atomic.Int32
	// established is true while this node leads and has finished establishing
	// its term (barrier applied, cluster id set); only then may it write.
	established atomic.Bool

	pubMu     sync.Mutex
	published atomic.Pointer[State]
	changed   chan struct{} // guarded by pubMu; closed and replaced by publish

	// bootMu serialises TryBootstrap calls.
	bootMu sync.Mutex
	// reconSem (capacity 1) serialises membership reconciliation runs
	// (ReconcileMembers and the leader loop's periodic run); a channel, not a
	// mutex, so that a run waiting for another gives up when its ctx ends
	// (the leader loop must not outlive its term).
	reconSem  chan struct{}
	membersMu sync.Mutex
	members   membersState // guarded by membersMu

	// fwd is the client side of write forwarding (forward.go); the raft
	// transport's stream serves the other side.
	fwd *forwarder
	// baseCtx is the parent of forwarded requests served here; Close
	// cancels it so they end before the transport waits for them.
	baseCtx    context.Context
	cancelBase context.CancelFunc

	mu         sync.Mutex
	closed     bool           // guarded by mu
	shutdownCh chan struct{}  // closed by Close
	wg         sync.WaitGroup // the monitor goroutine (which owns the leader loop) and the nudger
	nudgeCh    chan struct{}  // capacity 1: a barrier is wanted (nudge.go)
	applyWG    sync.WaitGroup // apply waiters, see await; Add only under mu while !closed
}

// Open starts the node: raft-boltdb log and stable store in DataDir/raft,
// file snapshots beside it, a TCP transport on RaftBind, and the FSM. A node
// without raft state and with BootstrapSelf bootstraps a one-voter cluster of
// itself; a node with state never bootstraps again.
func Open(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RaftBind == "" {
		cfg.RaftBind = defaultRaftBind
	}
	if cfg.SnapshotThreshold == 0 {
		cfg.SnapshotThreshold = DefaultConfig().SnapshotThreshold
	}
	if cfg.DeadVoterTimeout == 0 {
		cfg.DeadVoterTimeout = defaultDeadVoterTimeout
	}
	if cfg.ReconcileInterval == 0 {
		cfg.ReconcileInterval = defaultReconcileInterval
	}
	n := &Node{
		cfg:        cfg,
		logger:     cfg.Logger.With("node", cfg.NodeID),
		id:         serverID(cfg.NodeID),
		notifyCh:   make(chan bool, 8),
		obsCh:      make(chan raft.Observation, 16),
		changed:    make(chan struct{}),
		shutdownCh: make(chan struct{}),
		nudgeCh:    make(chan struct{}, 1),
		members:    membersState{goneSince: map[int32]time.Time{}},
		reconSem:   make(chan struct{}, 1),
		// Raft RPCs dial like forwarded writes: authenticated (auth.go).
		fwd: newForwarder(authDialer(tlsDialer(orNetDialer(cfg.Dial), cfg.TLSClient), cfg.ClusterKeys)),
	}
	n.baseCtx, n.cancelBase = context.WithCancel(context.Background())
	n.controllerID.Store(-1)
	n.fsm = newFSM(n.logger, n.publish)
	n.publish()

	if err := n.openRaft(); err != nil {
		n.cancelBase()
		return nil, err
	}
	if n.stores.stream != nil {
		n.stores.stream.setForwardHandler(n.serveForward)
	}
	n.observer = raft.NewObserver(n.obsCh, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	n.raft.RegisterObserver(n.observer)
	n.wg.Go(n.monitor)
	n.wg.Go(n.nudger)
	n.kickSoloElection()
	return n, nil
}

// openRaft opens the stores and transport and starts raft, cleaning up
// whatever it opened if a later step fails.
func (n *Node) openRaft() (err error) {
	hlog := newHCLogAdapter(n.logger, "raft")
	var stores *raftStores
	if n.cfg.InMemory {
		stores = openInMemory(n.id)
	} else if stores, err = n.openOnDisk(hlog); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			stores.close()
		}
	}()

	rc := n.raftConfig(hlog)
	has, err := raft.HasExistingState(stores.log, stores.stable, stores.snaps)
	if err != nil {
		return fmt.Errorf("raftmeta: inspect raft state: %w", err)
	}
	trans := stores.trans
	if !has && n.cfg.BootstrapSelf && n.cfg.BootstrapExpect <= 1 {
		n.logger.Info("raftmeta: bootstrapping a new one-voter cluster", "raft_addr", trans.LocalAddr())
		err := raft.BootstrapCluster(rc, stores.log, stores.stable, stores.snaps, trans, raft.Configuration{
			Servers: []raft.Server{{Suffrage: raft.Voter, ID: n.id, Address: trans.LocalAddr()}},
		})
		if err != nil {
			return fmt.Errorf("raftmeta: bootstrap: %w", err)
		}
	}
	r, err := raft.NewRaft(rc, n.fsm, stores.log, stores.stable, stores.snaps, trans)
	if err != nil {
		return fmt.Errorf("raftmeta: start raft: %w", err)
	}
	n.raft, n.stores, n.addr = r, stores, trans.LocalAddr()
	return nil
}

// raftStores is what raft runs on: the log and stable store, snapshots and
// the transport, on disk and TCP or all in memory (Config.InMemory).
type raftStores struct {
	log    raft.LogStore
	stable raft.StableStore
	snaps  raft.SnapshotStore
	trans  raft.Transport
	// stream is the TCP stream layer shared with forwarding; nil in memory.
	stream *tcpStream
	// inmem is the in-memory transport (for ConnectInMemory); nil on disk.
	inmem *raft.InmemTransport
	// closeStore closes the log and stable store; raft closes the
	// transport when it shuts down.
	closeStore func() error
}

// close releases the stores and the transport of a node that failed to
// start (a started node's transport is closed by raft's Shutdown).
func (s *raftStores) close() {
	if c, ok := s.trans.(io.Closer); ok {
		c.Close()
	}
	s.closeStore()
}

// openInMemory builds Config.InMemory's stores; nothing can fail.
func openInMemory(id raft.ServerID) *raftStores {
	store := raft.NewInmemStore()
	_, trans := raft.NewInmemTransport(raft.ServerAddress("inmem-" + string(id)))
	return &raftStores{
		log: store, stable: store, snaps: raft.NewInmemSnapshotStore(),
		trans: trans, inmem: trans, closeStore: func() error { return nil },
	}
}

// openOnDisk opens raft-boltdb in DataDir/raft, file snapshots beside it
// and the TCP transport on RaftBind.
func (n *Node) openOnDisk(hlog *hclogAdapter) (_ *raftStores, err error) {
	dir := filepath.Join(n.cfg.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("raftmeta: %w", err)
	}
	store, err := raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(dir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: time.Second}, // fail, don't hang, if another process holds it
	})
	if err != nil {
		return nil, fmt.Errorf("raftmeta: open raft store: %w", err)
	}
	defer func() {
		if err != nil {
			store.Close()
		}
	}()
	if err := n.checkNodeID(store); err != nil {
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, retainSnapshots, hlog.Named("snapshot"))
	if err != nil {
		return nil, fmt.Errorf("raftmeta: open snapshot store: %w", err)
	}
	stream, err := listenRaft(n.cfg.RaftBind, n.cfg.RaftAdvertise, n.fwd.dial, n.cfg.ClusterKeys, n.cfg.TLS)
	if err != nil {
		return nil, err
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: 3,
		Timeout: transportTimeout,
		Logger:  hlog.Named("net"),
	})
	return &raftStores{
		log: store, stable: store, snaps: snaps, trans: trans, stream: stream, closeStore: store.Close,
	}, nil
}

// ConnectInMemory links the in-memory transports of nodes opened with
// Config.InMemory, both ways between every pair, so they can form one raft
// cluster. It panics on a node that is not in memory: a test bug.
func ConnectInMemory(nodes ...*Node) {
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b {
				a.stores.inmem.Connect(b.addr, b.stores.inmem)
			}
		}
	}
}

// DisconnectInMemory cuts node's in-memory transport from every other node
// and theirs from it (a crashed or partitioned node, for tests).
func DisconnectInMemory(node *Node, others ...*Node) {
	node.stores.inmem.DisconnectAll()
	for _, o := range others {
		if o != node {
			o.stores.inmem.Disconnect(node.addr)
		}
	}
}

func (n *Node) raftConfig(hlog *hclogAdapter) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = n.id
	rc.HeartbeatTimeout = n.cfg.HeartbeatTimeout
	rc.ElectionTimeout = n.cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = n.cfg.LeaderLeaseTimeout
	rc.CommitTimeout = n.cfg.CommitTimeout
	rc.SnapshotThreshold = n.cfg.SnapshotThreshold
	rc.NotifyCh = n.notifyCh
	rc.Logger = hlog
	return rc
}

// checkNodeID records the node id in a fresh store and refuses a store that
// belongs to another id.
func (n *Node) checkNodeID(store *raftboltdb.BoltStore) error {
	v, err := store.Get(nodeIDKey)
	switch {
	case errors.Is(err, raftboltdb.ErrKeyNotFound):
		if err := store.Set(nodeIDKey, []byte(n.id)); err != nil {
			return fmt.Errorf("raftmeta: record node id: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("raftmeta: read node id: %w", err)
	case string(v) != string(n.id):
		return fmt.Errorf("%w: %s belongs to node %s, not %s", ErrInvalidConfig, n.cfg.DataDir, v, n.id)
	}
	return nil
}

// kickSoloElection starts the first election now instead of after a random
// 1-2 heartbeat timeouts when this node is the only voter: nobody else can
// win or be disrupted, so waiting only delays startup. Lowering the heartbeat
// timeout through ReloadConfig makes a follower re-check its timer at once
// (it has never heard from a leader, so it becomes candidate and, as the sole
// voter, leader); the configured timers are then restored so a cluster that
// later grows keeps them. Best effort: if anything fails, the normal timer
// still elects us.
func (n *Node) kickSoloElection() {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return
	}
	var voters []raft.ServerID
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters = append(voters, s.ID)
		}
	}
	if len(voters) != 1 || voters[0] != n.id || n.cfg.HeartbeatTimeout <= n.cfg.LeaderLeaseTimeout {
		return
	}
	orig := n.raft.ReloadableConfig()
	fast := orig
	fast.HeartbeatTimeout = n.cfg.LeaderLeaseTimeout // raft requires lease <= heartbeat
	fast.ElectionTimeout = n.cfg.LeaderLeaseTimeout
	if err := n.raft.ReloadConfig(fast); err != nil {
		n.logger.Debug("raftmeta: cannot shorten solo election", "err", err)
		return
	}
	if err := n.raft.ReloadConfig(orig); err != nil {
		n.logger.Warn("raftmeta: cannot restore raft timers", "err", err)
	}
}

// Close shuts raft down and waits for the node's goroutines. It is safe to
// call more than once.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	close(n.shutdownCh)
	n.mu.Unlock()
	n.cancelBase() // forwarded requests served here end ...
	n.fwd.close()  // ... and so do ours, in flight to the controller

	err := n.raft.Shutdown().Error() // also closes the transport, waiting for its goroutines
	n.raft.DeregisterObserver(n.observer)
	n.wg.Wait()
	n.drainApplies()
	if cerr := n.stores.closeStore(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("raftmeta: close raft store: %w", cerr))
	}
	n.established.Store(false)
	n.controllerID.Store(-1)
	n.publish()
	return err
}

// drainApplies waits for apply waiters. Raft answers every future it accepted
// with a result or ErrRaftShutdown, except that a batch already handed to its
// FSM goroutine when shutdown wins the race is dropped unanswered; waiting for
// those forever would hang Close, so the wait is bounded and reported.
func (n *Node) drainApplies() {
	done := make(chan struct{})
	go func() {
		n.applyWG.Wait()
		close(done)
	}()
	t := time.NewTimer(applyDrainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		n.logger.Warn("raftmeta: raft left apply futures unanswered at shutdown")
	}
}

// State returns the latest applied state snapshot; never nil after Open.
func (n *Node) State() *State { return n.published.Load() }

// Changed returns a channel closed at the next state change (an applied
// command, a restored snapshot, a controller change). Take the channel
// before reading State to not miss a change in between.
func (n *Node) Changed() <-chan struct{} {
	n.pubMu.Lock()
	defer n.pubMu.Unlock()
	return n.changed
}

// publish overlays the controller id on the FSM's latest state, stores it
// for readers and wakes Changed waiters. It runs on the FSM goroutine (after
// each apply) and on the monitor goroutine (leadership changes); pubMu keeps
// the published state the newest of both.
func (n *Node) publish() {
	n.pubMu.Lock()
	defer n.pubMu.Unlock()
	s := *n.fsm.current()
	s.ControllerID = n.controllerID.Load()
	n.published.Store(&s)
	close(n.changed)
	n.changed = make(chan struct{})
}

// IsController reports whether this node is the Raft leader and has
// established its term (applied everything earlier leaders committed), i.e.
// whether writes on this node are accepted now.
func (n *Node) IsController() bool {
	return n.raft.State() == raft.Leader && n.established.Load()
}

// WaitController blocks until some controller is known and this node has
// applied its log: on the leader, until its term is established; on a
// follower, until it has applied everything it knows to be committed.
func (n *Node) WaitController(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond) // raft has no "applied" notification for barriers
	defer tick.Stop()
	for {
		changed := n.Changed()
		if n.isClosed() {
			return ErrClosed
		}
		if n.caughtUp() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrNoController, ctx.Err())
		case <-n.shutdownCh:
			return ErrClosed
		case <-changed:
		case <-tick.C:
		}
	}
}

func (n *Node) caughtUp() bool {
	if n.raft.State() == raft.Leader {
		return n.established.Load()
	}
	if _, id := n.raft.LeaderWithID(); id == "" {
		return false
	}
	commit := n.raft.CommitIndex()
	return commit > 0 && n.raft.AppliedIndex() >= commit
}

func (n *Node) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

// monitor follows leadership: it consumes NotifyCh (raft blocks until it
// does), runs one leader loop per term of ours, and refreshes the controller
// id on every leader change raft observes. Owned by n.wg.
func (n *Node) monitor() {
	var term *leaderTerm
	endTerm := func() {
		if term != nil {
			term.stop()
			term = nil
		}
		if n.established.Swap(false) {
			n.publish()
		}
	}
	defer endTerm()
	// A leader learnt before the observer was registered (Open registers it
	// after starting raft) produces no observation, and raft's observer
	// drops observations when its channel is full: so read raft's view
	// once now and then every controllerRefresh too, or State().ControllerID
	// (what Metadata tells clients) could stay -1 until the next election.
	n.refreshController()
	refresh := time.NewTicker(controllerRefresh)
	defer refresh.Stop()
	for {
		select {
		case <-refresh.C:
			n.refreshController()
		case isLeader := <-n.notifyCh:
			if isLeader && term == nil {
				term = n.startTerm()
			} else if !isLeader {
				endTerm()
			}
			n.refreshController()
		case <-n.obsCh:
			n.refreshController()
		case <-n.shutdownCh:
			return
		}
	}
}

// leaderTerm is one running leader loop; stop cancels it and waits for it.
type leaderTerm struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (t *leaderTerm) stop() {
	t.cancel()
	<-t.done
}

// startTerm runs a leader loop; the returned term owns its goroutine.
func (n *Node) startTerm() *leaderTerm {
	ctx, cancel := context.WithCancel(context.Background())
	t := &leaderTerm{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		n.leaderLoop(ctx)
	}()
	return t
}

// refreshController reads the current leader from raft and publishes a
// state if it changed. Observations may be dropped (non-blocking observer);
// reading raft's current view each time makes that harmless.
func (n *Node) refreshController() {
	id := n.ControllerID()
	if n.controllerID.Swap(id) != id {
		n.publish()
	}
}

// ControllerID returns the node id of the raft leader as this node sees it
// right now, or -1 if none is known. It reads raft directly, so it can be
// ahead of State().ControllerID, which is refreshed asynchronously. The
// leader may not have established its term yet (see IsController).
func (n *Node) ControllerID() int32 {
	_, sid := n.raft.LeaderWithID()
	return parseServerID(sid)
}

// LeaderRaftAddr returns the raft address of the current leader as this node
// sees it, or "" if none is known.
func (n *Node) LeaderRaftAddr() string {
	addr, _ := n.raft.LeaderWithID()
	return string(addr)
}

// parseServerID turns a raft server id back into a node id; -1 for an empty
// or foreign id.
func parseServerID(sid raft.ServerID) int32 {
	if sid == "" {
		return -1
	}
	v, err := strconv.ParseInt(string(sid), 10, 32)
	if err != nil || v < 0 {
		return -1
	}
	return int32(v)
}

// leaderLoop establishes a term the Consul way: a barrier makes sure every
// entry of earlier terms is applied, so decisions below see the whole state;
// then one-time cluster setup. Once established it reconciles membership
// (raft servers and broker fencing) with the last members the server gave
// ReconcileMembers, every ReconcileInterval, so that timeouts fire without a
// membership event. It runs until ctx is cancelled (term ends).
func (n *Node) leaderLoop(ctx context.Context) {
	if !n.retry(ctx, "barrier", func() error {
		return n.await(ctx, n.raft.Barrier(barrierTimeout))
	}) {
		return
	}
	if n.fsm.current().ClusterID == "" {
		id := newClusterID()
		if !n.retry(ctx, "set cluster id", func() error {
			_, err := n.propose(ctx, cmdSetClusterID, &setClusterIDCmd{ClusterID: id})
			return err
		}) {
			return
		}
		n.logger.Info("raftmeta: cluster id set", "cluster_id", n.fsm.current().ClusterID)
	}
	n.established.Store(true)
	n.publish()
	n.logger.Info("raftmeta: controller established", "index", n.raft.AppliedIndex())
	tick := time.NewTicker(n.cfg.ReconcileInterval)
	defer tick.Stop()
	for {
		if peers, ok := n.lastPeers(); ok {
			if err := n.reconcile(ctx, peers); err != nil && ctx.Err() == nil &&
				!errors.Is(err, ErrNotController) && !errors.Is(err, ErrClosed) {
				n.logger.Warn("raftmeta: membership reconciliation failed; retrying", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// retry runs op until it succeeds (true) or the term or node ends (false).
func (n *Node) retry(ctx context.Context, what string, op func() error) bool {
	for {
		err := op()
		if err == nil {
			return true
		}
		if ctx.Err() != nil || errors.Is(err, ErrClosed) || errors.Is(err, ErrNotController) {
			return false
		}
		n.logger.Warn("raftmeta: leader setup failed; retrying", "step", what, "err", err)
		t := time.NewTimer(retryBackoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}
