// Package controller is the cluster's control loop: the part of a broker
// that turns gossip membership into controller decisions.
//
// Every broker of a multi-broker cluster runs one Controller. On every
// broker it
//
//   - founds the controller quorum (raftmeta's TryBootstrap) once
//     bootstrap-expect brokers have met, and then announces in its gossip
//     metadata that it has Raft state, so no peer ever founds a second
//     cluster;
//   - reports the live members to the metadata node after every membership
//     event and every tick (raftmeta's ReconcileMembers). Every node records
//     them, so a newly elected controller continues where the last one
//     stopped; the Raft leader fences brokers that left the membership,
//     unfences those that came back, adds new brokers as non-voters and
//     replaces voters that stay dead;
//   - re-contacts its join list while it sees fewer peers than registered
//     brokers (a healed partition merges at once rather than at
//     memberlist's next 30 s push-pull), and restarts gossip when its derived
//     advertise address moves (a container reconnected with a new IP).
//
// On the controller (the established Raft leader) it also plans partition
// leadership (election.go, pure functions of a raftmeta.State): new leaders
// from the ISR for partitions whose leader is dead or fenced (unclean only
// where a topic allows it), dead brokers dropped from the ISR of partitions
// whose leader lives, as KRaft does, and preferred leaders restored every
// leader.imbalance.check.interval. Each change is written with
// raftmeta's AlterPartition, whose partition-epoch check refuses a change
// planned from a state that has moved on; the next step plans again. It
// completes partition reassignments whose target replicas are all in the
// ISR (reassign.go, raftmeta's ReassignPartition); a new controller
// finishes those its predecessor started. ElectOne (elect.go) computes the
// elections clients ask for with ElectLeaders; the server applies them.
//
// The controller depends on two small interfaces declared here, Meta
// (*raftmeta.Node) and Gossip (*membership.Membership), so it is tested
// against a fake membership feed and an in-memory Raft node without
// sockets (controller_test.go). A single broker (no --join, bootstrap-expect
// <= 1) runs no Controller: it is its own one-voter quorum.
//
// Concurrency: one goroutine, started by Start and waited for by Close,
// runs every step; a background gossip rejoin is its only other goroutine.
package controller
