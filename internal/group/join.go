package group

// JoinGroup: the rebalance protocol's join phase. v4+ dynamic members
// first get ErrMemberIDRequired with an id to rejoin with (KIP-394); v5+
// static members (group.instance.id) take over their old member id; v9
// (KIP-814) tells a static leader rejoining a Stable group to skip the
// assignment, older leaders run it and their SyncGroup is answered with the
// current assignment.

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinGroup joins a member to a group, blocking until the join phase
// completes, the member is removed, or ctx is done. On error the result
// carries Generation -1 and, for ErrMemberIDRequired, the id to rejoin with.
func (c *Coordinator) JoinGroup(ctx context.Context, req *kmsg.JoinGroupRequest) (JoinResult, error) {
	r := c.join(ctx, req)
	if r.err != nil {
		return JoinResult{MemberID: r.MemberID, Generation: -1}, r.err
	}
	r.SkipAssignment = r.SkipAssignment && req.Version >= 9
	return r.JoinResult, nil
}

func ms(v int32) time.Duration { return time.Duration(v) * time.Millisecond }

func (c *Coordinator) join(ctx context.Context, req *kmsg.JoinGroupRequest) joinResult {
	j, err := c.joinRequestOf(ctx, req)
	if err != nil {
		return joinError(err, req.MemberID)
	}
	var g *group
	if req.MemberID == "" {
		g, err = c.getOrCreate(req.Group)
	} else {
		_, g, err = c.lookup(req.Group)
		if err == nil && g == nil {
			err = fmt.Errorf("%w: %s: no group %q", ErrUnknownMemberID, req.MemberID, req.Group)
		}
	}
	if err != nil {
		return joinError(err, req.MemberID)
	}
	if err := g.cgToClassic(ctx); err != nil {
		return joinError(err, req.MemberID)
	}

	g.mu.Lock()
	if err := g.closedErr(); err != nil {
		g.mu.Unlock()
		return joinError(err, req.MemberID)
	}
	if g.cons != nil {
		g.mu.Unlock()
		return joinError(fmt.Errorf("%w: group %q is a consumer-protocol group", ErrInconsistentProtocol, req.Group), req.MemberID)
	}
	if !g.supportsProtocols(j.protocolType, j.protocols) {
		g.mu.Unlock()
		return joinError(fmt.Errorf("%w: group %q does not support protocol type %q with these protocols", ErrInconsistentProtocol, req.Group, j.protocolType), req.MemberID)
	}
	if g.full(j, c.cfg.MaxSize) {
		g.removePending(req.MemberID)
		n := len(g.members)
		g.mu.Unlock()
		return joinError(fmt.Errorf("%w: group %q has %d members, group.max.size is %d", ErrGroupMaxSizeReached, req.Group, n, c.cfg.MaxSize), req.MemberID)
	}
	var out joinOutcome
	if req.MemberID == "" {
		out = g.joinUnknown(j)
	} else {
		out = g.joinKnown(j)
	}
	g.mu.Unlock()

	if out.persist != nil {
		return g.finishStaticReplace(out)
	}
	if out.wait == nil {
		return out.result
	}
	select {
	case r := <-out.wait:
		return r
	case <-ctx.Done():
		// The member stays counted as joined, as in Kafka when a client
		// disconnects mid-join; its session or the sync timer removes it.
		return joinError(fmt.Errorf("%w: join abandoned: %w", ErrRebalanceInProgress, ctx.Err()), req.MemberID)
	}
}

// joinRequestOf validates a JoinGroup (in Kafka's order: version, group id,
// coordinator, session timeout) and normalises it across versions.
func (c *Coordinator) joinRequestOf(ctx context.Context, req *kmsg.JoinGroupRequest) (joinRequest, error) {
	if err := checkVersion(apiJoinGroup, req.Version); err != nil {
		return joinRequest{}, err
	}
	if req.Group == "" {
		return joinRequest{}, ErrInvalidGroupID
	}
	if _, _, err := c.lookup(req.Group); err != nil {
		return joinRequest{}, err
	}
	session := ms(req.SessionTimeoutMillis)
	if session < c.cfg.MinSessionTimeout || session > c.cfg.MaxSessionTimeout {
		return joinRequest{}, fmt.Errorf("%w: %v not in [%v, %v]", ErrInvalidSessionTimeout, session, c.cfg.MinSessionTimeout, c.cfg.MaxSessionTimeout)
	}
	rebalance := ms(req.RebalanceTimeoutMillis)
	if req.Version == 0 || rebalance <= 0 {
		rebalance = session
	}
	var instanceID *string
	if req.Version >= 5 && req.InstanceID != nil {
		id := *req.InstanceID
		instanceID = &id
	}
	protos := make([]protocol, 0, len(req.Protocols))
	for _, p := range req.Protocols {
		protos = append(protos, protocol{name: p.Name, metadata: p.Metadata})
	}
	if req.Reason != nil {
		c.log.Debug("join group", "group", req.Group, "member", req.MemberID, "reason", *req.Reason)
	}
	ci := clientFrom(ctx)
	return joinRequest{
		memberID: req.MemberID, instanceID: instanceID, clientID: ci.id, clientHost: ci.host,
		session: session, rebalance: rebalance, protocolType: req.ProtocolType, protocols: protos,
		requireKnownID: req.Version >= 4 && instanceID == nil,
	}, nil
}

// joinRequest is a JoinGroup normalised across versions.
type joinRequest struct {
	memberID       string
	instanceID     *string
	clientID       string
	clientHost     string
	session        time.Duration
	rebalance      time.Duration
	protocolType   string
	protocols      []protocol
	requireKnownID bool
}

// joinOutcome is an immediate result, a channel to wait on, or a static
// member replacement that must be persisted before answering.
type joinOutcome struct {
	result  joinResult
	wait    chan joinResult
	persist *staticReplace
}

// staticReplace is the undo information for a static member that took over
// its old member id in a Stable group.
type staticReplace struct {
	m          *member
	oldID      string
	oldProtos  []protocol
	oldSession time.Duration
	oldRebal   time.Duration
	snap       *metaSnapshot
	result     joinResult
}

func (g *group) joinUnknown(j joinRequest) joinOutcome {
	prefix := j.clientID
	if j.instanceID != nil {
		prefix = *j.instanceID
	}
	newID := newMemberID(prefix)
	if j.instanceID != nil {
		if oldID, ok := g.static[*j.instanceID]; ok {
			return g.replaceStatic(g.members[oldID], newID, j)
		}
		j.memberID = newID
		return joinOutcome{wait: g.addMemberAndRebalance(j)}
	}
	if j.requireKnownID {
		g.addPending(newID, j.session)
		return joinOutcome{result: joinError(fmt.Errorf("%w: rejoin group %q as %s", ErrMemberIDRequired, g.id, newID), newID)}
	}
	j.memberID = newID
	return joinOutcome{wait: g.addMemberAndRebalance(j)}
}

func (g *group) joinKnown(j joinRequest) joinOutcome {
	if _, ok := g.pending[j.memberID]; ok {
		g.removePending(j.memberID)
		if j.instanceID != nil { // Kafka never hands pending ids to static members
			return joinOutcome{result: joinError(fmt.Errorf("%w: %s is a pending dynamic id", ErrUnknownMemberID, j.memberID), j.memberID)}
		}
		return joinOutcome{wait: g.addMemberAndRebalance(j)}
	}
	if g.fenced(j.instanceID, j.memberID) {
		return joinOutcome{result: joinError(g.fencedErr(j.instanceID, j.memberID), j.memberID)}
	}
	m := g.members[j.memberID]
	if m == nil || (j.instanceID != nil && g.static[*j.instanceID] == "") {
		return joinOutcome{result: joinError(g.unknownMemberErr(j.memberID), j.memberID)}
	}
	switch g.state {
	case statePreparingRebalance:
		return joinOutcome{wait: g.updateMemberAndRebalance(m, j)}
	case stateCompletingRebalance:
		if m.matches(j.protocols) {
			// A resent join (the first response was lost): answer with
			// the current generation.
			return joinOutcome{result: g.currentJoinResult(m, m.id == g.leader, false)}
		}
		return joinOutcome{wait: g.updateMemberAndRebalance(m, j)}
	case stateStable:
		if m.id == g.leader || !m.matches(j.protocols) {
			// The leader rejoining forces a rebalance: that is how it
			// reacts to metadata changes its members cannot see.
			return joinOutcome{wait: g.updateMemberAndRebalance(m, j)}
		}
		return joinOutcome{result: g.currentJoinResult(m, false, false)}
	default:
		return joinOutcome{result: joinError(g.unknownMemberErr(j.memberID), j.memberID)}
	}
}

// currentJoinResult answers with the current generation without a rebalance.
func (g *group) currentJoinResult(m *member, withMembers, skip bool) joinResult {
	ptype, proto := g.protocolType, g.protocol
	r := JoinResult{MemberID: m.id, Generation: g.generation, ProtocolType: &ptype, Protocol: &proto, LeaderID: g.leader, SkipAssignment: skip}
	if withMembers {
		for _, o := range g.sortedMembers() {
			r.Members = append(r.Members, JoinMember{MemberID: o.id, InstanceID: o.instanceID, ProtocolMetadata: o.metadataFor(proto)})
		}
	}
	return joinResult{JoinResult: r}
}

func (g *group) addMemberAndRebalance(j joinRequest) chan joinResult {
	m := &member{
		id: j.memberID, instanceID: j.instanceID, clientID: j.clientID, clientHost: j.clientHost,
		sessionTimeout: j.session, rebalanceTimeout: j.rebalance,
		protocolType: j.protocolType, protocols: j.protocols,
		joinCh: make(chan joinResult, 1),
	}
	g.addMember(m)
	g.maybePrepareRebalance("adding member " + m.id)
	ch := m.joinCh // completeJoin may run below and clear it
	g.maybeCompleteJoin()
	return ch
}

func (g *group) updateMemberAndRebalance(m *member, j joinRequest) chan joinResult {
	m.protocols = j.protocols
	m.sessionTimeout = j.session
	m.rebalanceTimeout = j.rebalance
	if m.joinCh != nil { // a resent join replaces the one still waiting
		m.joinCh <- joinError(fmt.Errorf("%w: join of %s superseded by a newer one", ErrRebalanceInProgress, m.id), m.id)
	}
	m.joinCh = make(chan joinResult, 1)
	ch := m.joinCh
	g.maybePrepareRebalance("updating member " + m.id)
	g.maybeCompleteJoin()
	return ch
}

// replaceStatic lets a static member that lost its member id (a restart)
// take its old place under newID. The old id's blocked requests are fenced.
func (g *group) replaceStatic(m *member, newID string, j joinRequest) joinOutcome {
	if m == nil { // cannot happen: static maps only to members
		return joinOutcome{result: joinError(g.unknownMemberErr(""), "")}
	}
	fenced := fmt.Errorf("%w: %s replaced by a new instance of %q", ErrFencedInstanceID, m.id, *j.instanceID)
	if m.joinCh != nil {
		m.joinCh <- joinError(fenced, m.id)
		m.joinCh = nil
	}
	if m.syncCh != nil {
		m.syncCh <- syncError(fenced)
		m.syncCh = nil
	}
	undo := &staticReplace{
		m: m, oldID: m.id, oldProtos: m.protocols, oldSession: m.sessionTimeout,
		oldRebal: m.rebalanceTimeout,
	}
	protocolUnchanged := g.protocol != "" && bytesEqualProto(m, j.protocols, g.protocol)
	g.renameMember(m, newID)
	m.clientID, m.clientHost = j.clientID, j.clientHost
	m.sessionTimeout, m.rebalanceTimeout = j.session, j.rebalance
	switch g.state {
	case stateStable:
		m.protocols = j.protocols
		if protocolUnchanged && g.selectProtocol() == g.protocol {
			g.scheduleSession(m)
			leader := m.id == g.leader
			undo.result = g.currentJoinResult(m, leader, leader)
			undo.snap = g.newSnapshot(nil)
			return joinOutcome{persist: undo}
		}
		return joinOutcome{wait: g.updateMemberAndRebalance(m, j)}
	case stateCompletingRebalance, statePreparingRebalance:
		// In CompletingRebalance the leader may already be assigning to
		// the old id, so rebalance (as Kafka does).
		return joinOutcome{wait: g.updateMemberAndRebalance(m, j)}
	default:
		return joinOutcome{result: joinError(g.unknownMemberErr(""), "")}
	}
}

// bytesEqualProto reports whether the member's metadata for the group's
// protocol is the same in ps.
func bytesEqualProto(m *member, ps []protocol, name string) bool {
	old := m.metadataFor(name)
	for _, p := range ps {
		if p.name == name {
			return old != nil && string(old) == string(p.metadata)
		}
	}
	return false
}

func (g *group) renameMember(m *member, newID string) {
	delete(g.members, m.id)
	if g.leader == m.id {
		g.leader = newID
	}
	m.id = newID
	g.members[newID] = m
	if m.instanceID != nil {
		g.static[*m.instanceID] = newID
	}
}

// finishStaticReplace persists the group with the static member's new id
// and answers; if the write fails the replacement is undone (Kafka does the
// same) and the member retries.
func (g *group) finishStaticReplace(out joinOutcome) joinResult {
	u := out.persist
	g.appendMu.Lock()
	err := g.persistMeta(g.c.ctx, u.snap)
	g.appendMu.Unlock()
	if err == nil {
		return u.result
	}
	g.c.log.Warn("cannot persist static member replacement", "group", g.id, "member", u.m.id, "err", err)
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.unloaded && g.members[u.m.id] == u.m && g.state == stateStable {
		g.renameMember(u.m, u.oldID)
		u.m.protocols, u.m.sessionTimeout, u.m.rebalanceTimeout = u.oldProtos, u.oldSession, u.oldRebal
	}
	return joinError(err, "")
}
