package raftmeta

// RaftState is this node's raft role, "Leader", "Follower", "Candidate" or
// "Shutdown" (hashicorp/raft's RaftState names), for operators: metrics
// export it beside RaftProgress. It never blocks.
func (n *Node) RaftState() string { return n.raft.State().String() }
