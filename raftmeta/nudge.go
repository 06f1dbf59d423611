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
// follower at once. Nudges coalesce while one is being enqueued, so a burst
// of writes applied together costs one extra entry, not one each.

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
		// Enqueued, not waited for: its AppendEntries is all we want, and
		// raft may leave a barrier's future unanswered when it shuts down
		// right after (see drainApplies), which a waiter would never
		// outlive. Nudges that come while this one is enqueued coalesce;
		// one barrier per batch of applied writes is the most it costs.
		n.raft.Barrier(barrierTimeout)
	}
}
