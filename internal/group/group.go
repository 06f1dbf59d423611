package group

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupState is a classic group's state, named as Kafka names it on the wire.
type groupState int8

const (
	stateEmpty groupState = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

func (s groupState) String() string {
	switch s {
	case stateEmpty:
		return "Empty"
	case statePreparingRebalance:
		return "PreparingRebalance"
	case stateCompletingRebalance:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	default:
		return "Dead"
	}
}

// consumerProtocolType is the protocol type of Kafka consumers, whose member
// metadata lists subscribed topics (used by OffsetDelete and expiry).
const consumerProtocolType = "consumer"

type tp struct {
	topic     string
	partition int32
}

// offsetEntry is one committed offset. expireTime is -1 unless the commit
// carried an explicit retention (OffsetCommit v2-v4).
type offsetEntry struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	commitTime  int64
	expireTime  int64
}

type protocol struct {
	name     string
	metadata []byte
}

// joinResult is what a blocked JoinGroup receives.
type joinResult struct {
	JoinResult
	err error
}

func joinError(err error, memberID string) joinResult {
	return joinResult{JoinResult: JoinResult{MemberID: memberID, Generation: -1}, err: err}
}

// syncResult is what a blocked SyncGroup receives.
type syncResult struct {
	SyncResult
	err error
}

func syncError(err error) syncResult { return syncResult{err: err} }

type member struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []protocol
	assignment       []byte
	order            uint64 // join order; the oldest remaining member leads

	// joinCh is non-nil while the member awaits the end of the join phase
	// (even if its request's ctx is gone: Kafka counts it as joined too);
	// syncCh while it awaits the leader's assignment. Both have capacity 1
	// and are sent to exactly once, then cleared, so senders never block.
	joinCh chan joinResult
	syncCh chan syncResult
	synced bool // sent SyncGroup in this generation

	timer    *time.Timer // session expiry
	timerSeq uint64
}

func (m *member) metadataFor(name string) []byte {
	for _, p := range m.protocols {
		if p.name == name {
			return p.metadata
		}
	}
	return nil
}

// matches reports whether ps equals the member's protocols, in order.
func (m *member) matches(ps []protocol) bool {
	if len(ps) != len(m.protocols) {
		return false
	}
	for i := range ps {
		if ps[i].name != m.protocols[i].name || !bytes.Equal(ps[i].metadata, m.protocols[i].metadata) {
			return false
		}
	}
	return true
}

// metaSnapshot is an encoded GroupMetadataValue; seq orders snapshots so a
// stale one is never appended after a newer one.
type metaSnapshot struct {
	seq   uint64
	value []byte
}

// group is one consumer group. Lock order: appendMu, then mu, then
// Coordinator.mu. appendMu is held across OffsetLog.Append so that records of
// one group reach the log in the order their effects are applied in memory;
// mu is never held across an append or a wait.
type group struct {
	c    *Coordinator
	part *partition
	id   string

	appendMu sync.Mutex

	mu           sync.Mutex
	state        groupState
	unloaded     bool // partition unloaded or coordinator closed
	protocolType string
	protocol     string
	generation   int32
	leader       string
	members      map[string]*member
	static       map[string]string      // group.instance.id -> member id
	pending      map[string]*time.Timer // KIP-394 member ids handed out, not yet joined
	nextOrder    uint64
	stateTime    int64           // ms the current state began; -1 unknown
	subscribed   map[string]bool // consumer subscriptions of this generation; nil unknown

	offsets        map[tp]offsetEntry
	pendingCommits map[tp]int // commits appended but not yet applied

	// cons is the consumer-protocol (KIP-848) state; nil for a classic
	// group (cgroup.go). Changed only with appendMu held too.
	cons *cgroup

	epoch          uint64 // bumped when a join phase starts or ends; stale timers compare it
	joinTimer      *time.Timer
	syncTimer      *time.Timer
	initialDelay   bool // join phase is in the initial rebalance delay
	initialRemain  time.Duration
	newMemberAdded bool

	metaSeq     uint64
	metaWritten uint64
	metaPending *metaSnapshot
}

func newGroup(c *Coordinator, p *partition, id string) *group {
	return &group{
		c:              c,
		part:           p,
		id:             id,
		state:          stateEmpty,
		members:        make(map[string]*member),
		static:         make(map[string]string),
		pending:        make(map[string]*time.Timer),
		stateTime:      nowMillis(c.now()),
		offsets:        make(map[tp]offsetEntry),
		pendingCommits: make(map[tp]int),
	}
}

func (g *group) setState(s groupState) {
	g.state = s
	g.stateTime = nowMillis(g.c.now())
}

// closedErr is the error for requests reaching a group that is gone: its
// partition was unloaded, or it is being deleted.
func (g *group) closedErr() error {
	if g.unloaded {
		return fmt.Errorf("%w: group %q unloaded", ErrNotCoordinator, g.id)
	}
	if g.state == stateDead {
		return fmt.Errorf("%w: group %q is being deleted", ErrCoordinatorNotAvailable, g.id)
	}
	return nil
}

func (g *group) sortedMembers() []*member {
	ms := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].order < ms[j].order })
	return ms
}

// fenced reports a static member presenting a member id other than the one
// registered for its instance id.
// fencedErr is ErrFencedInstanceID for a request of instanceID bearing a
// member id that is no longer the instance's.
func (g *group) fencedErr(instanceID *string, memberID string) error {
	return fmt.Errorf("%w: %s is not the current member of instance %q in group %q", ErrFencedInstanceID, memberID, deref(instanceID), g.id)
}

// unknownMemberErr is ErrUnknownMemberID for memberID in g.
func (g *group) unknownMemberErr(memberID string) error {
	return fmt.Errorf("%w: %q in group %q", ErrUnknownMemberID, memberID, g.id)
}

// illegalGenerationErr is ErrIllegalGeneration for a request of generation gen.
func (g *group) illegalGenerationErr(gen int32) error {
	return fmt.Errorf("%w: %d, group %q is at %d", ErrIllegalGeneration, gen, g.id, g.generation)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (g *group) fenced(instanceID *string, memberID string) bool {
	if instanceID == nil {
		return false
	}
	cur, ok := g.static[*instanceID]
	return ok && cur != memberID
}

// supportsProtocols mirrors Kafka: an empty group accepts any non-empty
// protocol type and list; otherwise the type must match and at least one
// protocol must be supported by every current member too.
func (g *group) supportsProtocols(ptype string, ps []protocol) bool {
	if len(g.members) == 0 {
		return ptype != "" && len(ps) > 0
	}
	if ptype != g.protocolType {
		return false
	}
	counts := g.protocolCounts()
	for _, p := range ps {
		if counts[p.name] == len(g.members) {
			return true
		}
	}
	return false
}

func (g *group) protocolCounts() map[string]int {
	counts := make(map[string]int)
	for _, m := range g.members {
		for _, p := range m.protocols {
			counts[p.name]++
		}
	}
	return counts
}

// selectProtocol picks, among the protocols every member supports, the one
// most members list first among those candidates (Kafka's vote). Ties go to
// the oldest member's preference so the choice is deterministic.
func (g *group) selectProtocol() string {
	counts := g.protocolCounts()
	votes := make(map[string]int)
	ms := g.sortedMembers()
	for _, m := range ms {
		for _, p := range m.protocols {
			if counts[p.name] == len(g.members) {
				votes[p.name]++
				break
			}
		}
	}
	best, bestVotes := "", -1
	if len(ms) > 0 {
		for _, p := range ms[0].protocols {
			if v, ok := votes[p.name]; ok && v > bestVotes {
				best, bestVotes = p.name, v
			}
		}
	}
	return best
}

// computeSubscribed parses the consumer protocol metadata of all members for
// the selected protocol; nil means unknown (not a consumer group, or some
// metadata did not parse), which OffsetDelete treats as "subscribed to all".
func (g *group) computeSubscribed() map[string]bool {
	if g.protocolType != consumerProtocolType || g.protocol == "" {
		return nil
	}
	topics := make(map[string]bool)
	for _, m := range g.members {
		var md kmsg.ConsumerMemberMetadata
		if err := md.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			return nil
		}
		for _, t := range md.Topics {
			topics[t] = true
		}
	}
	return topics
}

func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

func (g *group) allJoined() bool {
	if len(g.pending) > 0 {
		return false
	}
	for _, m := range g.members {
		if m.joinCh == nil {
			return false
		}
	}
	return true
}

// addMember registers m; the first member fixes the protocol type and the
// first member without a leader becomes leader.
func (g *group) addMember(m *member) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	g.nextOrder++
	m.order = g.nextOrder
	g.members[m.id] = m
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	if g.leader == "" {
		g.leader = m.id
	}
	if g.state == statePreparingRebalance && g.initialDelay {
		g.newMemberAdded = true
	}
}

// removeMember drops m, answering any blocked request of it with
// ErrUnknownMemberID, and hands leadership to the oldest remaining member.
func (g *group) removeMember(m *member) {
	if m.joinCh != nil {
		m.joinCh <- joinError(fmt.Errorf("%w: %s removed from group %q", ErrUnknownMemberID, m.id, g.id), m.id)
		m.joinCh = nil
	}
	if m.syncCh != nil {
		m.syncCh <- syncError(fmt.Errorf("%w: %s removed from group %q", ErrUnknownMemberID, m.id, g.id))
		m.syncCh = nil
	}
	if m.timer != nil {
		m.timer.Stop()
	}
	delete(g.members, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	if g.leader == m.id {
		g.leader = ""
		if ms := g.sortedMembers(); len(ms) > 0 {
			g.leader = ms[0].id
		}
	}
}

// removeMemberAndUpdate is a member leaving or timing out.
func (g *group) removeMemberAndUpdate(m *member, reason string) {
	g.removeMember(m)
	switch g.state {
	case stateStable, stateCompletingRebalance:
		g.prepareRebalance(reason)
	case statePreparingRebalance:
		g.maybeCompleteJoin()
	}
}

func (g *group) maybePrepareRebalance(reason string) {
	switch g.state {
	case stateStable, stateCompletingRebalance, stateEmpty:
		g.prepareRebalance(reason)
	}
}

// prepareRebalance starts a join phase. From Empty it waits the initial
// rebalance delay (extended while new members keep arriving, up to the
// rebalance timeout); otherwise it waits for every member to rejoin or the
// rebalance timeout.
func (g *group) prepareRebalance(reason string) {
	if g.state == stateCompletingRebalance {
		g.resetAssignments(fmt.Errorf("%w: %s", ErrRebalanceInProgress, reason))
	}
	g.stopSyncTimer()
	g.stopJoinTimer()
	wasEmpty := g.state == stateEmpty
	g.setState(statePreparingRebalance)
	g.epoch++
	epoch := g.epoch
	g.c.log.Debug("preparing rebalance", "group", g.id, "generation", g.generation, "reason", reason)
	if wasEmpty {
		delay := g.c.cfg.InitialRebalanceDelay
		g.initialDelay = true
		g.newMemberAdded = false
		g.initialRemain = max(g.rebalanceTimeout()-delay, 0)
		g.joinTimer = g.c.afterFunc(delay, func() { g.onJoinTimer(epoch) })
		return
	}
	g.initialDelay = false
	g.joinTimer = g.c.afterFunc(g.rebalanceTimeout(), func() { g.onJoinTimer(epoch) })
	g.maybeCompleteJoin()
}

func (g *group) onJoinTimer(epoch uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.epoch != epoch || g.state != statePreparingRebalance || g.unloaded {
		return
	}
	if g.initialDelay && g.newMemberAdded && g.initialRemain > 0 {
		g.newMemberAdded = false
		d := min(g.c.cfg.InitialRebalanceDelay, g.initialRemain)
		g.initialRemain -= d
		g.joinTimer = g.c.afterFunc(d, func() { g.onJoinTimer(epoch) })
		return
	}
	g.completeJoin()
}

func (g *group) maybeCompleteJoin() {
	if g.state == statePreparingRebalance && !g.initialDelay && g.allJoined() {
		g.completeJoin()
	}
}

// completeJoin ends the join phase: members that did not rejoin are removed,
// the generation advances and every joined member gets its response (the
// leader with all members' metadata).
func (g *group) completeJoin() {
	g.stopJoinTimer()
	g.initialDelay = false
	for _, m := range g.sortedMembers() {
		if m.joinCh == nil {
			g.c.log.Info("member did not rejoin in time; removing", "group", g.id, "member", m.id)
			g.removeMember(m)
		}
	}
	g.epoch++
	g.generation++
	if len(g.members) == 0 {
		g.protocol = ""
		g.subscribed = nil
		g.setState(stateEmpty)
		g.scheduleMetaFlush()
		return
	}
	g.protocol = g.selectProtocol()
	g.subscribed = g.computeSubscribed()
	g.setState(stateCompletingRebalance)
	ptype, proto := g.protocolType, g.protocol
	ms := g.sortedMembers()
	var all []JoinMember
	for _, m := range ms {
		all = append(all, JoinMember{MemberID: m.id, InstanceID: m.instanceID, ProtocolMetadata: m.metadataFor(proto)})
	}
	for _, m := range ms {
		r := JoinResult{MemberID: m.id, Generation: g.generation, ProtocolType: &ptype, Protocol: &proto, LeaderID: g.leader}
		if m.id == g.leader {
			r.Members = all
		}
		m.joinCh <- joinResult{JoinResult: r}
		m.joinCh = nil
		m.synced = false
		g.scheduleSession(m)
	}
	epoch := g.epoch
	g.syncTimer = g.c.afterFunc(g.rebalanceTimeout(), func() { g.onSyncTimer(epoch) })
	g.c.log.Debug("join complete", "group", g.id, "generation", g.generation, "members", len(ms), "protocol", proto)
}

// onSyncTimer removes members that never sent SyncGroup after a join phase
// (Kafka's pending-sync timeout) and rebalances without them.
func (g *group) onSyncTimer(epoch uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.epoch != epoch || g.unloaded || (g.state != stateCompletingRebalance && g.state != stateStable) {
		return
	}
	removed := false
	for _, m := range g.sortedMembers() {
		if !m.synced {
			g.removeMember(m)
			removed = true
		}
	}
	if removed {
		g.prepareRebalance("members did not sync in time")
	}
}

func (g *group) stopJoinTimer() {
	if g.joinTimer != nil {
		g.joinTimer.Stop()
		g.joinTimer = nil
	}
}

func (g *group) stopSyncTimer() {
	if g.syncTimer != nil {
		g.syncTimer.Stop()
		g.syncTimer = nil
	}
}

// resetAssignments clears assignments and fails blocked syncs with err.
func (g *group) resetAssignments(err error) {
	for _, m := range g.members {
		m.assignment = nil
		if m.syncCh != nil {
			m.syncCh <- syncError(err)
			m.syncCh = nil
		}
	}
}

// scheduleSession (re)starts m's session timer: if it fires before the next
// heartbeat, join or sync, m is removed and the group rebalances. Members
// blocked in JoinGroup or SyncGroup are covered by the phase timers instead.
func (g *group) scheduleSession(m *member) {
	if m.timer != nil {
		m.timer.Stop()
	}
	m.timerSeq++
	seq := m.timerSeq
	m.timer = g.c.afterFunc(m.sessionTimeout, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.unloaded || g.members[m.id] != m || m.timerSeq != seq || m.joinCh != nil || m.syncCh != nil {
			return
		}
		g.c.log.Info("member session expired; removing", "group", g.id, "member", m.id)
		g.removeMemberAndUpdate(m, "session timeout of "+m.id)
	})
}

// addPending records a KIP-394 member id that must come back within the
// session timeout; a pending member holds up the join phase like Kafka's.
func (g *group) addPending(id string, session time.Duration) {
	var t *time.Timer
	t = g.c.afterFunc(session, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.pending[id] != t || g.unloaded {
			return
		}
		delete(g.pending, id)
		g.maybeCompleteJoin()
	})
	g.pending[id] = t
}

func (g *group) removePending(id string) {
	if t, ok := g.pending[id]; ok {
		t.Stop()
		delete(g.pending, id)
	}
}

// shutdown is unload or Close: timers stop and blocked requests get err.
func (g *group) shutdown(err error) {
	g.unloaded = true
	g.stopJoinTimer()
	g.stopSyncTimer()
	for id := range g.pending {
		g.removePending(id)
	}
	for _, m := range g.members {
		if m.timer != nil {
			m.timer.Stop()
		}
		if m.joinCh != nil {
			m.joinCh <- joinError(err, m.id)
			m.joinCh = nil
		}
		if m.syncCh != nil {
			m.syncCh <- syncError(err)
			m.syncCh = nil
		}
	}
	if g.cons != nil {
		g.cons.stopTimers()
	}
	g.state = stateDead
}

// encodeMeta builds the GroupMetadataValue for the current generation;
// assign, if non-nil, overrides members' assignments (the leader's SyncGroup
// is persisted before it takes effect).
func (g *group) encodeMeta(assign map[string][]byte) []byte {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupValueVersion
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocol != "" {
		p := g.protocol
		v.Protocol = &p
	}
	if g.leader != "" && len(g.members) > 0 {
		l := g.leader
		v.Leader = &l
	}
	v.CurrentStateTimestamp = g.stateTime
	for _, m := range g.sortedMembers() {
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID = m.id
		vm.InstanceID = m.instanceID
		vm.ClientID = m.clientID
		vm.ClientHost = m.clientHost
		vm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout / time.Millisecond)
		vm.SessionTimeoutMillis = int32(m.sessionTimeout / time.Millisecond)
		vm.Subscription = m.metadataFor(g.protocol)
		if vm.Subscription == nil {
			vm.Subscription = []byte{}
		}
		vm.Assignment = m.assignment
		if assign != nil {
			vm.Assignment = assign[m.id]
		}
		if vm.Assignment == nil {
			vm.Assignment = []byte{}
		}
		v.Members = append(v.Members, vm)
	}
	return v.AppendTo(nil)
}

func (g *group) newSnapshot(assign map[string][]byte) *metaSnapshot {
	g.metaSeq++
	return &metaSnapshot{seq: g.metaSeq, value: g.encodeMeta(assign)}
}

// scheduleMetaFlush persists the current group metadata in the background,
// as Kafka does when a join phase leaves the group Empty.
func (g *group) scheduleMetaFlush() {
	g.metaPending = g.newSnapshot(nil)
	g.c.goBackground(func() {
		g.appendMu.Lock()
		defer g.appendMu.Unlock()
		g.mu.Lock()
		snap := g.metaPending
		g.metaPending = nil
		g.mu.Unlock()
		if snap == nil {
			return
		}
		if err := g.persistMeta(g.c.ctx, snap); err != nil {
			g.c.log.Warn("cannot persist group metadata", "group", g.id, "err", err)
		}
	})
}

// persistMeta appends snap unless a newer snapshot was already written or
// the group is gone. The caller holds appendMu and not mu.
func (g *group) persistMeta(ctx context.Context, snap *metaSnapshot) error {
	g.mu.Lock()
	skip := snap.seq <= g.metaWritten || g.unloaded || g.state == stateDead
	g.mu.Unlock()
	if skip {
		return nil
	}
	if err := g.append(ctx, []kv{{groupKey(g.id), snap.value}}); err != nil {
		return err
	}
	g.mu.Lock()
	g.metaWritten = max(g.metaWritten, snap.seq)
	g.mu.Unlock()
	return nil
}

// append writes recs as one batch. The caller holds appendMu and not mu.
// Errors wrap ErrNotCoordinator, ErrCoordinatorNotAvailable or
// ErrRecordTooLarge (see OffsetLog.Append).
func (g *group) append(ctx context.Context, recs []kv) error {
	_, err := g.part.log.Append(ctx, buildBatch(nowMillis(g.c.now()), recs))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotCoordinator), errors.Is(err, ErrCoordinatorNotAvailable), errors.Is(err, ErrRecordTooLarge):
		return fmt.Errorf("group %q: append to offsets log: %w", g.id, err)
	default:
		// Outside the OffsetLog contract: retriable, as Kafka answers
		// errors it does not know from its own log.
		return fmt.Errorf("%w: group %q: append to offsets log: %v", ErrCoordinatorNotAvailable, g.id, err)
	}
}
