package raftmeta

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// membersState is what this node remembers of the membership the server
// reported, on every node (not only the controller): a follower that becomes
// controller continues from it instead of starting blind.
type membersState struct {
	// peers is the last list given to ReconcileMembers, by node id (raft
	// address as value); nil before the first call, and then the leader
	// loop does not reconcile at all (an empty view would fence everyone).
	peers map[int32]string
	// goneSince records, for each raft server missing from peers, when this
	// node first saw it missing.
	goneSince map[int32]time.Time
	// demoted are the voters RemoveRaftVoter demoted on this node while it
	// was the controller; the reconciler does not promote them again
	// (voters.go). Not replicated: a new controller starts without it.
	demoted map[int32]bool
}

// ReconcileMembers tells the metadata layer which brokers are alive. Call it
// on every broker, each time membership changes, with the full list of live
// members; this node may or may not be in it. Every node records the list
// (and since when each raft server has been missing), so that a newly elected
// controller continues where the old one stopped; only the established
// controller acts, elsewhere the call returns nil after recording. The
// controller also repeats the run every Config.ReconcileInterval with the
// last list, so timeouts fire without further calls.
//
// On the controller, in this order:
//
//   - Fencing: every registered broker missing from peers (other than this
//     node) gets Broker.Fenced = true, every fenced one present again is
//     unfenced; one SetBrokersFenced log entry for all changes. The server's
//     partition leader election (ElectLeaders) reads the fenced set.
//   - New members: a peer not in the raft configuration is added as a
//     non-voter, so every broker keeps a local, replicated copy of the
//     metadata; a member whose raft address changed is re-added at the new
//     address with its suffrage unchanged.
//   - Voters: while the configuration has fewer voters than
//     max(Config.BootstrapExpect, 1), live non-voters are promoted (lowest id
//     first). A voter missing from peers for longer than
//     Config.DeadVoterTimeout is replaced: a live non-voter (lowest id) is
//     promoted first, then the dead voter is removed, so the voter count
//     stays at the target. Without a live non-voter to promote, a dead voter
//     stays unless the configuration has more voters than the target. A
//     voter is never removed unless the live voters (in peers) remain a
//     majority of the voters left, and this node is never removed.
//   - Non-voters missing for longer than Config.DeadVoterTimeout are removed
//     (they are re-added if they come back).
//
// Losing leadership midway is not an error (the next controller continues):
// the call returns nil. Other errors are returned after the remaining steps
// of the run were skipped; the next run retries them. Invalid peers fail with
// ErrInvalidPeer before anything is recorded.
func (n *Node) ReconcileMembers(ctx context.Context, peers []Peer) error {
	all, err := normalizePeers(n.cfg.NodeID, n.RaftAddr(), peers)
	if err != nil {
		return err
	}
	set := make(map[int32]string, len(all))
	for _, p := range all {
		set[p.NodeID] = p.RaftAddr
	}
	n.membersMu.Lock()
	n.members.peers = set
	n.membersMu.Unlock()
	if n.isClosed() {
		return ErrClosed
	}
	err = n.reconcile(ctx, set)
	if errors.Is(err, ErrNotController) {
		return nil
	}
	return err
}

// lastPeers returns the last recorded member list, false before the first.
func (n *Node) lastPeers() (map[int32]string, bool) {
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	return n.members.peers, n.members.peers != nil
}

// reconcile runs one reconciliation with peers (which includes this node).
// It records missing servers on any node and acts only on the controller.
func (n *Node) reconcile(ctx context.Context, peers map[int32]string) error {
	select {
	case n.reconSem <- struct{}{}:
		defer func() { <-n.reconSem }()
	case <-ctx.Done():
		return ctx.Err()
	}
	servers, err := n.RaftServers()
	if err != nil {
		return err
	}
	gone := n.trackGone(servers, peers, time.Now())
	if !n.IsController() {
		return nil
	}
	var errs []error
	if fence, unfence := planFencing(n.fsm.current(), peers, n.cfg.NodeID); len(fence)+len(unfence) > 0 {
		n.logger.Info("raftmeta: fencing brokers", "fence", fence, "unfence", unfence)
		if _, err := n.propose(ctx, cmdSetBrokersFenced, &setBrokersFencedCmd{Fence: fence, Unfence: unfence}); err != nil {
			errs = append(errs, fmt.Errorf("raftmeta: fence brokers: %w", err))
		}
	}
	plan := planMembership(membershipInput{
		self:      n.cfg.NodeID,
		servers:   servers,
		peers:     peers,
		goneSince: gone,
		now:       time.Now(),
		deadAfter: n.cfg.DeadVoterTimeout,
		target:    max(n.cfg.BootstrapExpect, 1),
		demoted:   n.demotedVoters(),
	})
	for _, a := range plan {
		n.logger.Info("raftmeta: changing raft membership", "change", a.String())
		if err := n.applyMemberAction(ctx, a); err != nil {
			errs = append(errs, fmt.Errorf("raftmeta: %v: %w", a, err))
			break // later steps were planned assuming this one succeeded
		}
	}
	return errors.Join(errs...)
}

// trackGone updates, and returns a copy of, the time each raft server was
// first seen missing from peers. This node is never missing.
func (n *Node) trackGone(servers []RaftServer, peers map[int32]string, now time.Time) map[int32]time.Time {
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	inConfig := make(map[int32]bool, len(servers))
	for _, s := range servers {
		inConfig[s.NodeID] = true
		if _, live := peers[s.NodeID]; !live && s.NodeID != n.cfg.NodeID {
			if _, ok := n.members.goneSince[s.NodeID]; !ok {
				n.members.goneSince[s.NodeID] = now
			}
		}
	}
	for id := range n.members.goneSince {
		if _, live := peers[id]; live || !inConfig[id] {
			delete(n.members.goneSince, id)
		}
	}
	return maps.Clone(n.members.goneSince)
}

func (n *Node) applyMemberAction(ctx context.Context, a memberAction) error {
	switch a.op {
	case opAddNonvoter:
		return n.AddNonvoter(ctx, a.id, a.addr)
	case opAddVoter:
		return n.AddVoter(ctx, a.id, a.addr)
	case opRemove:
		return n.RemoveServer(ctx, a.id)
	}
	return fmt.Errorf("raftmeta: unknown membership action %d", a.op)
}

// planFencing lists the registered brokers to fence (missing from peers) and
// to unfence (present again), ascending. self is always alive.
func planFencing(s *State, peers map[int32]string, self int32) (fence, unfence []int32) {
	for _, id := range s.BrokerIDs() {
		_, live := peers[id]
		live = live || id == self
		switch b := s.Brokers[id]; {
		case !live && !b.Fenced:
			fence = append(fence, id)
		case live && b.Fenced:
			unfence = append(unfence, id)
		}
	}
	return fence, unfence
}

type memberOp uint8

const (
	opAddNonvoter memberOp = iota + 1 // add, or update the address of a non-voter
	opAddVoter                        // promote a non-voter, or update a voter's address
	opRemove
)

// memberAction is one raft configuration change of a reconciliation plan.
type memberAction struct {
	op   memberOp
	id   int32
	addr string
}

func (a memberAction) String() string {
	switch a.op {
	case opAddNonvoter:
		return fmt.Sprintf("add non-voter %d at %s", a.id, a.addr)
	case opAddVoter:
		return fmt.Sprintf("add voter %d at %s", a.id, a.addr)
	case opRemove:
		return fmt.Sprintf("remove %d", a.id)
	}
	return fmt.Sprintf("memberOp(%d) %d", a.op, a.id)
}

// membershipInput is everything planMembership decides from.
type membershipInput struct {
	self      int32
	servers   []RaftServer        // the current raft configuration
	peers     map[int32]string    // live members (including self) and their raft addresses
	goneSince map[int32]time.Time // servers missing from peers, since when
	now       time.Time
	deadAfter time.Duration
	target    int            // voters to keep, >= 1
	demoted   map[int32]bool // never promoted (RemoveRaftVoter; voters.go)
}

// planMembership computes the raft configuration changes of one
// reconciliation, in the order to apply them (see ReconcileMembers for the
// rules). It is pure and deterministic: sorted ids, no clock of its own.
func planMembership(in membershipInput) []memberAction {
	var plan []memberAction
	byID := make(map[int32]RaftServer, len(in.servers))
	for _, s := range in.servers {
		byID[s.NodeID] = s
	}
	for _, id := range slices.Sorted(maps.Keys(in.peers)) {
		addr := in.peers[id]
		s, ok := byID[id]
		switch {
		case !ok:
			plan = append(plan, memberAction{op: opAddNonvoter, id: id, addr: addr})
		case s.RaftAddr != addr && id != in.self:
			op := opAddNonvoter
			if s.Voter {
				op = opAddVoter
			}
			plan = append(plan, memberAction{op: op, id: id, addr: addr})
		}
	}

	dead := func(s RaftServer) bool {
		since, ok := in.goneSince[s.NodeID]
		_, live := in.peers[s.NodeID]
		return !live && s.NodeID != in.self && ok && in.now.Sub(since) > in.deadAfter
	}
	var candidates, deadVoters, deadNonvoters []RaftServer
	voters, liveVoters := 0, 0
	for _, s := range in.servers { // raft keeps no order; sort below
		_, live := in.peers[s.NodeID]
		live = live || s.NodeID == in.self
		switch {
		case s.Voter:
			voters++
			if live {
				liveVoters++
			} else if dead(s) {
				deadVoters = append(deadVoters, s)
			}
		case live && !in.demoted[s.NodeID]:
			candidates = append(candidates, s)
		case dead(s):
			deadNonvoters = append(deadNonvoters, s)
		}
	}
	byNodeID := func(a, b RaftServer) int { return cmp.Compare(a.NodeID, b.NodeID) }
	slices.SortFunc(candidates, byNodeID)
	slices.SortFunc(deadVoters, byNodeID)
	slices.SortFunc(deadNonvoters, byNodeID)

	promote := func() bool {
		if len(candidates) == 0 {
			return false
		}
		c := candidates[0]
		candidates = candidates[1:]
		plan = append(plan, memberAction{op: opAddVoter, id: c.NodeID, addr: in.peers[c.NodeID]})
		voters++
		liveVoters++
		return true
	}
	for voters < in.target && promote() {
	}
	for _, d := range deadVoters {
		if voters <= in.target && !promote() {
			continue // nobody to take its place: keep the voter count
		}
		// Never leave a configuration whose live voters are not a majority:
		// that would hand the quorum to the missing ones.
		if voters-1 < 1 || 2*liveVoters <= voters-1 {
			continue
		}
		plan = append(plan, memberAction{op: opRemove, id: d.NodeID})
		voters--
	}
	for _, d := range deadNonvoters {
		plan = append(plan, memberAction{op: opRemove, id: d.NodeID})
	}
	return plan
}
