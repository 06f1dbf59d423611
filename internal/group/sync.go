package group

// SyncGroup: the leader's assignment is persisted (GroupMetadataValue) before
// the group becomes Stable and the waiting followers are answered; members
// missing from the leader's assignment get an empty one. While the partition
// loads the answer is ErrRebalanceInProgress (not ErrLoadInProgress, which
// old clients do not expect), as in Kafka.

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// SyncGroup blocks followers until the leader's assignment is persisted, the
// group rebalances again, or ctx is done.
func (c *Coordinator) SyncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) (SyncResult, error) {
	r := c.sync(ctx, req)
	if r.err != nil {
		return SyncResult{MemberAssignment: []byte{}}, r.err
	}
	if r.MemberAssignment == nil {
		r.MemberAssignment = []byte{}
	}
	return r.SyncResult, nil
}

func (c *Coordinator) sync(ctx context.Context, req *kmsg.SyncGroupRequest) syncResult {
	g, err := c.syncGroupOf(req)
	if err != nil {
		return syncError(err)
	}
	var instanceID *string
	if req.Version >= 3 {
		instanceID = req.InstanceID
	}
	g.mu.Lock()
	m, immediate := g.syncCheck(req, instanceID)
	if immediate != nil {
		g.mu.Unlock()
		return *immediate
	}
	// CompletingRebalance: wait for the leader's assignment.
	g.markSynced(m)
	if m.syncCh != nil {
		m.syncCh <- syncError(fmt.Errorf("%w: sync of %s superseded by a newer one", ErrRebalanceInProgress, m.id))
	}
	ch := make(chan syncResult, 1)
	m.syncCh = ch
	var snap *metaSnapshot
	var assign map[string][]byte
	epoch, gen := g.epoch, g.generation
	if m.id == g.leader {
		assign = g.leaderAssignment(req.GroupAssignment)
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
		return syncError(fmt.Errorf("%w: sync abandoned: %w", ErrRebalanceInProgress, ctx.Err()))
	}
}

// syncGroupOf validates a SyncGroup's version, group id and coordinator and
// returns its group.
func (c *Coordinator) syncGroupOf(req *kmsg.SyncGroupRequest) (*group, error) {
	if err := checkVersion(apiSyncGroup, req.Version); err != nil {
		return nil, err
	}
	if req.Group == "" {
		return nil, ErrInvalidGroupID
	}
	_, g, err := c.lookup(req.Group)
	switch {
	case errors.Is(err, ErrLoadInProgress):
		return nil, fmt.Errorf("%w: %v", ErrRebalanceInProgress, err)
	case err != nil:
		return nil, err
	case g == nil:
		return nil, fmt.Errorf("%w: %s: no group %q", ErrUnknownMemberID, req.MemberID, req.Group)
	}
	return g, nil
}

// syncCheck returns the member, or the immediate answer unless the group
// is CompletingRebalance and the sync must wait. Caller holds g.mu.
func (g *group) syncCheck(req *kmsg.SyncGroupRequest, instanceID *string) (*member, *syncResult) {
	fail := func(err error) (*member, *syncResult) { r := syncError(err); return nil, &r }
	if err := g.closedErr(); err != nil {
		return fail(err)
	}
	m := g.members[req.MemberID]
	switch {
	case g.fenced(instanceID, req.MemberID):
		return fail(g.fencedErr(instanceID, req.MemberID))
	case m == nil:
		return fail(g.unknownMemberErr(req.MemberID))
	case req.Generation != g.generation:
		return fail(g.illegalGenerationErr(req.Generation))
	case req.Version >= 5 && ((req.ProtocolType != nil && *req.ProtocolType != g.protocolType) ||
		(req.Protocol != nil && *req.Protocol != g.protocol)):
		return fail(fmt.Errorf("%w: group %q uses %s/%s", ErrInconsistentProtocol, g.id, g.protocolType, g.protocol))
	case g.state == stateEmpty:
		return fail(g.unknownMemberErr(req.MemberID))
	case g.state == statePreparingRebalance:
		return fail(fmt.Errorf("%w: group %q", ErrRebalanceInProgress, g.id))
	case g.state == stateStable:
		// A resent sync: answer with the current assignment.
		g.markSynced(m)
		g.scheduleSession(m)
		r := g.syncSuccess(m.assignment)
		return m, &r
	}
	return m, nil
}

// leaderAssignment is the leader's assignment restricted to current members,
// with an empty one for members it left out. Caller holds g.mu.
func (g *group) leaderAssignment(as []kmsg.SyncGroupRequestGroupAssignment) map[string][]byte {
	assign := make(map[string][]byte, len(g.members))
	for _, a := range as {
		if _, ok := g.members[a.MemberID]; ok {
			assign[a.MemberID] = a.MemberAssignment
		}
	}
	for id := range g.members {
		if assign[id] == nil {
			assign[id] = []byte{}
		}
	}
	return assign
}

func (g *group) syncSuccess(assignment []byte) syncResult {
	ptype, proto := g.protocolType, g.protocol
	return syncResult{SyncResult: SyncResult{MemberAssignment: assignment, ProtocolType: &ptype, Protocol: &proto}}
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
		g.resetAssignments(fmt.Errorf("store assignment: %w", err))
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
