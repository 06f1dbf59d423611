package membership

import (
	"cmp"
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// deadNodeReclaim lets a node id that memberlist has declared dead (or that
// left) come back from a different address at once: a broker restarted on a
// new port. memberlist's failure detector already waited out the suspicion
// timeout before declaring the node dead, so waiting longer would only delay
// the restart. A live node's id is never reclaimed (ErrDuplicateNodeID).
const deadNodeReclaim = time.Nanosecond

// Membership is this broker's view of the cluster through gossip: who is
// alive, with which meta, and a feed of changes. Create it with Start; all
// methods are safe for concurrent use.
type Membership struct {
	cfg  Config
	name string // memberlist node name, nodeName(cfg.NodeID)
	log  *slog.Logger

	// Addresses fixed before memberlist starts, so the delegates can tell
	// this node from an impostor without calling into memberlist.
	selfAddr string // advertised gossip address, host:port
	selfIP   net.IP
	selfPort int
	bindIP   net.IP
	bindPort int

	ml     *memberlist.Memberlist // set once Create returns, under lifecycle; delegates never use it
	events *eventQueue

	// lifecycle is held shared by Leave and UpdateMeta and exclusively by
	// Shutdown: memberlist panics on Leave after Shutdown.
	lifecycle sync.RWMutex
	closed    bool // guarded by lifecycle
	leaving   atomic.Bool
	stopping  atomic.Bool // Stopping was called: acknowledgements say "leaving too"
	shutdown  sync.Once
	acks      sync.WaitGroup // leave acknowledgements being sent (startLeaveAck)

	// Lock order: memberlist's internal node lock, then mu. memberlist calls
	// the delegates with its node lock held, and they take mu; so nothing may
	// call memberlist while holding mu.
	mu       sync.Mutex
	meta     []byte                  // encoded local meta, served by NodeMeta
	members  map[string]*memberState // by node name, from the event callbacks
	conflict *idConflict             // first claim of our node id seen from another address
	// leaveAcks: during Leave, one channel per member still to confirm our
	// leave intent, closed by its acknowledgement.
	leaveAcks map[string]chan struct{}
}

// memberState is one entry of the member table.
type memberState struct {
	m Member
	// leaveIntent: the member told us it is about to Leave, so its
	// disappearance is a Leave rather than a Fail.
	leaveIntent bool
	// acking: an acknowledgement of its leave intent is being sent.
	acking bool
}

// Start binds the gossip transport, starts memberlist and joins cfg.Join.
//
// Joining retries with exponential backoff until one address answers or ctx
// ends (ErrJoin); a broker whose Join list is empty or names only itself
// starts alone. If a member at another address already uses cfg.NodeID and
// answers a ping under that id, Start shuts down and returns
// ErrDuplicateNodeID. If it does not answer, it is this broker's previous
// incarnation (restarted on a new address before the cluster noticed the
// crash): Start keeps retrying until the cluster declares it dead, which
// takes memberlist's failure-detection time. Restarting on the same address
// is accepted at once.
func Start(ctx context.Context, cfg Config) (*Membership, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	meta, err := encodeMeta(cfg.Meta)
	if err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Membership{
		cfg:     cfg,
		name:    nodeName(cfg.NodeID),
		log:     logger,
		meta:    meta,
		members: make(map[string]*memberState),
	}
	m.cfg.Join = slices.Clone(cfg.Join)
	m.cfg.Meta = cfg.Meta.clone()

	std := newStdLogger(logger)
	m.bindIP, m.bindPort, _ = splitIPPort(cfg.BindAddr, true) // validated
	nt, err := newTransport(m.bindIP.String(), m.bindPort, std)
	if err != nil {
		return nil, fmt.Errorf("membership: listen on %s: %w", cfg.BindAddr, err)
	}
	m.bindPort = nt.GetAutoBindPort()
	advHost, advPort := "", 0
	if cfg.AdvertiseAddr != "" {
		ip, port, _ := splitIPPort(cfg.AdvertiseAddr, true) // validated
		advHost, advPort = ip.String(), cmp.Or(port, m.bindPort)
	}
	m.selfIP, m.selfPort, err = nt.FinalAdvertiseAddr(advHost, advPort)
	if err != nil {
		_ = nt.Shutdown()
		return nil, fmt.Errorf("membership: advertise address: %w", err)
	}
	m.selfAddr = net.JoinHostPort(m.selfIP.String(), strconv.Itoa(m.selfPort))

	mc := cfg.memberlistConfig()
	h := &hooks{m: m}
	mc.Name = m.name
	mc.BindAddr = m.bindIP.String()
	mc.BindPort = m.bindPort
	mc.AdvertiseAddr = m.selfIP.String()
	mc.AdvertisePort = m.selfPort
	mc.Transport = nt
	if cfg.WrapTransport != nil {
		mc.Transport = cfg.WrapTransport(nt)
	}
	mc.Logger = std
	mc.Delegate = h
	mc.Events = h
	mc.Conflict = h
	mc.Alive = h
	mc.Merge = h
	mc.DeadNodeReclaimTime = deadNodeReclaim
	if err := useKeys(mc, cfg.Keys); err != nil {
		_ = mc.Transport.Shutdown()
		return nil, err
	}

	m.events = newEventQueue(cfg.eventBuffer())
	ml, err := memberlist.Create(mc)
	if err != nil {
		_ = mc.Transport.Shutdown() // Create does not always release a transport it was given
		m.events.close()
		return nil, fmt.Errorf("membership: start gossip: %w", err)
	}
	m.setMemberlist(ml)

	if err := m.join(ctx); err != nil {
		_ = m.Shutdown() // never Leave: a duplicate's leave would announce the real node's departure
		return nil, err
	}
	m.log.Info("membership: started", "addr", m.selfAddr, "members", len(m.Members()))
	return m, nil
}

// newTransport binds memberlist's UDP+TCP transport. With port 0 the kernel's
// free TCP port can be taken for UDP, so it retries a few times as
// memberlist's own default transport does.
func newTransport(ip string, port int, logger *log.Logger) (*memberlist.NetTransport, error) {
	attempts := 1
	if port == 0 {
		attempts = 10
	}
	var err error
	for range attempts {
		var nt *memberlist.NetTransport
		nt, err = memberlist.NewNetTransport(&memberlist.NetTransportConfig{
			BindAddrs: []string{ip},
			BindPort:  port,
			Logger:    logger,
		})
		if err == nil {
			return nt, nil
		}
	}
	return nil, err
}

// Addr returns the gossip address other brokers reach this one at (the
// advertised address, with the port actually bound).
func (m *Membership) Addr() string { return m.selfAddr }

// NodeID returns this broker's node id.
func (m *Membership) NodeID() int32 { return m.cfg.NodeID }

// Events returns the membership change feed, including this broker's own
// Join and Updates. It is closed by Shutdown.
//
// The feed never blocks gossip. When the consumer falls behind, events that
// have not been delivered yet coalesce per node into the newest one (an
// Update after an undelivered Join stays a Join), so a slow consumer may miss
// intermediate steps (a Fail followed by a Join arrives as the Join) but the
// last event it receives for each node matches that node's latest state.
// Members is always the current truth; consumers that reconcile should re-read
// it on every event.
func (m *Membership) Events() <-chan Event { return m.events.out }

// Members returns the live members (including this broker), sorted by node
// id. Members that left or failed are not listed.
func (m *Membership) Members() []Member {
	m.mu.Lock()
	out := make([]Member, 0, len(m.members))
	for _, st := range m.members {
		if st.m.State == StateAlive {
			out = append(out, memberCopy(st.m))
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Member) int { return cmp.Compare(a.NodeID, b.NodeID) })
	return out
}

// UpdateMeta replaces this broker's meta and gossips it; members see an
// Update event. meta.NodeID must be this node's id. After Leave or Shutdown
// it returns ErrClosed. It waits up to
// Config.BroadcastTimeout for the update to go out; on ErrBroadcastTimeout
// the new meta is in effect locally and still spreading.
func (m *Membership) UpdateMeta(meta Meta) error {
	if meta.NodeID != m.cfg.NodeID {
		return fmt.Errorf("%w: NodeID %d is not this node's id %d", ErrInvalidMeta, meta.NodeID, m.cfg.NodeID)
	}
	b, err := encodeMeta(meta)
	if err != nil {
		return err
	}
	m.lifecycle.RLock()
	defer m.lifecycle.RUnlock()
	if m.closed || m.leaving.Load() {
		return ErrClosed // memberlist ignores its own alive messages after Leave
	}
	m.mu.Lock()
	m.meta = b
	m.mu.Unlock()
	if err := m.ml.UpdateNode(m.cfg.broadcastTimeout()); err != nil {
		return fmt.Errorf("%w: meta update: %v", ErrBroadcastTimeout, err)
	}
	return nil
}

// setMemberlist publishes ml under lifecycle: startLeaveAck may already run
// on a gossip goroutine.
func (m *Membership) setMemberlist(ml *memberlist.Memberlist) {
	m.lifecycle.Lock()
	m.ml = ml
	m.lifecycle.Unlock()
}

// Leave announces a graceful departure: members see EventLeave for this node
// rather than EventFail. It first tells every live member directly that this
// node is leaving (memberlist does not tell its delegates a leave from a
// failure) and waits for each to acknowledge, so the intent is recorded
// before memberlist's leave can reach that member by another path. Then it
// broadcasts memberlist's leave and waits up to timeout for it to go out
// (0: no limit). A member that does not acknowledge within half the timeout
// (at most leaveAckWait) will report a Fail, later corrected to a Leave if
// the intent arrives. A member that cannot be reached can add up to
// memberlist's TCP timeout (10 s with production timers) to the wait. Call
// Shutdown afterwards; gossip keeps running until then.
//
// When every other live member has said it is leaving too (a whole cluster
// stopped at once), the broadcast is skipped: every member has recorded this
// node's intent, so none would report a Fail, and memberlist would wait out
// the whole timeout, since its leave goes out only by gossip to live
// members and those leave one by one while it waits.
func (m *Membership) Leave(timeout time.Duration) error {
	m.lifecycle.RLock()
	defer m.lifecycle.RUnlock()
	if m.closed {
		return ErrClosed
	}
	start := time.Now()
	m.leaving.Store(true)
	ackWait := leaveAckWait
	if timeout > 0 {
		ackWait = min(ackWait, timeout/2)
	}
	m.sendLeaveIntents(ackWait)
	if m.peersAllLeaving() {
		m.log.Debug("membership: every other member is leaving too; not gossiping the leave")
		return nil
	}
	if timeout > 0 {
		timeout = max(timeout-time.Since(start), time.Millisecond)
	}
	if err := m.ml.Leave(timeout); err != nil {
		return fmt.Errorf("%w: leave: %v", ErrBroadcastTimeout, err)
	}
	return nil
}

// Stopping marks this node as on its way out before it calls Leave: from now
// on it acknowledges other members' leave intents as "leaving too". A broker
// calls it as its shutdown begins, because the steps before Leave take longer
// on some brokers than on others; without it, a broker that reached Leave
// first would hear "staying" from peers already shutting down and wait for a
// leave broadcast that nobody remains to receive. Gossip is unchanged.
func (m *Membership) Stopping() { m.stopping.Store(true) }

// leaveAckWait bounds how long Leave waits for members to acknowledge its
// leave intent. Only a member that is itself failing, or one running a
// version without acknowledgements, makes Leave wait this long.
const leaveAckWait = 2 * time.Second

// Shutdown stops gossip and closes the Events channel. Without a Leave
// first, the other members see this node fail. Safe to call more than once.
func (m *Membership) Shutdown() error {
	var err error
	m.shutdown.Do(func() {
		m.lifecycle.Lock()
		m.closed = true
		m.lifecycle.Unlock()
		err = m.ml.Shutdown()
		m.acks.Wait() // each ends within memberlist's TCP timeout
		m.events.close()
	})
	return err
}

// useKeys makes mc encrypt and authenticate all gossip with keys (keys[0]
// encrypts, all decrypt), refusing anything else; none leaves it plain.
func useKeys(mc *memberlist.Config, keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	kr, err := memberlist.NewKeyring(keys[1:], keys[0])
	if err != nil {
		return fmt.Errorf("membership: gossip keys: %w", err)
	}
	mc.Keyring = kr
	mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	return nil
}
