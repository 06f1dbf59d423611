package raftmeta

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"

	"github.com/hashicorp/raft"
)

// Operator voter changes (KIP-853's AddRaftVoter and RemoveRaftVoter, keys
// 80 and 81), mapped onto the raft configuration that ReconcileMembers
// otherwise manages alone. A voter is named as in KRaft by node id and
// directory id (Broker.DirectoryID), so a node whose disk was replaced is
// not mistaken for the voter it was. Both run on the controller, forwarded
// there from any node, one at a time with reconciliation (reconSem).
//
//   - AddRaftVoter promotes a live member that replicates the log as a
//     non-voter (KRaft's observer) to voter. A node already voting is
//     ErrDuplicateVoter; a node that is not a non-voter member, is not
//     alive in the membership, or whose registered directory id differs, is
//     ErrVoterNotReady (Kafka times out waiting for such an observer to
//     catch up: REQUEST_TIMED_OUT).
//   - RemoveRaftVoter demotes a voter to non-voter: as in KRaft it keeps
//     replicating the log as an observer if it runs. An id that is not a
//     voter, a directory id that differs, or the last voter is
//     ErrVoterNotFound (KRaft's VoterSet refuses an empty set too). The
//     reconciler keeps max(bootstrap-expect, 1) voters: when the demotion
//     would leave fewer, a live non-voter is promoted in its place first
//     (replaceVoter), and without one the request is refused
//     (ErrNoReplacementVoter) rather than silently undone. The controller
//     also remembers the demotion, so its reconciler never picks that node
//     to replace a dead voter until AddRaftVoter adds it back; a newly
//     elected controller does not know of earlier demotions (the memory is
//     not in the log).

type raftVoterArgs struct {
	ID          int32
	DirectoryID [16]byte
}

var (
	fwdAddRaftVoter    = forwardMethod[raftVoterArgs, struct{}]{"AddRaftVoter", (*Node).addRaftVoterLocal}
	fwdRemoveRaftVoter = forwardMethod[raftVoterArgs, struct{}]{"RemoveRaftVoter", (*Node).removeRaftVoterLocal}
)

// AddRaftVoter promotes non-voter id, whose data directory is dirID, to
// voter (see above).
func (n *Node) AddRaftVoter(ctx context.Context, id int32, dirID [16]byte) error {
	_, err := fwdAddRaftVoter.call(ctx, n, raftVoterArgs{ID: id, DirectoryID: dirID})
	return err
}

// RemoveRaftVoter demotes voter id, whose data directory is dirID, to
// non-voter (see above).
func (n *Node) RemoveRaftVoter(ctx context.Context, id int32, dirID [16]byte) error {
	_, err := fwdRemoveRaftVoter.call(ctx, n, raftVoterArgs{ID: id, DirectoryID: dirID})
	return err
}

// lockVoters takes reconSem so that an operator change never interleaves
// with a reconciliation's planned changes.
func (n *Node) lockVoters(ctx context.Context) (unlock func(), err error) {
	select {
	case n.reconSem <- struct{}{}:
		return func() { <-n.reconSem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// beginVoterChange starts an operator's voter change: this node must be
// writable, takes the voter lock (the caller defers unlock) and lists the
// Raft servers as they are under that lock.
func (n *Node) beginVoterChange(ctx context.Context) (servers []RaftServer, unlock func(), err error) {
	if err := n.checkWritable(); err != nil {
		return nil, nil, err
	}
	unlock, err = n.lockVoters(ctx)
	if err != nil {
		return nil, nil, err
	}
	servers, err = n.RaftServers()
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return servers, unlock, nil
}

func (n *Node) addRaftVoterLocal(ctx context.Context, a raftVoterArgs) (struct{}, error) {
	servers, unlock, err := n.beginVoterChange(ctx)
	if err != nil {
		return struct{}{}, err
	}
	defer unlock()
	i := slices.IndexFunc(servers, func(s RaftServer) bool { return s.NodeID == a.ID })
	switch b, registered := n.fsm.current().Brokers[a.ID]; {
	case i >= 0 && servers[i].Voter:
		return struct{}{}, fmt.Errorf("%w: node %d is already a voter", ErrDuplicateVoter, a.ID)
	case i < 0:
		return struct{}{}, fmt.Errorf("%w: node %d does not replicate the metadata log (not a member)", ErrVoterNotReady, a.ID)
	case !registered || b.DirectoryID != a.DirectoryID:
		return struct{}{}, fmt.Errorf("%w: no observer %d with directory id %s", ErrVoterNotReady, a.ID, formatUUID(a.DirectoryID))
	case !n.isLivePeer(a.ID):
		return struct{}{}, fmt.Errorf("%w: node %d is not alive in the membership", ErrVoterNotReady, a.ID)
	}
	n.membersMu.Lock()
	delete(n.members.demoted, a.ID)
	n.membersMu.Unlock()
	n.logger.Info("raftmeta: adding voter on request", "node", a.ID)
	return struct{}{}, n.await(ctx, n.raft.AddVoter(serverID(a.ID), raft.ServerAddress(servers[i].RaftAddr), 0, enqueueTimeout(ctx)))
}

func (n *Node) removeRaftVoterLocal(ctx context.Context, a raftVoterArgs) (struct{}, error) {
	servers, unlock, err := n.beginVoterChange(ctx)
	if err != nil {
		return struct{}{}, err
	}
	defer unlock()
	voters := 0
	isVoter := false
	for _, s := range servers {
		if s.Voter {
			voters++
			isVoter = isVoter || s.NodeID == a.ID
		}
	}
	switch b, registered := n.fsm.current().Brokers[a.ID]; {
	case !isVoter:
		return struct{}{}, fmt.Errorf("%w: node %d is not a voter", ErrVoterNotFound, a.ID)
	case !registered || b.DirectoryID != a.DirectoryID:
		return struct{}{}, fmt.Errorf("%w: voter %d has another directory id than %s", ErrVoterNotFound, a.ID, formatUUID(a.DirectoryID))
	case voters == 1:
		return struct{}{}, fmt.Errorf("%w: node %d is the last voter", ErrVoterNotFound, a.ID)
	}
	if a.ID == n.cfg.NodeID {
		// raft shuts a leader down when it demotes itself: hand the
		// leadership over and let the call (forwardMethod.call retries on
		// ErrNotController) go to the new controller, which demotes this
		// node as a follower that keeps running as an observer.
		// A transfer that fails (the target was not caught up in time) is
		// retried the same way, until ctx ends.
		n.logger.Info("raftmeta: transferring leadership to demote this node on request")
		if err := n.await(ctx, n.raft.LeadershipTransfer()); err != nil {
			n.logger.Info("raftmeta: leadership transfer failed; retrying", "err", err)
			return struct{}{}, &NotControllerError{ControllerID: n.cfg.NodeID, Err: err}
		}
		return struct{}{}, &NotControllerError{ControllerID: -1}
	}
	if err := n.replaceVoter(ctx, servers, voters, a.ID); err != nil {
		return struct{}{}, err
	}
	n.membersMu.Lock()
	if n.members.demoted == nil {
		n.members.demoted = map[int32]bool{}
	}
	n.members.demoted[a.ID] = true
	n.membersMu.Unlock()
	n.logger.Info("raftmeta: demoting voter on request", "node", a.ID)
	return struct{}{}, n.await(ctx, n.raft.DemoteVoter(serverID(a.ID), 0, enqueueTimeout(ctx)))
}

// replaceVoter keeps the voter count the reconciler maintains
// (max(BootstrapExpect, 1)) when voter id is about to be demoted: if the
// count would drop below it, the live non-voter with the lowest id (never
// one demoted on request) is promoted first, so the reconciler has nothing
// to undo, even after a change of controller. Without one the demotion is
// refused (ErrNoReplacementVoter). Before the first ReconcileMembers (a
// single broker) there is no target to keep.
func (n *Node) replaceVoter(ctx context.Context, servers []RaftServer, voters int, id int32) error {
	peers, ok := n.lastPeers()
	if !ok || voters-1 >= max(n.cfg.BootstrapExpect, 1) {
		return nil
	}
	demoted := n.demotedVoters()
	for _, s := range servers { // sorted by node id
		if _, live := peers[s.NodeID]; !live || s.Voter || s.NodeID == id || demoted[s.NodeID] {
			continue
		}
		n.logger.Info("raftmeta: promoting a voter to replace one removed on request", "node", s.NodeID, "replaces", id)
		return n.await(ctx, n.raft.AddVoter(serverID(s.NodeID), raft.ServerAddress(s.RaftAddr), 0, enqueueTimeout(ctx)))
	}
	return fmt.Errorf("%w: removing voter %d would leave %d voters, fewer than bootstrap-expect %d, and no live observer can take its place",
		ErrNoReplacementVoter, id, voters-1, max(n.cfg.BootstrapExpect, 1))
}

// isLivePeer reports whether id is in the last member list the server gave
// (ReconcileMembers); before the first one (a single broker) every node
// counts as alive.
func (n *Node) isLivePeer(id int32) bool {
	peers, ok := n.lastPeers()
	if !ok || id == n.cfg.NodeID {
		return true
	}
	_, live := peers[id]
	return live
}

// demotedVoters returns a copy of the ids RemoveRaftVoter demoted here.
func (n *Node) demotedVoters() map[int32]bool {
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	out := make(map[int32]bool, len(n.members.demoted))
	for id := range n.members.demoted {
		out[id] = true
	}
	return out
}

// formatUUID renders an id as Kafka tools print UUIDs (URL-safe base64,
// no padding).
func formatUUID(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }
