package group

// ListGroups spans every loaded partition; while one loads it reports
// ErrLoadInProgress with the groups known so far. The state and type filters
// compare case-insensitively, as Kafka does; groups are of type "classic" or
// "consumer" (KIP-848, with its states Empty, Assigning, Reconciling, Stable).
// DescribeGroups reports members' metadata and assignment only when the
// group is Stable (as Kafka); an unknown group is state "Dead" with no error,
// and so is a consumer group, as Kafka answers DescribeGroups v0-v5 for one
// (ConsumerGroupDescribe describes those).
// DeleteGroups deletes only Empty groups (ErrNonEmptyGroup otherwise),
// writing tombstones for the group metadata, the consumer-group records and
// every committed offset.

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Group types as ListGroups v5 names them (KIP-848).
const (
	groupTypeClassic  = "classic"
	groupTypeConsumer = "consumer"
)

// ListGroups lists the groups of all loaded partitions, keeping those whose
// state is in states and type in types (an empty filter keeps all). Groups
// are sorted by id. While a partition loads, the groups known so far come
// with an error wrapping ErrLoadInProgress.
func (c *Coordinator) ListGroups(_ context.Context, states, types []string) ([]ListedGroup, error) {
	c.mu.RLock()
	closed := c.closed
	c.mu.RUnlock()
	if closed {
		return nil, fmt.Errorf("%w: coordinator closed", ErrCoordinatorNotAvailable)
	}
	gs, loading := c.allGroups()
	var out []ListedGroup
	for _, g := range gs {
		g.mu.Lock()
		state, gone := g.state, g.unloaded
		lg := ListedGroup{Group: g.id, ProtocolType: g.protocolType, GroupState: state.String(), GroupType: groupTypeClassic}
		if g.cons != nil {
			lg.ProtocolType, lg.GroupState, lg.GroupType = consumerProtocolType, g.cons.stateString(), groupTypeConsumer
		}
		g.mu.Unlock()
		if gone || state == stateDead || (len(states) > 0 && !containsFold(states, lg.GroupState)) ||
			(len(types) > 0 && !containsFold(types, lg.GroupType)) {
			continue
		}
		out = append(out, lg)
	}
	if loading {
		return out, fmt.Errorf("%w: an offsets partition is loading", ErrLoadInProgress)
	}
	return out, nil
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// DescribeGroups describes groups and their members, one result per id.
func (c *Coordinator) DescribeGroups(_ context.Context, ids []string) []GroupDescription {
	out := make([]GroupDescription, 0, len(ids))
	for _, id := range ids {
		out = append(out, c.describe(id))
	}
	return out
}

func (c *Coordinator) describe(id string) GroupDescription {
	d := GroupDescription{Group: id}
	_, g, err := c.lookup(id)
	if err != nil {
		d.Err = err
		return d
	}
	d.State = stateDead.String()
	if g == nil {
		d.Unknown = true
		return d
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.unloaded {
		d.Err = g.closedErr()
		return d
	}
	if g.cons != nil {
		d.NotClassic = true
		return d // Dead: not a classic group
	}
	d.State = g.state.String()
	d.ProtocolType = g.protocolType
	stable := g.state == stateStable
	if stable {
		d.Protocol = g.protocol
	}
	for _, m := range g.sortedMembers() {
		dm := MemberDescription{
			MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost,
			ProtocolMetadata: []byte{}, MemberAssignment: []byte{},
		}
		if stable {
			if md := m.metadataFor(g.protocol); md != nil {
				dm.ProtocolMetadata = md
			}
			if m.assignment != nil {
				dm.MemberAssignment = m.assignment
			}
		}
		d.Members = append(d.Members, dm)
	}
	return d
}

// DeleteGroups deletes Empty groups and their offsets, one result per id.
func (c *Coordinator) DeleteGroups(ctx context.Context, ids []string) []GroupResult {
	out := make([]GroupResult, 0, len(ids))
	for _, id := range ids {
		out = append(out, GroupResult{Group: id, Err: c.deleteGroup(ctx, id)})
	}
	return out
}

func (c *Coordinator) deleteGroup(ctx context.Context, id string) error {
	_, g, err := c.lookup(id)
	if err != nil {
		return err
	}
	if g == nil {
		return fmt.Errorf("%w: %q", ErrGroupIDNotFound, id)
	}
	g.appendMu.Lock()
	defer g.appendMu.Unlock()
	g.mu.Lock()
	switch {
	case g.unloaded:
		g.mu.Unlock()
		return g.closedErr()
	case g.state == stateDead:
		g.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrGroupIDNotFound, id)
	case g.state != stateEmpty:
		g.mu.Unlock()
		return fmt.Errorf("%w: %q is %s", ErrNonEmptyGroup, id, g.state)
	case g.cons != nil && len(g.cons.members) > 0:
		g.mu.Unlock()
		return fmt.Errorf("%w: consumer group %q has %d members", ErrNonEmptyGroup, id, len(g.cons.members))
	}
	// Dead while the tombstones are written: joins see
	// ErrCoordinatorNotAvailable and retry once the group is gone.
	g.state = stateDead // stateTime kept in case the write fails
	recs := g.tombstones(nil)
	recs = append(recs, g.groupTombstones()...)
	g.mu.Unlock()

	err = g.append(ctx, recs)

	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		if !g.unloaded {
			g.state = stateEmpty
		}
		c.log.Warn("cannot write group tombstones", "group", id, "err", err)
		return fmt.Errorf("delete group: %w", err)
	}
	for id := range g.pending {
		g.removePending(id)
	}
	g.offsets = make(map[tp]offsetEntry)
	c.removeGroup(g)
	return nil
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
