package membership

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// hooks implements memberlist's delegates for a Membership. It is a separate
// type so the callbacks stay out of Membership's exported API.
//
// Concurrency contract (from memberlist): the Event, Alive and Conflict
// callbacks run with memberlist's node lock held, so they must not call into
// memberlist and must not block; Event callbacks are never concurrent with
// each other. NotifyMsg runs on memberlist's packet/stream goroutines and
// NotifyMerge on the goroutine doing a join push/pull. All of them only take
// Membership.mu briefly (lock order: memberlist's node lock, then mu).
type hooks struct{ m *Membership }

var (
	_ memberlist.Delegate         = (*hooks)(nil)
	_ memberlist.EventDelegate    = (*hooks)(nil)
	_ memberlist.AliveDelegate    = (*hooks)(nil)
	_ memberlist.ConflictDelegate = (*hooks)(nil)
	_ memberlist.MergeDelegate    = (*hooks)(nil)
)

// msgLeaveIntent starts the user message "I am about to leave", followed by
// the sender's node name. The receiver answers with msgLeaveAck followed by
// its own node name once it has recorded the intent, or with
// msgLeaveAckLeaving when it is leaving too (see Membership.Leave for why the
// sender cares). A version without msgLeaveAckLeaving ignores it, as it
// ignores any unknown message, and waits out its acknowledgement wait.
const (
	msgLeaveIntent     byte = 'L'
	msgLeaveAck        byte = 'A'
	msgLeaveAckLeaving byte = 'a'
)

// maxNodeNameLen bounds the name in a leave-intent message ("strom-" and an
// int32).
const maxNodeNameLen = 32

// NodeMeta returns the encoded local meta (Start and UpdateMeta keep it
// within memberlist.MetaMaxSize).
func (h *hooks) NodeMeta(limit int) []byte {
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	if len(h.m.meta) > limit { // cannot happen: checked when set
		return nil
	}
	return append([]byte(nil), h.m.meta...)
}

// NotifyMsg receives leave intents and their acknowledgements (see
// Membership.Leave). Anything else is ignored: peers are not trusted to send
// well-formed messages.
func (h *hooks) NotifyMsg(b []byte) {
	if len(b) < 2 || len(b) > 1+maxNodeNameLen {
		return
	}
	name := string(b[1:]) // copies: memberlist reuses b
	switch b[0] {
	case msgLeaveIntent:
		if addr, ok := h.m.recordLeaveIntent(name); ok {
			h.m.startLeaveAck(name, addr)
		}
	case msgLeaveAck, msgLeaveAckLeaving:
		h.m.recordLeaveAck(name, b[0] == msgLeaveAckLeaving)
	}
}

// recordLeaveAck releases Leave's wait for name. An acknowledgement that says
// the member is leaving too counts as that member's own leave intent; one
// that Leave is not waiting for is ignored (a peer gains nothing by sending
// it that it could not by sending an intent).
func (m *Membership) recordLeaveAck(name string, leaving bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.releaseLeaveWaiterLocked(name) {
		return
	}
	if st := m.members[name]; leaving && st != nil && st.m.State == StateAlive {
		st.leaveIntent = true
	}
}

// releaseLeaveWaiterLocked ends Leave's wait for name, reporting whether it
// was waiting. Caller holds mu.
func (m *Membership) releaseLeaveWaiterLocked(name string) bool {
	ch, ok := m.leaveAcks[name]
	if ok {
		close(ch)
		delete(m.leaveAcks, name)
	}
	return ok
}

// peersAllLeaving reports whether every other member memberlist may still
// gossip to has said it is leaving (by its intent or its acknowledgement of
// ours).
func (m *Membership) peersAllLeaving() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, st := range m.members {
		if name != m.name && st.m.State == StateAlive && !st.leaveIntent {
			return false
		}
	}
	return true
}

// recordLeaveIntent marks name as about to leave and returns its gossip
// address for the acknowledgement; ok is false for an unknown sender, and
// while an acknowledgement to name is still being sent, so that a flood of
// intents costs at most one sending goroutine per member.
func (m *Membership) recordLeaveIntent(name string) (addr string, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.members[name]
	if st == nil {
		return "", false // unknown sender: nothing to mark, nobody to answer
	}
	// If we are leaving too and waiting for name's acknowledgement: a member
	// that is itself leaving no longer acts on what it sees of us, so there
	// is nothing to wait for.
	m.releaseLeaveWaiterLocked(name)
	switch st.m.State {
	case StateAlive:
		st.leaveIntent = true
	case StateDead:
		// The leave overtook the intent (the intent travels over TCP, the
		// leave over UDP gossip) and we already reported a Fail: correct it.
		st.m.State = StateLeft
		m.events.push(Event{Type: EventLeave, Member: memberCopy(st.m)})
	}
	if st.acking {
		return "", false
	}
	st.acking = true
	return st.m.Addr, true
}

// startLeaveAck acknowledges name's leave intent on a goroutine of its own
// (NotifyMsg must not block on the network), counted in Membership.acks so
// that Shutdown waits for it; after Shutdown nothing is sent.
func (m *Membership) startLeaveAck(name, addr string) {
	m.lifecycle.RLock()
	defer m.lifecycle.RUnlock()
	if m.closed || m.ml == nil {
		m.ackDone(name)
		return
	}
	ml := m.ml
	m.acks.Go(func() {
		defer m.ackDone(name)
		to, err := gossipNode(name, addr)
		if err != nil {
			return
		}
		kind := msgLeaveAck
		if m.leaving.Load() || m.stopping.Load() {
			kind = msgLeaveAckLeaving
		}
		if err := ml.SendReliable(to, append([]byte{kind}, m.name...)); err != nil {
			m.log.Debug("membership: leave acknowledgement not delivered", "member", name, "addr", addr, "err", err)
		}
	})
}

// ackDone ends name's acknowledgement in flight (recordLeaveIntent).
func (m *Membership) ackDone(name string) {
	m.mu.Lock()
	if st := m.members[name]; st != nil {
		st.acking = false
	}
	m.mu.Unlock()
}

// GetBroadcasts: this package gossips nothing beyond the node meta.
func (h *hooks) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState: no state beyond memberlist's own is exchanged on push/pull.
func (h *hooks) LocalState(join bool) []byte { return nil }

// MergeRemoteState: see LocalState.
func (h *hooks) MergeRemoteState(buf []byte, join bool) {}

// NotifyJoin records a new or returning member.
func (h *hooks) NotifyJoin(n *memberlist.Node) { h.upsert(n, EventJoin) }

// NotifyUpdate records a member's new meta.
func (h *hooks) NotifyUpdate(n *memberlist.Node) { h.upsert(n, EventUpdate) }

func (h *hooks) upsert(n *memberlist.Node, typ EventType) {
	meta, err := decodeMeta(n.Meta)
	if err != nil { // NotifyAlive refused such nodes; cannot happen
		h.m.log.Error("membership: member with undecodable meta", "member", n.Name, "err", err)
		return
	}
	mem := Member{Meta: meta, Addr: n.Address(), State: StateAlive}
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.members[n.Name]
	if st == nil || typ == EventJoin {
		st = &memberState{} // a returning member starts without a leave intent
		m.members[n.Name] = st
	}
	st.m = mem
	m.events.push(Event{Type: typ, Member: memberCopy(mem)})
}

// NotifyLeave records a member's departure. memberlist reports graceful
// leaves and failures alike and does not fill in Node.State, so a leave is
// recognised by the member's leave intent (or, for this node, by Leave
// having been called).
func (h *hooks) NotifyLeave(n *memberlist.Node) {
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.members[n.Name]
	if st == nil { // never seen alive (NotifyAlive refused it)
		return
	}
	typ, state := EventFail, StateDead
	if st.leaveIntent || (n.Name == m.name && m.leaving.Load()) {
		typ, state = EventLeave, StateLeft
	}
	st.m.State = state
	st.leaveIntent = false
	m.events.push(Event{Type: typ, Member: memberCopy(st.m)})
}

// NotifyAlive vets every alive message before memberlist accepts it: the
// meta must be a Strom broker's, the node name must match the meta's node
// id, and nobody else may claim this node's id. A refused message is
// dropped by memberlist (which logs the returned error).
func (h *hooks) NotifyAlive(peer *memberlist.Node) error {
	meta, err := decodeMeta(peer.Meta)
	if err != nil {
		return fmt.Errorf("%s is not a strom broker: %w", peer.Address(), err)
	}
	return h.m.checkClaim(peer.Name, meta.NodeID, peer.Address(), false)
}

// NotifyMerge vets a join push/pull, on both sides: the joiner checks the
// cluster it is about to merge with, the cluster checks the joiner. Refusing
// cancels the whole merge, so a duplicate never learns the cluster and the
// cluster never learns the duplicate.
func (h *hooks) NotifyMerge(peers []*memberlist.Node) error {
	for _, p := range peers {
		if p.State != memberlist.StateAlive && p.State != memberlist.StateSuspect {
			continue // a dead or departed node's id may be reused
		}
		meta, err := decodeMeta(p.Meta)
		if err != nil {
			return fmt.Errorf("%s is not a strom broker: %w", p.Address(), err)
		}
		if err := h.m.checkClaim(p.Name, meta.NodeID, p.Address(), true); err != nil {
			return err
		}
	}
	return nil
}

// NotifyConflict is memberlist noticing two addresses for one node name
// (after NotifyAlive, which already refuses claims on this node's own id).
// It only happens for other ids, on a broker that sees two processes claim
// the same id; the one it knew first keeps the name.
func (h *hooks) NotifyConflict(existing, other *memberlist.Node) {
	h.m.log.Error("membership: two brokers claim one node id; keeping the first",
		"member", existing.Name, "addr", existing.Address(), "refused_addr", other.Address())
}

// checkClaim refuses a peer that claims node id (name) from addr when that id
// is ours, or, with checkTable, already belongs to a live member at another
// address. Claims on our own id are recorded for Start.
func (m *Membership) checkClaim(name string, id int32, addr string, checkTable bool) error {
	if want := nodeName(id); name != want {
		return fmt.Errorf("%w: node %q at %s carries meta of node id %d", ErrInvalidMeta, name, addr, id)
	}
	if id == m.cfg.NodeID {
		if addr == m.selfAddr {
			return nil
		}
		err := fmt.Errorf("%w: node id %d is claimed by %s and by this broker at %s", ErrDuplicateNodeID, id, addr, m.selfAddr)
		m.mu.Lock()
		if m.conflict == nil {
			m.conflict = &idConflict{addr: addr, err: err}
		}
		m.mu.Unlock()
		return err
	}
	if !checkTable {
		return nil // memberlist's own name-conflict check follows
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if st := m.members[name]; st != nil && st.m.State == StateAlive && st.m.Addr != addr {
		return fmt.Errorf("%w: node id %d is already live at %s, refusing %s", ErrDuplicateNodeID, id, st.m.Addr, addr)
	}
	return nil
}

// idConflict is a claim on our node id from another address.
type idConflict struct {
	addr string
	err  error // wraps ErrDuplicateNodeID
}

// takeConflict returns and clears the first claim on our node id seen since
// the last call.
func (m *Membership) takeConflict() *idConflict {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.conflict
	m.conflict = nil
	return c
}

// sendLeaveIntents tells every other live member, over TCP and in parallel,
// that this node is about to leave, so that they report its departure as a
// Leave. Best effort: a member that misses it reports a Fail. Members that
// have told us they are leaving too are skipped: they no longer act on what
// they see of us, and one that has already stopped would only make us wait.
func (m *Membership) sendLeaveIntents(ackWait time.Duration) {
	msg := append([]byte{msgLeaveIntent}, m.name...)
	type peer struct {
		mem   Member
		acked chan struct{}
	}
	acks := map[string]chan struct{}{}
	var peers []peer
	m.mu.Lock()
	for name, st := range m.members {
		if name != m.name && st.m.State == StateAlive && !st.leaveIntent {
			p := peer{memberCopy(st.m), make(chan struct{})}
			peers = append(peers, p)
			acks[name] = p.acked
		}
	}
	m.leaveAcks = acks // from here on NotifyMsg owns it, under mu
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.leaveAcks = nil
		m.mu.Unlock()
	}()

	ctx, cancel := context.WithTimeout(context.Background(), ackWait)
	defer cancel()
	var wg sync.WaitGroup
	for _, p := range peers {
		mem := p.mem
		to, err := gossipNode(nodeName(mem.NodeID), mem.Addr)
		if err != nil { // memberlist addresses are ip:port; cannot happen
			continue
		}
		wg.Go(func() {
			if err := m.ml.SendReliable(to, msg); err != nil {
				m.log.Warn("membership: leave intent not delivered; that member will report a failure",
					"member", mem.NodeID, "addr", mem.Addr, "err", err)
				return
			}
			select {
			case <-p.acked:
			case <-ctx.Done():
				m.log.Warn("membership: leave intent not acknowledged in time; that member may report a failure first",
					"member", mem.NodeID, "addr", mem.Addr, "waited", ackWait)
			}
		})
	}
	wg.Wait()
}

// gossipNode addresses a member by node name and gossip address (ip:port).
func gossipNode(name, addr string) (*memberlist.Node, error) {
	host, port, err := splitIPPort(addr, false)
	if err != nil {
		return nil, err
	}
	return &memberlist.Node{Name: name, Addr: host, Port: uint16(port)}, nil
}

// memberCopy returns mem with its own listener slice, for handing out.
func memberCopy(mem Member) Member {
	mem.Meta = mem.Meta.clone()
	return mem
}
