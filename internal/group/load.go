package group

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// loadReadBytes is how much LoadPartition asks OffsetLog.Read for at a time.
const loadReadBytes = 1 << 20

// loadedGroup accumulates a group's records during replay.
type loadedGroup struct {
	meta       *kmsg.GroupMetadataValue // nil: none or tombstoned
	metaOffset int64                    // offset of meta
	offsets    map[tp]offsetEntry
	cons       *loadedCG // consumer-group records (cgload.go)
}

// LoadPartition replays a __consumer_offsets partition and starts serving its
// groups. Requests for the partition's groups answer
// ErrLoadInProgress until it returns. Groups with members come back
// with their members, Stable, with fresh session timers (as in Kafka): members
// that are still alive keep heartbeating and no rebalance happens; the others
// time out. Loading an already loaded partition is a no-op.
func (c *Coordinator) LoadPartition(ctx context.Context, idx int32, log OffsetLog) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if _, ok := c.parts[idx]; ok {
		c.mu.Unlock()
		return nil
	}
	p := &partition{id: idx, log: log, loading: true, groups: make(map[string]*group)}
	c.parts[idx] = p
	c.mu.Unlock()

	loaded, pending, err := replay(ctx, log)
	c.mu.Lock()
	if c.parts[idx] != p || c.closed {
		c.mu.Unlock()
		return fmt.Errorf("group: partition %d unloaded while loading: %w", idx, context.Canceled)
	}
	if err != nil {
		delete(c.parts, idx)
		c.mu.Unlock()
		return fmt.Errorf("group: load __consumer_offsets-%d: %w", idx, err)
	}
	applyLateMarkers(p.lateMarkers, pending, loaded)
	var started []*group
	for id, lg := range loaded {
		if lg.meta == nil && len(lg.offsets) == 0 && !lg.isConsumer() {
			continue
		}
		if c.PartitionFor(id) != idx {
			c.log.Warn("group in the wrong offsets partition; ignoring", "group", id, "partition", idx)
			continue
		}
		g := newGroup(c, p, id)
		g.offsets = lg.offsets
		switch {
		case lg.isConsumer():
			g.restoreConsumer(lg.cons)
		case lg.meta != nil:
			g.restore(lg.meta)
		}
		p.groups[id] = g
		started = append(started, g)
	}
	p.txnOffsets = pending
	p.loading = false
	c.mu.Unlock()

	// Timers start only once the partition serves, outside c.mu.
	for _, g := range started {
		g.mu.Lock()
		if !g.unloaded {
			for _, m := range g.members {
				g.scheduleSession(m)
			}
			g.startConsumerTimers()
		}
		g.mu.Unlock()
	}
	c.log.Debug("loaded offsets partition", "partition", idx, "groups", len(started))
	return nil
}

// restore rebuilds group state from its last GroupMetadataValue. Members get
// only the selected protocol's metadata, which is all Kafka stores.
func (g *group) restore(v *kmsg.GroupMetadataValue) {
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	if v.Protocol != nil {
		g.protocol = *v.Protocol
	}
	g.stateTime = v.CurrentStateTimestamp
	for _, vm := range v.Members {
		rebalance := ms(vm.RebalanceTimeoutMillis)
		if rebalance <= 0 {
			rebalance = ms(vm.SessionTimeoutMillis)
		}
		m := &member{
			id: vm.MemberID, instanceID: vm.InstanceID, clientID: vm.ClientID, clientHost: vm.ClientHost,
			sessionTimeout: ms(vm.SessionTimeoutMillis), rebalanceTimeout: rebalance,
			protocolType: v.ProtocolType, protocols: []protocol{{name: g.protocol, metadata: vm.Subscription}},
			assignment: vm.Assignment, synced: true,
		}
		g.addMember(m)
	}
	if v.Leader != nil && g.members[*v.Leader] != nil {
		g.leader = *v.Leader
	}
	if len(g.members) > 0 && g.protocol != "" {
		g.state = stateStable
		g.subscribed = g.computeSubscribed()
	} else {
		// Members without a protocol cannot be Stable; drop them.
		for _, m := range g.sortedMembers() {
			g.removeMember(m)
		}
		g.state = stateEmpty
	}
}

// replay reads the log from start to end and returns each group's final
// metadata and offsets, and the offsets of transactions still open.
func replay(ctx context.Context, log OffsetLog) (map[string]*loadedGroup, map[int64]map[string]map[tp]offsetEntry, error) {
	var txns txnReplay
	groups := make(map[string]*loadedGroup)
	get := func(id string) *loadedGroup {
		lg := groups[id]
		if lg == nil {
			lg = &loadedGroup{offsets: make(map[tp]offsetEntry)}
			groups[id] = lg
		}
		return lg
	}
	off, end := log.LogStartOffset(), log.LogEndOffset()
	for off < end {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		data, err := log.Read(off, loadReadBytes)
		if err != nil {
			return nil, nil, fmt.Errorf("read offset %d: %w", off, err)
		}
		if len(data) == 0 {
			break
		}
		from := off
		next, err := decodeBatches(data, func(r decodedRecord) error {
			if r.offset < from {
				return nil // Read starts at the batch containing from
			}
			for _, r := range txns.add(r) {
				if err := applyRecord(get, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("at offset %d: %w", off, err)
		}
		if next <= off {
			return nil, nil, fmt.Errorf("%w at offset %d", ErrNoProgress, off)
		}
		off = next
	}
	return groups, txns.pending(), nil
}

// applyRecord applies one offsets-topic record. Keys versions 0-1 are offset
// commits, 2 group metadata; newer key versions (KIP-848 and transaction
// records) are skipped. A null value is a tombstone.
func applyRecord(get func(string) *loadedGroup, r decodedRecord) error {
	if len(r.key) < 2 {
		return fmt.Errorf("%w: key of %d bytes at offset %d", ErrCorruptRecord, len(r.key), r.offset)
	}
	switch binary.BigEndian.Uint16(r.key) {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(r.key); err != nil {
			return fmt.Errorf("%w: offset key at %d: %v", ErrCorruptRecord, r.offset, err)
		}
		lg := get(k.Group)
		t := tp{k.Topic, k.Partition}
		if r.value == nil {
			delete(lg.offsets, t)
			return nil
		}
		var v kmsg.OffsetCommitValue
		if err := v.ReadFrom(r.value); err != nil {
			return fmt.Errorf("%w: offset value at %d: %v", ErrCorruptRecord, r.offset, err)
		}
		e := offsetEntry{offset: v.Offset, leaderEpoch: -1, metadata: v.Metadata, commitTime: v.CommitTimestamp, expireTime: -1}
		if v.Version >= 3 {
			e.leaderEpoch = v.LeaderEpoch
		}
		if v.Version == 1 {
			e.expireTime = v.ExpireTimestamp
		}
		lg.offsets[t] = e
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(r.key); err != nil {
			return fmt.Errorf("%w: group key at %d: %v", ErrCorruptRecord, r.offset, err)
		}
		lg := get(k.Group)
		if r.value == nil {
			lg.meta = nil
			return nil
		}
		v := new(kmsg.GroupMetadataValue)
		if err := v.ReadFrom(r.value); err != nil {
			return fmt.Errorf("%w: group value at %d: %v", ErrCorruptRecord, r.offset, err)
		}
		lg.meta, lg.metaOffset = v, r.offset
	case keyCGMetadata, keyCGPartitionMeta, keyCGMemberMeta, keyCGTargetMeta, keyCGTargetMember, keyCGCurrentAssign:
		return applyCGRecord(get, cgKeyVersion(r.key), r)
	}
	return nil
}

// UnloadPartition stops serving the partition's groups (leadership moved).
// Blocked joins and syncs are answered ErrNotCoordinator; a load in progress is
// abandoned.
func (c *Coordinator) UnloadPartition(idx int32) {
	c.mu.Lock()
	p := c.parts[idx]
	delete(c.parts, idx)
	c.mu.Unlock()
	if p == nil {
		return
	}
	c.shutdownPartition(p)
}

// shutdownPartition shuts down every group of a partition already removed
// from c.parts (so no group can be added to it any more).
func (c *Coordinator) shutdownPartition(p *partition) {
	c.mu.RLock()
	gs := make([]*group, 0, len(p.groups))
	for _, g := range p.groups {
		gs = append(gs, g)
	}
	c.mu.RUnlock()
	for _, g := range gs {
		g.mu.Lock()
		g.shutdown(fmt.Errorf("%w: offsets partition %d unloaded", ErrNotCoordinator, p.id))
		g.mu.Unlock()
	}
}
