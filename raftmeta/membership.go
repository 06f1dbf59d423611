package raftmeta

import (
	"context"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// Raft membership changes. The next iteration drives these from gossip
// (voters joining, non-voters, removal of dead nodes); they are exposed now
// because they are thin and let tests build multi-node clusters.

// RaftAddr returns the address other nodes dial to reach this node's raft
// transport (RaftAdvertise, or the bound address).
func (n *Node) RaftAddr() string { return string(n.addr) }

// AddVoter adds node id at addr as a voter, or updates its address. Only the
// controller can change membership (ErrNotController elsewhere).
func (n *Node) AddVoter(ctx context.Context, id int32, addr string) error {
	if err := n.checkWritable(); err != nil {
		return err
	}
	return n.await(ctx, n.raft.AddVoter(serverID(id), raft.ServerAddress(addr), 0, enqueueTimeout(ctx)))
}

// AddNonvoter adds node id at addr as a non-voting member that receives the
// log but does not count for quorum.
func (n *Node) AddNonvoter(ctx context.Context, id int32, addr string) error {
	if err := n.checkWritable(); err != nil {
		return err
	}
	return n.await(ctx, n.raft.AddNonvoter(serverID(id), raft.ServerAddress(addr), 0, enqueueTimeout(ctx)))
}

// RemoveServer removes node id from the raft configuration.
func (n *Node) RemoveServer(ctx context.Context, id int32) error {
	if err := n.checkWritable(); err != nil {
		return err
	}
	return n.await(ctx, n.raft.RemoveServer(serverID(id), 0, enqueueTimeout(ctx)))
}

func serverID(id int32) raft.ServerID { return raft.ServerID(strconv.Itoa(int(id))) }

// enqueueTimeout turns ctx's deadline into raft's enqueue timeout (0: none).
func enqueueTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return 0
}
