package raftmeta

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// Raft membership changes. ReconcileMembers drives them from gossip; they
// stay exported for operators' tools and tests.

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

// RaftServer is one member of the raft configuration.
type RaftServer struct {
	NodeID   int32
	RaftAddr string
	Voter    bool // false: a non-voter, which replicates the log but has no vote
}

// RaftServers returns the latest raft configuration as this node knows it
// (possibly not yet committed), sorted by node id. Servers whose raft id is
// not a node id (never written by this package) are skipped.
func (n *Node) RaftServers() ([]RaftServer, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, n.raftError(err)
	}
	var out []RaftServer
	for _, s := range f.Configuration().Servers {
		id := parseServerID(s.ID)
		if id < 0 {
			continue
		}
		out = append(out, RaftServer{NodeID: id, RaftAddr: string(s.Address), Voter: s.Suffrage == raft.Voter})
	}
	slices.SortFunc(out, func(a, b RaftServer) int { return cmp.Compare(a.NodeID, b.NodeID) })
	return out, nil
}

func serverID(id int32) raft.ServerID { return raft.ServerID(strconv.Itoa(int(id))) }

// enqueueTimeout turns ctx's deadline into raft's enqueue timeout (0: none).
func enqueueTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return 0
}
