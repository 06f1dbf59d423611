// Package group is Strom's group coordinator: JoinGroup, SyncGroup,
// Heartbeat and LeaveGroup run Kafka's classic rebalance protocol,
// ConsumerGroupHeartbeat the next-generation consumer protocol (KIP-848,
// cgroup.go and the cg*.go files), and committed offsets and group state
// live in __consumer_offsets in Kafka's own record formats, so a log
// written here reads like one written by Kafka.
//
// # API and errors
//
// The coordinator speaks Go, not the Kafka wire: request methods take the
// decoded kmsg request (or plain arguments: OffsetFetch, ListGroups,
// DescribeGroups, DeleteGroups) and return Go values and errors — JoinResult,
// SyncResult, one PartitionResult per partition of OffsetCommit and
// OffsetDelete, FetchedTopic for OffsetFetch, GroupDescription and
// GroupResult per group — each outcome carrying an error that wraps one of
// the sentinels in errors.go (ErrNotCoordinator, ErrUnknownMemberID, ...).
// This package never writes a Kafka error code: internal/server encodes the
// responses, one handler file per API key, and maps the sentinels to codes
// in its errorCode, the only place Go errors become codes.
//
// # Versions
//
// Versions lists the [min, max] version implemented in full for each API key
// served here; it is the package's own list, and the server builds its
// advertised table (ApiVersions and the version check in wire) from it, next
// to the keys it serves itself. Methods taking a kmsg request answer a version
// outside it with ErrUnsupportedVersion.
//
//	key  API             versions  notes
//	  8  OffsetCommit    0-9       v10 (topic ids) not implemented
//	  9  OffsetFetch     0-9       v8+ batched groups; v10 (topic ids) not implemented
//	 11  JoinGroup       0-9       v4+ MEMBER_ID_REQUIRED (KIP-394), v5+ static members, v9 skip assignment
//	 12  Heartbeat       0-4
//	 13  LeaveGroup      0-5       v3+ batched members
//	 14  SyncGroup       0-5       v5 protocol type/name checked
//	 15  DescribeGroups  0-6       v6: unknown groups are GROUP_ID_NOT_FOUND (KIP-1043)
//	 16  ListGroups      0-5       v4 states filter, v5 types filter
//	 42  DeleteGroups    0-2       v3 (KIP-1043 error messages) not implemented
//	 47  OffsetDelete    0
//	 68  ConsumerGroupHeartbeat 0-1  v1 client-generated member ids (KIP-1082)
//	 69  ConsumerGroupDescribe  0-1  v1 member type
//
// # Ownership
//
// The server's reconciler calls LoadPartition (on a goroutine of its own)
// when this broker becomes leader of a __consumer_offsets partition, and
// UnloadPartition when it stops. A group lives in partition PartitionFor(id)
// (Java String.hashCode, as Kafka) of Config.NumPartitions, which the server
// sets from the topic's real partition count.
// Requests for groups of partitions not loaded fail with ErrNotCoordinator;
// during the load, ErrLoadInProgress (Heartbeat succeeds and SyncGroup fails
// with ErrRebalanceInProgress there, as Kafka does for old clients).
//
// A write to the offsets log fails as OffsetLog.Append says: ErrNotCoordinator
// when this broker no longer leads the partition (the client must find the
// new coordinator), ErrCoordinatorNotAvailable when the write cannot be made
// durable now, ErrRecordTooLarge; anything else from Append counts as
// ErrCoordinatorNotAvailable. The request that caused the write gets the
// error, wrapped.
//
// # Records
//
// Every write is one uncompressed v2 record batch (base offset 0, producer id
// -1, CRC-32C over attributes..end) appended with OffsetLog.Append; the
// request is answered only after Append returns. Keys and values are kmsg's
// encodings of Kafka's schemas at the versions Kafka 2.3+ writes:
//
//	record          key                     value
//	offset commit   OffsetCommitKey v1      OffsetCommitValue v3 (v1 when the commit
//	                                        carried a retention time: it has ExpireTimestamp)
//	group metadata  GroupMetadataKey v2     GroupMetadataValue v3
//	deletion        same key                null value (tombstone)
//
// One OffsetCommit request is one batch. Group metadata is written when the
// leader's SyncGroup completes a rebalance (with every member's assignment;
// the group turns Stable only after the write), when a join phase leaves the
// group Empty (written in the background, as Kafka), and when a static member
// replaces its old member id. DeleteGroups writes tombstones for each offset
// and the group in one batch; so do OffsetDelete and the expiry sweep.
//
// Consumer-protocol groups write the KIP-848 records, key versions 3-8
// (cgrecords.go), in the batch of the heartbeat that changed them, before
// answering it; a member leaving or timing out writes tombstones for its
// three records, a deleted group for the group-level ones too.
//
// LoadPartition replays the partition from LogStartOffset to LogEndOffset,
// verifying each batch's CRC; the last record per key wins and tombstones
// delete. Key versions 0-1 are offsets, 2 group metadata, 3-8 consumer
// groups; other key versions (share groups) are skipped. A group id with
// records of both protocols is of the kind whose group record came last. Compressed batches are refused
// (ErrCompressedBatch). TxnOffsetCommit writes its offsets as the
// producer's transactional batch (through TxnOffsetLog); a replay holds a
// transactional batch's records until the producer's marker: applied at a
// COMMIT, dropped at an ABORT, left pending (as after TxnOffsetCommit) if
// no marker follows. Other control batches are skipped.
//
// After a reload, a group whose last metadata record has members comes back
// Stable with those members, their assignments and the selected protocol's
// metadata, with fresh session timers, as Kafka does: live members keep
// heartbeating without a rebalance, dead ones time out and the rest rebalance.
//
// # Semantics
//
// The state machine is Kafka's GroupCoordinator: Empty, PreparingRebalance,
// CompletingRebalance, Stable, Dead. A join phase starting from Empty waits
// InitialRebalanceDelay (extended by each new member up to the rebalance
// timeout); otherwise it ends when every member and every KIP-394 pending
// member has rejoined, or at the largest member rebalance timeout, when
// members that did not rejoin are removed. The protocol is chosen by vote
// among those all members support. Members that do not send SyncGroup within
// the rebalance timeout after a join phase are removed (Kafka's pending-sync
// timeout). A member whose session timer lapses without heartbeat, commit,
// join or sync is removed and the group rebalances; a member blocked in
// JoinGroup or SyncGroup is covered by the phase timers instead.
//
// Static members (group.instance.id) rejoining with an empty member id take
// over their old id; in Stable with unchanged metadata for the selected
// protocol this does not rebalance (the leader is told to skip assignment on
// v9). Requests bearing the replaced id get ErrFencedInstanceID.
//
// # Consumer-protocol groups
//
// A group is classic (group.cons nil) or consumer; an empty one may change
// kind (offline migration), a non-empty one refuses the other protocol. A
// heartbeat computes the change (cgChange: records plus the new state)
// under appendMu and mu, appends it with only appendMu held, and installs
// it afterwards: memory never runs ahead of the log, and a failed append
// changes nothing. Member session and rebalance (revocation) timers go the
// same way. Reconciliation is Kafka's CurrentAssignmentBuilder
// (cgreconcile.go); assignors are in cgassign.go.
//
// # Concurrency
//
// Lock order: group.appendMu, then group.mu, then Coordinator.mu. appendMu
// serialises one group's log appends so that memory and log change in the
// same order; group.mu guards the group's state and is never held across an
// append or a wait; Coordinator.mu guards the partition and group maps only.
// JoinGroup and SyncGroup block on a buffered channel per member until the
// phase ends, the member is removed, the partition unloads
// (ErrNotCoordinator) or ctx is done. Timers are time.AfterFunc; their callbacks, and background
// metadata writes, are counted in a WaitGroup that Close waits for after
// stopping them. There are no long-lived goroutines.
//
// Client id and host are not in the request bodies: the server passes them
// with WithClient on the JoinGroup context.
package group
