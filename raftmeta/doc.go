// Package raftmeta holds Strom's cluster metadata (brokers, topics,
// partition leadership, producer-id blocks, the cluster id) and the Raft node
// that replicates it: the controller.
//
// # Design
//
// Every broker runs hashicorp/raft with raft-boltdb/v2, even alone: a single
// broker is a one-voter cluster, so there is one code path for one node and
// for many. The raft leader is the controller; only it accepts writes.
//
// The metadata is a deterministic state machine (fsm.go). Each raft log
// entry is one command: a type byte followed by a JSON body (command.go).
// The command codes are append-only; an entry with a code this binary does
// not know fails loudly (ErrUnknownCommand, logged on every replica) rather
// than being skipped. Anything random — topic ids, the replica placement
// offset, the cluster id — is chosen by the proposer and written into the
// command, so every replica applying the log computes identical state.
//
// Readers never lock the FSM: after each applied command the FSM publishes a
// new immutable *State through an atomic pointer, and Changed returns a
// channel closed at the next publication. The controller id is not FSM state
// (it is raft's view of the leader) and is overlaid on the published copy.
//
// Snapshots are the whole State as JSON (snapshot.go), kept by raft's file
// snapshot store in DataDir/raft/snapshots; the log and raft's stable store
// are DataDir/raft/raft.db. Nothing else is persisted outside raft: the node
// id the directory belongs to is a key in raft's stable store, and a node
// with existing raft state never bootstraps again.
//
// Leadership follows Consul: raft's buffered NotifyCh feeds a monitor
// goroutine that starts a leader loop per term; the loop issues a Barrier so
// the state reflects everything earlier leaders committed, sets the cluster id
// if there is none, and only then marks the term established (IsController).
//
// # Not yet
//
// Joining voters and non-voters through gossip, forwarding writes from
// followers to the controller, fencing brokers and re-electing partition
// leaders on broker failure (the FSM already has the SetPartitionState
// command for it), and updating this node's advertised raft address in the
// raft configuration when it changes across restarts.
package raftmeta
