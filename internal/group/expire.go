package group

// Offset expiry (offsets.retention.minutes, KIP-211), swept every
// OffsetsRetentionCheckInterval:
//
//   - an Empty group with a protocol type loses all offsets once the
//     retention has passed since it became Empty (commit time if unknown);
//   - a group without protocol type (standalone consumers) loses each offset
//     once the retention has passed since its commit;
//   - a Stable consumer group loses offsets of topics no member subscribes
//     to, counted from their commit;
//   - an offset committed with an explicit retention (OffsetCommit v2-v4)
//     expires at its own expire timestamp instead;
//   - offsets with a commit being appended never expire.
//
// An Empty group left without offsets is deleted (group tombstone).

import "time"

// runSweep is the retention timer's callback; it re-arms itself.
func (c *Coordinator) runSweep() {
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return
	}
	c.bg.Add(1)
	c.mu.RUnlock()
	defer c.bg.Done()
	c.expireOffsets(c.now())
	c.mu.Lock()
	if !c.closed {
		c.sweep.Reset(c.cfg.OffsetsRetentionCheckInterval)
	}
	c.mu.Unlock()
}

// expireOffsets deletes expired offsets of every loaded group and returns how
// many offsets were removed.
func (c *Coordinator) expireOffsets(now time.Time) int {
	gs, _ := c.allGroups()
	removed := 0
	for _, g := range gs {
		removed += g.expire(nowMillis(now))
	}
	return removed
}

func (g *group) expire(now int64) int {
	g.appendMu.Lock()
	defer g.appendMu.Unlock()
	g.mu.Lock()
	if g.unloaded || g.state == stateDead {
		g.mu.Unlock()
		return 0
	}
	retention := g.c.cfg.OffsetsRetention.Milliseconds()
	var base func(offsetEntry) int64
	var subscribed map[string]bool
	switch {
	case g.cons != nil && len(g.cons.members) > 0:
		// A consumer group with members keeps its offsets.
	case g.cons != nil:
		base = func(e offsetEntry) int64 { return e.commitTime }
	case g.protocolType != "" && g.state == stateEmpty:
		base = func(e offsetEntry) int64 {
			if g.stateTime >= 0 {
				return g.stateTime
			}
			return e.commitTime
		}
	case g.protocolType == consumerProtocolType && g.subscribed != nil && g.state == stateStable:
		base = func(e offsetEntry) int64 { return e.commitTime }
		subscribed = g.subscribed
	case g.protocolType == "":
		base = func(e offsetEntry) int64 { return e.commitTime }
	}
	var which []tp
	if base != nil {
		for k, e := range g.offsets {
			if subscribed[k.topic] || g.pendingCommits[k] > 0 {
				continue
			}
			if (e.expireTime >= 0 && now >= e.expireTime) || (e.expireTime < 0 && now-base(e) >= retention) {
				which = append(which, k)
			}
		}
	}
	deleteGroup := g.state == stateEmpty && len(g.offsets) == len(which) && len(g.pending) == 0 &&
		(g.cons == nil || len(g.cons.members) == 0)
	if len(which) == 0 && !deleteGroup {
		g.mu.Unlock()
		return 0
	}
	recs := g.tombstones(which)
	if deleteGroup {
		g.state = stateDead // keep stateTime: it is the retention base if this write fails
		recs = append(recs, g.groupTombstones()...)
	}
	g.mu.Unlock()

	err := g.append(g.c.ctx, recs)

	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		if deleteGroup && !g.unloaded {
			g.state = stateEmpty
		}
		g.c.log.Warn("cannot write expired offset tombstones", "group", g.id, "err", err)
		return 0
	}
	for _, k := range which {
		delete(g.offsets, k)
	}
	if deleteGroup {
		g.c.removeGroup(g)
	}
	return len(which)
}
