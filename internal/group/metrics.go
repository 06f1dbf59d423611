package group

// CommittedOffsets is one group's committed offsets as of a moment, for
// metrics (kafka_exporter's consumer-group lag) computed at scrape time.
type CommittedOffsets struct {
	Group   string
	State   string
	Members int
	// Offsets maps topic → partition → committed offset.
	Offsets map[string]map[int32]int64
}

// Committed snapshots the committed offsets of every group of the
// __consumer_offsets partitions this coordinator serves (each group is
// reported by exactly one broker, its coordinator), sorted by group id.
// Groups of partitions still loading are left out. It takes each group's
// lock briefly and never blocks on I/O.
func (c *Coordinator) Committed() []CommittedOffsets {
	c.mu.RLock()
	closed := c.closed
	c.mu.RUnlock()
	if closed {
		return nil
	}
	gs, _ := c.allGroups()
	out := make([]CommittedOffsets, 0, len(gs))
	for _, g := range gs {
		g.mu.Lock()
		if g.unloaded || g.state == stateDead {
			g.mu.Unlock()
			continue
		}
		co := CommittedOffsets{Group: g.id, State: g.state.String(), Members: len(g.members),
			Offsets: make(map[string]map[int32]int64)}
		if g.cons != nil {
			co.State, co.Members = g.cons.stateString(), len(g.cons.members)
		}
		for k, e := range g.offsets {
			m := co.Offsets[k.topic]
			if m == nil {
				m = make(map[int32]int64)
				co.Offsets[k.topic] = m
			}
			m[k.partition] = e.offset
		}
		g.mu.Unlock()
		out = append(out, co)
	}
	return out
}
