package group

// SyncGroup (key 14), v0-v5.
//
//   - The leader's SyncGroup carries every member's assignment; it is
//     persisted (GroupMetadataValue) before the group becomes Stable and the
//     waiting followers are answered. Members missing from the leader's
//     assignment get an empty one.
//   - v3 adds group.instance.id (fencing); v5 echoes and checks the protocol
//     type and name (INCONSISTENT_GROUP_PROTOCOL on mismatch).
//   - While the partition loads, REBALANCE_IN_PROGRESS (not
//     COORDINATOR_LOAD_IN_PROGRESS, which old clients do not expect).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SyncGroup blocks followers until the leader's assignment is persisted, the
// group rebalances again, or ctx is done.
func (c *Coordinator) SyncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	resp := kmsg.NewPtrSyncGroupResponse()
	resp.Version = req.Version
	r := c.sync(ctx, req)
	resp.ErrorCode = r.code
	resp.MemberAssignment = r.assignment
	if resp.MemberAssignment == nil {
		resp.MemberAssignment = []byte{}
	}
	if r.code == 0 {
		resp.ProtocolType, resp.Protocol = r.protocolType, r.protocol
	}
	return resp
}

func (c *Coordinator) sync(ctx context.Context, req *kmsg.SyncGroupRequest) syncResult {
	if req.Version < 0 || req.Version > Versions[apiSyncGroup][1] {
		return syncResult{code: kerr.UnsupportedVersion.Code}
	}
	if req.Group == "" {
		return syncResult{code: kerr.InvalidGroupID.Code}
	}
	_, g, code := c.lookup(req.Group)
	switch {
	case code == kerr.CoordinatorLoadInProgress.Code:
		return syncResult{code: kerr.RebalanceInProgress.Code}
	case code != 0:
		return syncResult{code: code}
	case g == nil:
		return syncResult{code: kerr.UnknownMemberID.Code}
	}
	var instanceID *string
	if req.Version >= 3 {
		instanceID = req.InstanceID
	}

	g.mu.Lock()
	if code := g.closedCode(); code != 0 {
		g.mu.Unlock()
		return syncResult{code: code}
	}
	m := g.members[req.MemberID]
	var immediate *syncResult
	switch {
	case g.fenced(instanceID, req.MemberID):
		immediate = &syncResult{code: kerr.FencedInstanceID.Code}
	case m == nil:
		immediate = &syncResult{code: kerr.UnknownMemberID.Code}
	case req.Generation != g.generation:
		immediate = &syncResult{code: kerr.IllegalGeneration.Code}
	case req.Version >= 5 && ((req.ProtocolType != nil && *req.ProtocolType != g.protocolType) ||
		(req.Protocol != nil && *req.Protocol != g.protocol)):
		immediate = &syncResult{code: kerr.InconsistentGroupProtocol.Code}
	case g.state == stateEmpty:
		immediate = &syncResult{code: kerr.UnknownMemberID.Code}
	case g.state == statePreparingRebalance:
		immediate = &syncResult{code: kerr.RebalanceInProgress.Code}
	case g.state == stateStable:
		// A resent sync: answer with the current assignment.
		g.markSynced(m)
		g.scheduleSession(m)
		r := g.syncSuccess(m.assignment)
		immediate = &r
	}
	if immediate != nil {
		g.mu.Unlock()
		return *immediate
	}

	// CompletingRebalance: wait for the leader's assignment.
	g.markSynced(m)
	if m.syncCh != nil {
		m.syncCh <- syncResult{code: kerr.RebalanceInProgress.Code}
	}
	ch := make(chan syncResult, 1)
	m.syncCh = ch
	var snap *metaSnapshot
	var assign map[string][]byte
	epoch, gen := g.epoch, g.generation
	if m.id == g.leader {
		assign = make(map[string][]byte, len(g.members))
		for _, a := range req.GroupAssignment {
			if _, ok := g.members[a.MemberID]; ok {
				assign[a.MemberID] = a.MemberAssignment
			}
		}
		for id := range g.members {
			if assign[id] == nil {
				assign[id] = []byte{}
			}
		}
		snap = g.newSnapshot(assign)
	}
	g.mu.Unlock()

	if snap != nil {
		g.storeAssignment(snap, assign, epoch, gen)
	}
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		return syncResult{code: kerr.RebalanceInProgress.Code}
	}
}

func (g *group) syncSuccess(assignment []byte) syncResult {
	ptype, proto := g.protocolType, g.protocol
	return syncResult{assignment: assignment, protocolType: &ptype, protocol: &proto}
}

// markSynced notes m's SyncGroup; once every member synced the pending-sync
// timer is no longer needed.
func (g *group) markSynced(m *member) {
	m.synced = true
	for _, o := range g.members {
		if !o.synced {
			return
		}
	}
	g.stopSyncTimer()
}

// storeAssignment persists the leader's assignment and, if the group is still
// in the same join phase, makes it Stable and answers every waiting member.
// A failed write fails the waiting syncs and rebalances, as in Kafka.
func (g *group) storeAssignment(snap *metaSnapshot, assign map[string][]byte, epoch uint64, gen int32) {
	g.appendMu.Lock()
	defer g.appendMu.Unlock()
	err := g.persistMeta(g.c.ctx, snap)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.unloaded || g.epoch != epoch || g.generation != gen || g.state != stateCompletingRebalance {
		return
	}
	if err != nil {
		g.c.log.Warn("cannot persist group assignment", "group", g.id, "generation", gen, "err", err)
		g.resetAssignments(appendErrorCode(err))
		g.prepareRebalance("error storing the group assignment")
		return
	}
	for id, m := range g.members {
		m.assignment = assign[id]
		if m.syncCh != nil {
			m.syncCh <- g.syncSuccess(m.assignment)
			m.syncCh = nil
		}
	}
	g.setState(stateStable)
}
