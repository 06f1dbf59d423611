package raftmeta

import "github.com/hashicorp/raft"

// Followers learn of a commit late unless nudged. hashicorp/raft tells a
// follower the leader's commit index only in its next AppendEntries: the
// next entry, or, while no entry comes, a probe every CommitTimeout (50 to
// 100 ms with production timers). Until then every other broker lags the
// controller's metadata: a new topic's followers, or a partition's new
// leader after a failover, start that much later (a fresh topic's first
// acks=all record took 65-97 ms on a 3-broker cluster, against 5-8 ms with
// the 5 ms test timers). Lowering CommitTimeout would buy the same with a
// probe to every follower every few milliseconds for ever, idle or not.
//
// So after each write the leader appends a barrier, a log entry raft keeps
// from the FSM: its AppendEntries carries the new commit index to every
// follower at once. Barriers are coalesced, at most one in flight and one
// pending, so a burst of writes costs one or two extra entries, not one
// each.

// nudgeFollowers asks the nudger for a barrier after a committed write.
func (n *Node) nudgeFollowers() {
	select {
	case n.nudgeCh <- struct{}{}:
	default: // one is pending already; it covers this write too
	}
}

// nudger appends a barrier for each coalesced nudge while this node leads,
// until shutdown. It runs on n.wg.
func (n *Node) nudger() {
	for {
		select {
		case <-n.shutdownCh:
			return
		case <-n.nudgeCh:
		}
		if n.raft.State() != raft.Leader {
			continue
		}
		// The error needs no handling: a barrier lost to a leadership
		// change or shutdown leaves the followers to the next entry or
		// probe, as without it.
		_ = n.raft.Barrier(barrierTimeout).Error()
	}
}
