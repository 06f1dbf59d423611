package raftmeta

// RaftProgress is this node's own position in the metadata log. It exists for
// operators (Kafka's DescribeQuorum): hashicorp/raft keeps follower progress
// private to the leader's replication goroutines, so the only log positions
// any node can report are its own.
type RaftProgress struct {
	// Term is the current raft term, which plays the role of Kafka's
	// metadata-log leader epoch.
	Term uint64
	// LastIndex is the index of the last entry in this node's log (its log
	// end, inclusive), including entries not yet committed.
	LastIndex uint64
	// CommitIndex is the latest index this node knows to be committed.
	CommitIndex uint64
	// AppliedIndex is the latest index applied to this node's FSM.
	AppliedIndex uint64
}

// RaftProgress reads this node's term and log positions from raft. The four
// numbers are read one after the other, not atomically; each is a valid
// recent value. It never blocks on the network.
func (n *Node) RaftProgress() RaftProgress {
	return RaftProgress{
		Term:         n.raft.CurrentTerm(),
		LastIndex:    n.raft.LastIndex(),
		CommitIndex:  n.raft.CommitIndex(),
		AppliedIndex: n.raft.AppliedIndex(),
	}
}
