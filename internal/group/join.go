package group

// JoinGroup (key 11), v0-v9.
//
//   - v0 has no rebalance timeout (the session timeout is used); v1 adds it.
//   - v4 (KIP-394): a dynamic member joining with an empty member id gets
//     MEMBER_ID_REQUIRED and a generated id to join again with.
//   - v5 (KIP-345): group.instance.id. A static member rejoining with an
//     empty member id takes over its old member id's place; in Stable with
//     unchanged protocols this does not rebalance.
//   - v7 returns the protocol type; v8 carries a reason (logged); v9
//     (KIP-814) tells a static leader rejoining a Stable group to skip the
//     assignment. Older leaders in that case run it and their SyncGroup is
//     answered with the current assignment.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinGroup joins a member to a group, blocking until the join phase
// completes, the member is removed, or ctx is done.
func (c *Coordinator) JoinGroup(ctx context.Context, req *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Version = req.Version
	r := c.join(ctx, req)
	resp.ErrorCode = r.code
	resp.MemberID = r.memberID
	resp.Generation = r.generation
	resp.ProtocolType = r.protocolType
	resp.Protocol = r.protocol
	resp.LeaderID = r.leader
	resp.Members = r.members
	resp.SkipAssignment = r.skipAssignment && req.Version >= 9
	if r.code != 0 {
		resp.Generation = -1
	}
	return resp
}

func ms(v int32) time.Duration { return time.Duration(v) * time.Millisecond }

func (c *Coordinator) join(ctx context.Context, req *kmsg.JoinGroupRequest) joinResult {
	if req.Version < 0 || req.Version > Versions[apiJoinGroup][1] {
		return joinError(kerr.UnsupportedVersion.Code, req.MemberID)
	}
	if req.Group == "" {
		return joinError(kerr.InvalidGroupID.Code, req.MemberID)
	}
	if _, _, code := c.lookup(req.Group); code != 0 {
		return joinError(code, req.MemberID)
	}
	session := ms(req.SessionTimeoutMillis)
	if session < c.cfg.MinSessionTimeout || session > c.cfg.MaxSessionTimeout {
		return joinError(kerr.InvalidSessionTimeout.Code, req.MemberID)
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
	ci := clientFrom(ctx)
	if req.Reason != nil {
		c.log.Debug("join group", "group", req.Group, "member", req.MemberID, "reason", *req.Reason)
	}
	j := joinRequest{
		memberID: req.MemberID, instanceID: instanceID, clientID: ci.id, clientHost: ci.host,
		session: session, rebalance: rebalance, protocolType: req.ProtocolType, protocols: protos,
		requireKnownID: req.Version >= 4 && instanceID == nil,
	}

	var g *group
	var code int16
	if req.MemberID == "" {
		g, code = c.getOrCreate(req.Group)
	} else {
		_, g, code = c.lookup(req.Group)
		if code == 0 && g == nil {
			code = kerr.UnknownMemberID.Code
		}
	}
	if code != 0 {
		return joinError(code, req.MemberID)
	}

	g.mu.Lock()
	if code := g.closedCode(); code != 0 {
		g.mu.Unlock()
		return joinError(code, req.MemberID)
	}
	if !g.supportsProtocols(j.protocolType, j.protocols) {
		g.mu.Unlock()
		return joinError(kerr.InconsistentGroupProtocol.Code, req.MemberID)
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
		return joinError(kerr.RebalanceInProgress.Code, req.MemberID)
	}
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
		return joinOutcome{result: joinError(kerr.MemberIDRequired.Code, newID)}
	}
	j.memberID = newID
	return joinOutcome{wait: g.addMemberAndRebalance(j)}
}

func (g *group) joinKnown(j joinRequest) joinOutcome {
	if _, ok := g.pending[j.memberID]; ok {
		g.removePending(j.memberID)
		if j.instanceID != nil { // Kafka never hands pending ids to static members
			return joinOutcome{result: joinError(kerr.UnknownMemberID.Code, j.memberID)}
		}
		return joinOutcome{wait: g.addMemberAndRebalance(j)}
	}
	if g.fenced(j.instanceID, j.memberID) {
		return joinOutcome{result: joinError(kerr.FencedInstanceID.Code, j.memberID)}
	}
	m := g.members[j.memberID]
	if m == nil || (j.instanceID != nil && g.static[*j.instanceID] == "") {
		return joinOutcome{result: joinError(kerr.UnknownMemberID.Code, j.memberID)}
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
		return joinOutcome{result: joinError(kerr.UnknownMemberID.Code, j.memberID)}
	}
}

// currentJoinResult answers with the current generation without a rebalance.
func (g *group) currentJoinResult(m *member, withMembers, skip bool) joinResult {
	ptype, proto := g.protocolType, g.protocol
	r := joinResult{memberID: m.id, generation: g.generation, protocolType: &ptype, protocol: &proto, leader: g.leader, skipAssignment: skip}
	if withMembers {
		for _, o := range g.sortedMembers() {
			jm := kmsg.NewJoinGroupResponseMember()
			jm.MemberID, jm.InstanceID, jm.ProtocolMetadata = o.id, o.instanceID, o.metadataFor(proto)
			r.members = append(r.members, jm)
		}
	}
	return r
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
		m.joinCh <- joinError(kerr.RebalanceInProgress.Code, m.id)
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
		return joinOutcome{result: joinError(kerr.UnknownMemberID.Code, "")}
	}
	if m.joinCh != nil {
		m.joinCh <- joinError(kerr.FencedInstanceID.Code, m.id)
		m.joinCh = nil
	}
	if m.syncCh != nil {
		m.syncCh <- syncResult{code: kerr.FencedInstanceID.Code}
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
		return joinOutcome{result: joinError(kerr.UnknownMemberID.Code, "")}
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
	return joinError(appendErrorCode(err), "")
}
