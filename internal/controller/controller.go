package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strombroker/strom/internal/membership"
	"github.com/strombroker/strom/raftmeta"
)

// Meta is the metadata node the controller reads and writes through;
// *raftmeta.Node implements it. State, HasState and IsController never block.
// TryBootstrap, ReconcileMembers and AlterPartition block on raft until
// applied or ctx ends; they are called from the controller loop only, one at
// a time.
type Meta interface {
	State() *raftmeta.State
	HasState() bool
	IsController() bool
	TryBootstrap(peers []raftmeta.Peer) (bool, error)
	ReconcileMembers(ctx context.Context, peers []raftmeta.Peer) error
	AlterPartition(ctx context.Context, ch raftmeta.PartitionChange) (raftmeta.Partition, error)
	ReassignPartition(ctx context.Context, r raftmeta.Reassignment) (raftmeta.Partition, error)
	// Changed returns a channel closed at the next state change; it never
	// blocks.
	Changed() <-chan struct{}
}

// Gossip is one running membership instance; *membership.Membership
// implements it. Members and Events may be called from any goroutine; the
// controller calls the rest from its loop (Rejoin from a goroutine of its
// own, at most one at a time). Events is closed by Shutdown.
type Gossip interface {
	Members() []membership.Member
	Events() <-chan membership.Event
	UpdateMeta(membership.Meta) error
	Rejoin(ctx context.Context) error
	Leave(timeout time.Duration) error
	Stopping()
	Shutdown() error
}

// Config configures a Controller. Tick, RejoinInterval and
// AddressCheckInterval default when zero; the three functions are required.
type Config struct {
	NodeID int32
	// BootstrapExpect is bootstrap.expect: the voters of a new cluster.
	BootstrapExpect int
	// Tick is how often the loop re-checks without a membership event
	// (cluster.tick.ms): dead-voter timeouts and leaders that could not be
	// moved on the first try are retried at this pace.
	Tick time.Duration
	// AutoLeaderRebalance and LeaderRebalanceInterval are Kafka's
	// auto.leader.rebalance.enable and leader.imbalance.check.interval.
	AutoLeaderRebalance     bool
	LeaderRebalanceInterval time.Duration
	// RejoinInterval spaces re-contacting the join list while this broker
	// sees fewer peers than it should.
	RejoinInterval time.Duration
	// AddressCheckInterval spaces re-deriving the gossip advertise address.
	AddressCheckInterval time.Duration
	Logger               *slog.Logger // nil discards

	// GossipMeta returns this broker's gossip metadata as of now (its
	// has-state bit comes from the metadata node).
	GossipMeta func() membership.Meta
	// GossipAdvertise derives the gossip address to advertise. "" means the
	// bound address, which is fixed and never re-checked.
	GossipAdvertise func(ctx context.Context) (string, error)
	// StartGossip starts gossip advertising adv ("" = the bound address)
	// with meta and joins the cluster.
	StartGossip func(ctx context.Context, adv string, meta membership.Meta) (Gossip, error)
}

const (
	defaultTick                 = time.Second
	defaultRejoinInterval       = 2 * time.Second
	defaultAddressCheckInterval = 5 * time.Second
	// rejoinTimeout bounds one background rejoin: a frozen peer holds a
	// join for seconds.
	rejoinTimeout = 5 * time.Second
	// stepTimeout bounds the metadata writes of one step.
	stepTimeout = 10 * time.Second
	// leaveTimeout bounds the graceful gossip leave at Close.
	leaveTimeout = 2 * time.Second
)

// Controller runs on every broker of a cluster. On every broker it founds
// the controller quorum once bootstrap-expect brokers have met, keeps this
// broker's gossiped has-state bit true, re-contacts the join list while
// peers are missing and restarts gossip when the broker's derived address
// moves; it reports the live members to the metadata node, which records
// them everywhere and, on the Raft leader, fences brokers and replaces dead
// voters. On the Raft leader (the controller proper) it also moves partition
// leadership off dead brokers, drops them from ISRs and restores preferred
// leaders.
//
// It is driven by membership events and a ticker, in one goroutine that
// Start launches and Close waits for.
type Controller struct {
	cfg    Config
	meta   Meta
	logger *slog.Logger

	mu     sync.Mutex
	gossip Gossip // guarded by mu: replaced when gossip restarts

	// Loop-only state.
	gossipAdv     string // the derived gossip address ("" when fixed)
	gossipDown    bool   // a gossip restart failed: the running instance is stopped
	gossipedState bool   // our gossip meta already says HasState
	lastRejoin    time.Time
	lastAdvCheck  time.Time
	lastRebalance time.Time

	rejoining atomic.Bool // a background rejoin is running

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// New builds a controller over meta without starting anything.
func New(cfg Config, meta Meta) (*Controller, error) {
	if cfg.GossipMeta == nil || cfg.GossipAdvertise == nil || cfg.StartGossip == nil || meta == nil {
		return nil, errors.New("controller: Config.GossipMeta, GossipAdvertise, StartGossip and the metadata node are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Tick = cmpOr(cfg.Tick, defaultTick)
	cfg.RejoinInterval = cmpOr(cfg.RejoinInterval, defaultRejoinInterval)
	cfg.AddressCheckInterval = cmpOr(cfg.AddressCheckInterval, defaultAddressCheckInterval)
	ctx, cancel := context.WithCancel(context.Background())
	return &Controller{cfg: cfg, meta: meta, logger: cfg.Logger, ctx: ctx, cancel: cancel}, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Start starts gossip (bounded by ctx) and the controller loop.
func (c *Controller) Start(ctx context.Context) error {
	adv, err := c.cfg.GossipAdvertise(ctx)
	if err != nil {
		return err
	}
	g, err := c.cfg.StartGossip(ctx, adv, c.cfg.GossipMeta())
	if err != nil {
		return err
	}
	c.setGossip(g)
	c.gossipAdv = adv
	c.lastRebalance = time.Now()
	c.wg.Add(1)
	go c.loop()
	return nil
}

// Stopping tells the other brokers, when they announce their own leave, that
// this one is shutting down too (see membership.Membership.Stopping), so a
// cluster stopped at once does not wait for leave gossip nobody receives.
// Call it when shutdown begins, well before Close.
func (c *Controller) Stopping() {
	if g := c.currentGossip(); g != nil {
		g.Stopping()
	}
}

// Close stops the loop, announces a graceful leave (so peers move
// leadership away without waiting out failure detection) and stops gossip.
// Safe to call more than once, and without Start.
func (c *Controller) Close() error {
	var err error
	c.once.Do(func() {
		c.cancel()
		c.wg.Wait()
		g := c.currentGossip()
		if g == nil {
			return
		}
		if lerr := g.Leave(leaveTimeout); lerr != nil {
			c.logger.Debug("gossip leave", "err", lerr)
		}
		err = g.Shutdown()
	})
	return err
}

func (c *Controller) setGossip(g Gossip) {
	c.mu.Lock()
	c.gossip = g
	c.mu.Unlock()
}

func (c *Controller) currentGossip() Gossip {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gossip
}

// loop runs a step on every membership event and every tick, and, in
// between, completes reassignments as soon as a metadata change (an ISR
// expansion) makes one ready, as Kafka's controller does on every
// AlterPartition, instead of at the next tick.
func (c *Controller) loop() {
	defer c.wg.Done()
	tick := time.NewTicker(c.cfg.Tick)
	defer tick.Stop()
	for {
		c.step()
		if !c.waitStep(tick) {
			return
		}
	}
}

// waitStep waits for the next step's reason (a membership event or a
// tick), completing ready reassignments on every metadata change meanwhile;
// false when the controller is closing.
func (c *Controller) waitStep(tick *time.Ticker) bool {
	for {
		changed := c.meta.Changed()
		select {
		case <-c.ctx.Done():
			return false
		case _, ok := <-c.currentGossip().Events():
			if !ok { // gossip is being restarted: wait for the next tick
				select {
				case <-c.ctx.Done():
					return false
				case <-tick.C:
				}
			}
			return true
		case <-tick.C:
			return true
		case <-changed:
			if c.meta.IsController() {
				ctx, cancel := context.WithTimeout(c.ctx, stepTimeout)
				c.completeReassignments(ctx)
				cancel()
			}
		}
	}
}

// step is one pass: membership upkeep on every broker, then, on the
// controller, partition leadership.
func (c *Controller) step() {
	c.checkGossipAddress()
	peers := c.peers()
	c.maybeRejoin(peers)
	c.bootstrap(peers)
	ctx, cancel := context.WithTimeout(c.ctx, stepTimeout)
	defer cancel()
	if err := c.meta.ReconcileMembers(ctx, peers); err != nil && c.ctx.Err() == nil {
		c.logger.Debug("reconcile members", "err", err)
	}
	if !c.meta.IsController() {
		return
	}
	c.moveLeaders(ctx, peers)
	c.completeReassignments(ctx)
}

// peers turns the live gossip members into the metadata node's view of them.
func (c *Controller) peers() []raftmeta.Peer {
	var out []raftmeta.Peer
	for _, m := range c.currentGossip().Members() {
		if m.State != membership.StateAlive {
			continue
		}
		out = append(out, raftmeta.Peer{NodeID: m.NodeID, RaftAddr: m.RaftAddr, HasState: m.HasState})
	}
	return out
}

// maybeRejoin re-contacts the join list, in the background, when this
// broker sees fewer peers than it should: its join list may have resolved
// only to itself at start, or a partition has healed and the two sides
// still think each other dead. memberlist's push-pull would merge the views,
// but only every 30 s. In the background because a frozen peer holds a join
// for seconds while this loop must keep fencing brokers and moving leaders.
func (c *Controller) maybeRejoin(peers []raftmeta.Peer) {
	short := len(peers) < c.cfg.BootstrapExpect && !c.meta.HasState()
	if reg := len(c.meta.State().Brokers); reg > len(peers) {
		short = true
	}
	if !short || time.Since(c.lastRejoin) <= c.cfg.RejoinInterval || !c.rejoining.CompareAndSwap(false, true) {
		return
	}
	c.lastRejoin = time.Now()
	g := c.currentGossip()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer c.rejoining.Store(false)
		ctx, cancel := context.WithTimeout(c.ctx, rejoinTimeout)
		defer cancel()
		if err := g.Rejoin(ctx); err != nil {
			c.logger.Debug("gossip rejoin", "err", err)
		}
	}()
}

// bootstrap founds the controller quorum when this broker is the one to
// (see raftmeta's TryBootstrap), and once this broker has Raft state, says
// so in its gossip meta so that no peer ever founds a second cluster.
func (c *Controller) bootstrap(peers []raftmeta.Peer) {
	if !c.meta.HasState() {
		if ok, err := c.meta.TryBootstrap(peers); err != nil {
			c.logger.Warn("cannot bootstrap the controller quorum yet", "err", err)
		} else if ok {
			c.logger.Info("bootstrapped the controller quorum", "voters", len(peers))
		}
	}
	if c.meta.HasState() && !c.gossipedState {
		if err := c.currentGossip().UpdateMeta(c.cfg.GossipMeta()); err == nil {
			c.gossipedState = true
		}
	}
}

// markUnregistered adds to dead every replica whose broker is not
// registered (UnregisterBroker removed it): it must never be elected.
func markUnregistered(st *raftmeta.State, dead map[int32]bool) {
	for _, t := range st.Topics {
		for _, p := range t.Partitions {
			for _, id := range p.Replicas {
				if _, ok := st.Brokers[id]; !ok {
					dead[id] = true
				}
			}
		}
	}
}

// moveLeaders elects new leaders for partitions led by dead or fenced
// brokers, drops those brokers from the other ISRs and, every
// LeaderRebalanceInterval, gives leadership back to preferred replicas.
// A change refused (typically a stale partition epoch) is recomputed at the
// next step.
func (c *Controller) moveLeaders(ctx context.Context, peers []raftmeta.Peer) {
	st := c.meta.State()
	alive := make(map[int32]bool, len(peers))
	for _, p := range peers {
		alive[p.NodeID] = true
	}
	alive[c.cfg.NodeID] = true
	dead := make(map[int32]bool)
	for id, b := range st.Brokers {
		if b.Fenced || !alive[id] {
			dead[id] = true
		}
	}
	markUnregistered(st, dead)
	changes := ElectLeaders(st, dead, uncleanAllowed(st))
	changes = append(changes, ShrinkISRs(st, dead, changes)...)
	if c.cfg.AutoLeaderRebalance && time.Since(c.lastRebalance) >= c.cfg.LeaderRebalanceInterval {
		c.lastRebalance = time.Now()
		changes = append(changes, PreferredLeaderChanges(st, alive)...)
	}
	for _, ch := range changes {
		p, err := c.meta.AlterPartition(ctx, ch)
		if err != nil {
			c.logger.Warn("partition leader change refused", "topic", ch.Topic, "partition", ch.Partition, "leader", ch.Leader, "err", err)
			continue
		}
		c.logger.Info("partition leader changed", "topic", ch.Topic, "partition", ch.Partition, "leader", p.Leader, "epoch", p.LeaderEpoch, "isr", p.ISR)
	}
}

// checkGossipAddress re-derives a derived gossip advertise address every
// AddressCheckInterval. A container reconnected to its network may come
// back with a new IP while memberlist keeps advertising the old one, so
// peers would keep the broker fenced forever; when the address moves,
// gossip is restarted on the new one and rejoins the cluster. A restart
// that failed (typically: the network was still down, so the join list did
// not resolve) left gossip stopped, so it is retried at every check until
// it succeeds, whatever the address is by then (often the old one again).
func (c *Controller) checkGossipAddress() {
	if c.gossipAdv == "" || time.Since(c.lastAdvCheck) < c.cfg.AddressCheckInterval {
		return
	}
	c.lastAdvCheck = time.Now()
	ctx, cancel := context.WithTimeout(c.ctx, rejoinTimeout)
	defer cancel()
	adv, err := c.cfg.GossipAdvertise(ctx)
	if err != nil || adv == "" || (adv == c.gossipAdv && !c.gossipDown) {
		return
	}
	if c.gossipDown {
		c.logger.Warn("gossip is stopped after a failed restart; restarting it", "addr", adv)
	} else {
		c.logger.Warn("this broker's gossip address changed; restarting gossip", "from", c.gossipAdv, "to", adv)
	}
	if err := c.restartGossip(ctx, adv); err != nil {
		c.gossipDown = true
		c.logger.Error("cannot restart gossip; will retry", "err", err)
		return
	}
	c.gossipDown = false
}

// restartGossip replaces the running gossip with one advertising adv. On
// failure the old instance stays in place, stopped (its Members are the
// last it knew), and checkGossipAddress retries.
func (c *Controller) restartGossip(ctx context.Context, adv string) error {
	if err := c.currentGossip().Shutdown(); err != nil {
		c.logger.Debug("gossip shutdown", "err", err)
	}
	g, err := c.cfg.StartGossip(ctx, adv, c.cfg.GossipMeta())
	if err != nil {
		return fmt.Errorf("start gossip on %s: %w", adv, err)
	}
	c.setGossip(g)
	c.gossipAdv = adv
	c.gossipedState = false // the new instance announces our state again
	return nil
}

// uncleanAllowed reads unclean.leader.election.enable per topic (off unless a
// topic opts in: electing an out-of-sync replica can lose acknowledged data).
func uncleanAllowed(st *raftmeta.State) func(string) bool {
	return func(topic string) bool {
		t := st.Topics[topic]
		return t != nil && t.Configs["unclean.leader.election.enable"] == "true"
	}
}
