package raftmeta

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/raft"
)

// Peer is one live broker as the membership layer (gossip) reports it. The
// server passes the full list to TryBootstrap and ReconcileMembers; the list
// may or may not include this node (it is added if missing).
type Peer struct {
	NodeID   int32
	RaftAddr string // the peer's advertised raft address (its (*Node).RaftAddr)
	// HasState is the peer's (*Node).HasState, carried in its gossip
	// metadata: true once the peer belongs to a cluster. TryBootstrap never
	// bootstraps while any peer reports it, so a broker starting next to an
	// existing cluster joins it instead of founding a second one.
	HasState bool
}

// HasState reports whether this node has Raft state: it bootstrapped, or a
// leader has replicated to it, or it restarted from a data directory that
// had either. A node with state never bootstraps again. The server
// advertises it in gossip as Peer.HasState.
func (n *Node) HasState() bool { return n.raft.LastIndex() > 0 }

// TryBootstrap forms a new cluster if, by the rule below, this node is the one
// that must. The server calls it with the live members each time membership
// changes, on every broker, until HasState turns true. It reports whether
// this call bootstrapped.
//
// The rule (all must hold; otherwise nothing happens and ok is false):
//
//  1. Config.BootstrapExpect >= 1 (N below).
//  2. This node has no Raft state (HasState is false).
//  3. No peer reports HasState: nobody already belongs to a cluster.
//  4. The peers plus this node number at least N distinct node ids.
//  5. Sorted by node id, this node is the first of the N lowest ids.
//
// The bootstrapping node then writes a configuration whose voters are
// exactly those N lowest-id peers (at their given raft addresses) and, being
// in it, starts an election; the other N-1 have no configuration, so they
// grant their vote (raft votes for anyone while unconfigured) and receive
// the configuration from the new leader. Raft persists the bootstrap in the
// log, so HasState stays true across restarts and rule 2 forbids a second
// bootstrap.
//
// Rule 5 makes the bootstrapper deterministic when the brokers started with
// BootstrapExpect see the same members: the node with the lowest id among
// the first N bootstraps, the others wait. It is not safe against brokers
// with BootstrapExpect set seeing different member lists at the same time
// (node 2 seeing {2,3,4} before node 1 becomes visible to it, while node 1
// sees {1,2,3}): give the initial quorum the lowest node ids and start the
// others after it formed, or start them with BootstrapExpect 0 (they join as
// non-voters through ReconcileMembers either way).
//
// Peers with a negative id or an empty address, or one id listed twice with
// different addresses, fail with ErrInvalidPeer. A closed node returns
// ErrClosed.
func (n *Node) TryBootstrap(peers []Peer) (ok bool, err error) {
	n.bootMu.Lock()
	defer n.bootMu.Unlock()
	if n.isClosed() {
		return false, ErrClosed
	}
	if n.HasState() {
		return false, nil
	}
	voters, ok, err := planBootstrap(n.cfg.NodeID, n.RaftAddr(), n.cfg.BootstrapExpect, peers)
	if !ok || err != nil {
		return false, err
	}
	conf := raft.Configuration{Servers: make([]raft.Server, len(voters))}
	for i, p := range voters {
		conf.Servers[i] = raft.Server{Suffrage: raft.Voter, ID: serverID(p.NodeID), Address: raft.ServerAddress(p.RaftAddr)}
	}
	if err := n.raft.BootstrapCluster(conf).Error(); err != nil {
		switch {
		case errors.Is(err, raft.ErrCantBootstrap):
			// A leader reached us between the HasState check and now: we
			// are already part of a cluster, which is the goal.
			return false, nil
		case errors.Is(err, raft.ErrRaftShutdown):
			return false, ErrClosed
		}
		return false, fmt.Errorf("raftmeta: bootstrap: %w", err)
	}
	n.logger.Info("raftmeta: bootstrapped a new cluster", "voters", voters)
	return true, nil
}

// planBootstrap applies TryBootstrap's rules 1 and 3-5 and returns the
// voters of the new cluster, sorted by id, when self must bootstrap.
func planBootstrap(self int32, selfAddr string, expect int, peers []Peer) ([]Peer, bool, error) {
	all, err := normalizePeers(self, selfAddr, peers)
	if err != nil || expect < 1 {
		return nil, false, err
	}
	for _, p := range all {
		if p.HasState && p.NodeID != self {
			return nil, false, nil
		}
	}
	if len(all) < expect || all[0].NodeID != self {
		return nil, false, nil
	}
	voters := slices.Clone(all[:expect])
	for i := range voters {
		voters[i].HasState = false
	}
	return voters, true, nil
}

// normalizePeers validates peers, drops exact duplicates, puts this node in
// (at selfAddr, whatever the list says for it: gossip may be stale about us)
// and sorts by node id.
func normalizePeers(self int32, selfAddr string, peers []Peer) ([]Peer, error) {
	out := make([]Peer, 0, len(peers)+1)
	out = append(out, Peer{NodeID: self, RaftAddr: selfAddr})
	for _, p := range peers {
		if p.NodeID < 0 || p.RaftAddr == "" {
			return nil, fmt.Errorf("%w: node %d at %q", ErrInvalidPeer, p.NodeID, p.RaftAddr)
		}
		if p.NodeID == self {
			continue
		}
		i := slices.IndexFunc(out, func(q Peer) bool { return q.NodeID == p.NodeID })
		switch {
		case i < 0:
			out = append(out, p)
		case out[i].RaftAddr != p.RaftAddr:
			return nil, fmt.Errorf("%w: node %d listed at %q and %q", ErrInvalidPeer, p.NodeID, out[i].RaftAddr, p.RaftAddr)
		default:
			out[i].HasState = out[i].HasState || p.HasState
		}
	}
	slices.SortFunc(out, func(a, b Peer) int { return cmp.Compare(a.NodeID, b.NodeID) })
	return out, nil
}
