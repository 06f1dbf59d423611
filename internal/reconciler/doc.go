// Package reconciler turns the applied cluster metadata into this broker's
// local partition replicas.
//
// raftmeta publishes an immutable State after every applied command; the
// Reconciler follows it in one goroutine. Each pass opens the replicas the
// metadata places on this broker (recovering their logs), makes each lead,
// follow the elected leader over the inter-broker listener, or wait while
// its partition is offline, and removes replicas of deleted topics and of
// partitions moved elsewhere. Replicas are opened with their topic's id
// (replica.Manager.OpenTopicID), so a topic deleted and recreated under the
// same name — while this broker was down, or between two passes that never
// saw it gone — never gets the deleted topic's log: the replica's
// partition.metadata names the old id, and the log is set aside. Partitions of __consumer_offsets that this
// broker leads are handed to the group coordinator (Groups.Load replays
// them on a goroutine of their own, so a long replay delays neither the
// pass nor any client), and taken back when leadership moves, after
// cancelling a replay still in flight.
//
// Nothing a client request waits on is locked during a pass. A handler
// that must see its own metadata write reflected locally (CreateTopics,
// Metadata's auto-creation, DeleteTopics, CreatePartitions, AlterConfigs)
// calls Wait with the applied index it needs, bounded by its own timeout:
// raftmeta writes return once applied on this node, so the current
// State().Index after the write is that index.
//
// The reconciler imports raftmeta and replica and nothing from the server;
// the server supplies the per-topic replica settings and the group
// coordinator's side as plain functions and the Groups interface.
package reconciler
