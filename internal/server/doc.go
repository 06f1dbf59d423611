// Package server is one Strom broker: the assembly of its parts and the
// Kafka API handlers.
//
// # Assembly
//
// Server.Start opens, in order: the Kafka listeners (so port 0 resolves
// before anything is advertised), the metadata node (raftmeta: the Raft
// controller quorum, a one-voter quorum of its own for a single broker), the
// replica manager (replica), the group coordinator (internal/group) and, in
// a cluster, the control loop (internal/controller: gossip, quorum
// bootstrap, fencing, leader elections). It then registers the broker,
// creates __consumer_offsets on first start, starts the reconciler
// (internal/reconciler: local replicas follow the applied metadata) and
// waits for its first pass, and only then serves clients. Close stops them
// in reverse, the listeners first.
//
// The server implements the small interfaces the lower packages declare:
// replica.ISRChanger (a leader's ISR change goes to the controller as an
// AlterPartition), group.OffsetLog (a __consumer_offsets partition through
// the replica write path) and reconciler.Groups.
//
// # Handlers
//
// One file per Kafka API key, each opening with a header comment on its
// versions and behaviour. dispatch.go holds the version table behind both
// ApiVersions and wire's version check, and routes each decoded request.
// Handlers read the metadata from the immutable raftmeta.State, write
// through raftmeta (forwarded to the controller when this broker is not
// it), and reach partitions through replica. A handler that must see its
// own metadata write reflected in the local replicas (CreateTopics,
// Metadata's auto-creation, DeleteTopics, CreatePartitions, AlterConfigs)
// waits for the reconciler to reach the applied index, within its timeout;
// no lock is shared with the reconciler. Shared by several handlers:
// catchup.go (a miss is looked up again after catching up with the
// controller), leaderhint.go (KIP-951 CurrentLeader and NodeEndpoints in
// Produce and Fetch answers) and goneleader.go (Metadata waits out a leader
// the followers find gone).
//
// # Authorization
//
// authorize.go is the one helper every handler calls for what Kafka
// checks: authorize(req, op, resourceType, name), authorizeCluster(req, op),
// authorizeAny (Kafka's authorizeByResourceType) and authorizedOps (the
// authorized-operations bit fields). They take the principal from
// req.Conn.Principal() and the host from the remote address, and are always
// true when authorizer.class.name is unset. The index (internal/acl) is
// rebuilt lazily when raftmeta.State.ACLs changes.
//
// # Metrics
//
// metrics.go holds each broker's Prometheus registry (Server.Metrics; one
// per Server, never the global one, since tests run several brokers in a
// process). The request paths only bump counters: wire calls
// Config.Observe once per request (RequestMetrics), produce.go and
// fetch.go call one function per request (BrokerTopicMetrics), ChangeISR
// and the controller's AlterPartition (through countingMeta) count ISR
// changes and elections. metrics_collect.go computes everything derived
// from state when Prometheus scrapes: partition and controller counts from
// the metadata, log sizes and follower lag from the hosted replicas, group
// lag from the coordinator's committed offsets, connections, Raft positions.
//
// # Quotas and throttles
//
// quota.go enforces the client quotas (producer_byte_rate,
// consumer_byte_rate, request_percentage) with throttle_time_ms and a
// muted connection; ServeKafka measures each request's handling time for
// request_percentage. connquota.go is wire's AcceptQuota: ip
// connection_creation_rate and max.connection.creation.rate. throttle.go
// holds the reassignment replication throttles: the leader's bucket here,
// the follower's in replica (fed by followerThrottle). quota_metrics.go
// exports the quota sensors.
//
// # Errors
//
// errors.go is the one place where Go errors become Kafka error codes:
// errorCode maps the sentinel errors of storage, replica, raftmeta and
// internal/group (errors.Is) and this package's own. Lower packages never
// choose a Kafka code.
package server
