package group

// group.max.size: a JoinGroup that would grow a group past Config.MaxSize is
// refused with ErrGroupMaxSizeReached, following Kafka's acceptJoiningMember:
// an existing member is always taken back, except during a rebalance that
// already has MaxSize members rejoined (the last to rejoin is left out);
// a new member is taken while the group has fewer than MaxSize members.
// Unlike Kafka, members handed a KIP-394 id and not yet joined (pending)
// count towards the size, so a client cannot grow the pending set without
// bound by sending v4+ joins without a member id.

// full reports whether j must be refused because the group is at
// maxSize (<= 0: unlimited). Called with g.mu held.
func (g *group) full(j joinRequest, maxSize int) bool {
	if maxSize <= 0 {
		return false
	}
	if j.instanceID != nil && g.static[*j.instanceID] != "" {
		return false // a static member replacing itself: the size stays the same
	}
	if m := g.members[j.memberID]; m != nil {
		return g.state == statePreparingRebalance && m.joinCh == nil && g.numAwaiting() >= maxSize
	}
	n := len(g.members) + len(g.pending)
	if _, ok := g.pending[j.memberID]; ok {
		n-- // the pending member itself, coming back
	}
	return n >= maxSize
}

// numAwaiting counts the members that have (re)joined in this join phase.
func (g *group) numAwaiting() int {
	n := 0
	for _, m := range g.members {
		if m.joinCh != nil {
			n++
		}
	}
	return n
}
