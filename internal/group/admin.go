package group

// ListGroups (key 16) v0-v5, DescribeGroups (key 15) v0-v5 and
// DeleteGroups (key 42) v0-v2.
//
//   - ListGroups spans every loaded partition; while one loads the response
//     carries COORDINATOR_LOAD_IN_PROGRESS with the groups known so far. v4
//     filters by state, v5 by type (every group here is "classic"); both
//     filters compare case-insensitively, as Kafka does.
//   - DescribeGroups reports members' metadata and assignment only when the
//     group is Stable (as Kafka). An unknown group is state "Dead" with no
//     error. Authorized operations are -2147483648 unless requested (v3+);
//     requested, they are READ|DELETE|DESCRIBE (no authorizer here).
//   - DeleteGroups deletes only Empty groups (NON_EMPTY_GROUP otherwise),
//     writing tombstones for the group metadata and every committed offset.

import (
	"context"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupTypeClassic is the only group type this coordinator serves (KIP-848
// names the classic protocol "classic").
const groupTypeClassic = "classic"

// groupAuthorizedOps is READ(3) | DELETE(6) | DESCRIBE(8).
const groupAuthorizedOps = 1<<3 | 1<<6 | 1<<8

// ListGroups lists the groups of all loaded partitions.
func (c *Coordinator) ListGroups(_ context.Context, req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	resp := kmsg.NewPtrListGroupsResponse()
	resp.Version = req.Version
	if req.Version < 0 || req.Version > Versions[apiListGroups][1] {
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		return resp
	}
	c.mu.RLock()
	closed := c.closed
	c.mu.RUnlock()
	if closed {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	var states, types map[string]bool
	if req.Version >= 4 && len(req.StatesFilter) > 0 {
		states = make(map[string]bool)
		for _, s := range req.StatesFilter {
			states[strings.ToLower(s)] = true
		}
	}
	if req.Version >= 5 && len(req.TypesFilter) > 0 {
		types = make(map[string]bool)
		for _, t := range req.TypesFilter {
			types[strings.ToLower(t)] = true
		}
		if !types[groupTypeClassic] {
			return resp
		}
	}
	gs, loading := c.allGroups()
	if loading {
		resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
	}
	for _, g := range gs {
		g.mu.Lock()
		state, ptype, gone := g.state, g.protocolType, g.unloaded
		g.mu.Unlock()
		if gone || state == stateDead || (states != nil && !states[strings.ToLower(state.String())]) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = g.id, ptype, state.String(), groupTypeClassic
		resp.Groups = append(resp.Groups, lg)
	}
	return resp
}

// DescribeGroups describes groups and their members.
func (c *Coordinator) DescribeGroups(_ context.Context, req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	resp := kmsg.NewPtrDescribeGroupsResponse()
	resp.Version = req.Version
	for _, id := range req.Groups {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group = id
		if req.Version < 0 || req.Version > Versions[apiDescribeGroups][1] {
			dg.ErrorCode = kerr.UnsupportedVersion.Code
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		c.describe(id, &dg)
		if req.Version >= 3 && req.IncludeAuthorizedOperations && dg.ErrorCode == 0 {
			dg.AuthorizedOperations = groupAuthorizedOps
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}

func (c *Coordinator) describe(id string, dg *kmsg.DescribeGroupsResponseGroup) {
	_, g, code := c.lookup(id)
	if code != 0 {
		dg.ErrorCode = code
		return
	}
	dg.State = stateDead.String()
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.unloaded {
		dg.ErrorCode = kerr.NotCoordinator.Code
		return
	}
	dg.State = g.state.String()
	dg.ProtocolType = g.protocolType
	stable := g.state == stateStable
	if stable {
		dg.Protocol = g.protocol
	}
	for _, m := range g.sortedMembers() {
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
		dm.ProtocolMetadata, dm.MemberAssignment = []byte{}, []byte{}
		if stable {
			if md := m.metadataFor(g.protocol); md != nil {
				dm.ProtocolMetadata = md
			}
			if m.assignment != nil {
				dm.MemberAssignment = m.assignment
			}
		}
		dg.Members = append(dg.Members, dm)
	}
}

// DeleteGroups deletes Empty groups and their offsets.
func (c *Coordinator) DeleteGroups(ctx context.Context, req *kmsg.DeleteGroupsRequest) *kmsg.DeleteGroupsResponse {
	resp := kmsg.NewPtrDeleteGroupsResponse()
	resp.Version = req.Version
	for _, id := range req.Groups {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group = id
		if req.Version < 0 || req.Version > Versions[apiDeleteGroups][1] {
			rg.ErrorCode = kerr.UnsupportedVersion.Code
		} else {
			rg.ErrorCode = c.deleteGroup(ctx, id)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}

func (c *Coordinator) deleteGroup(ctx context.Context, id string) int16 {
	_, g, code := c.lookup(id)
	if code != 0 {
		return code
	}
	if g == nil {
		return kerr.GroupIDNotFound.Code
	}
	g.appendMu.Lock()
	defer g.appendMu.Unlock()
	g.mu.Lock()
	switch {
	case g.unloaded:
		g.mu.Unlock()
		return kerr.NotCoordinator.Code
	case g.state == stateDead:
		g.mu.Unlock()
		return kerr.GroupIDNotFound.Code
	case g.state != stateEmpty:
		g.mu.Unlock()
		return kerr.NonEmptyGroup.Code
	}
	// Dead while the tombstones are written: joins see
	// COORDINATOR_NOT_AVAILABLE and retry once the group is gone.
	g.state = stateDead // stateTime kept in case the write fails
	recs := g.tombstones(nil)
	recs = append(recs, kv{key: groupKey(id)})
	g.mu.Unlock()

	err := g.append(ctx, recs)

	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		if !g.unloaded {
			g.state = stateEmpty
		}
		c.log.Warn("cannot write group tombstones", "group", id, "err", err)
		return appendErrorCode(err)
	}
	for id := range g.pending {
		g.removePending(id)
	}
	g.offsets = make(map[tp]offsetEntry)
	c.removeGroup(g)
	return 0
}

// tombstones returns offset tombstones for the given partitions, or for all
// committed offsets if which is nil, sorted for a deterministic batch.
func (g *group) tombstones(which []tp) []kv {
	if which == nil {
		for k := range g.offsets {
			which = append(which, k)
		}
	}
	sort.Slice(which, func(i, j int) bool {
		if which[i].topic != which[j].topic {
			return which[i].topic < which[j].topic
		}
		return which[i].partition < which[j].partition
	})
	recs := make([]kv, 0, len(which)+1)
	for _, k := range which {
		recs = append(recs, kv{key: offsetKey(g.id, k.topic, k.partition)})
	}
	return recs
}
