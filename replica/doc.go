// Package replica holds the partitions a broker hosts and runs their write and
// read paths: idempotent-producer sequence checks, the high watermark, acks
// waiting, fetch wake-ups and retention.
//
// A Partition wraps one storage.Log. On the leader, Produce validates and
// appends batches, then advances the high watermark to the minimum log end
// offset of the maximal ISR (just the leader itself while the ISR has one
// member). Consumers never read past the high watermark. The package knows
// nothing about Raft or the Kafka wire format: the server tells it, as plain
// values, which partitions it hosts, at which leader epoch and with which ISR.
//
// Replication is Kafka's. A leader learns each follower's log end offset from
// its fetches (Partition.RecordFollowerFetch), computes the high watermark
// from the ISR, and proposes ISR shrinks and expansions to the controller
// through the ISRChanger the server supplies; it adopts a new ISR only when
// metadata delivers it (isr.go). A follower (Manager.BecomeFollower) is
// fetched for by one goroutine per leader broker, which first truncates a
// possibly divergent tail by leader epoch (OffsetForLeaderEpoch, KIP-101 and
// KIP-279), then sends Fetch requests (v15, topics by id) with its replica
// id and broker epoch (ReplicaState, KIP-903; ReplicationConfig.BrokerEpoch)
// in an incremental fetch session (KIP-227: after a first full request only
// partitions whose fetch offset or epochs changed are named; the leader
// counts an omitted one at its last sent offset), and appends what comes
// back as it is (fetcher.go, follower.go). A fetcher whose leader's
// connections are closed, reset or refused (not timed out) reports that
// leader gone (Manager.LeaderGoneSince), which the server reads to hold
// Metadata answers until the controller replaces it. Checking
// that a fetch in a replica's name really comes from that replica (assigned,
// live, at its current broker epoch) is the server's job before it calls
// RecordFollowerFetch: this package trusts the id it is given. The only
// import of the wire format is wire's client, for those two requests.
//
// # Safety rules for the high watermark
//
// Maximal ISR. The high watermark is the minimum log end offset over the
// committed ISR (the set metadata last gave BecomeLeader) plus every
// follower this leader has proposed adding and metadata has not yet
// delivered. A follower counts from the moment the proposal is made, before
// the controller can make it electable; a shrink counts only once
// committed. A pending addition is dropped when metadata delivers it, when
// a new leadership begins, or replica.lag.time.max.ms after its proposal
// returned without metadata delivering it (isr.go).
//
// Strict min-ISR (KIP-966). The high watermark does not advance while the
// committed ISR is smaller than the effective minimum, min(min.insync.replicas,
// replication factor) (Kafka's effectiveMinIsr; Settings.Replicas). acks=all
// is refused with NOT_ENOUGH_REPLICAS below min.insync.replicas as before; an
// acks=all write already waiting when the ISR drops below it gets
// NOT_ENOUGH_REPLICAS_AFTER_APPEND; acks=1 writes made meanwhile are
// appended but not shown to consumers until the ISR is back. A single
// replica (min.insync.replicas 1, the default) is unaffected.
//
// Unclean stop. When storage reports that a partition's log was not closed
// cleanly (storage.Log.CleanShutdown), its unflushed tail may be gone, even
// records it had reported to a leader as a follower. Then:
//
//   - it claims as committed nothing beyond its checkpointed high watermark
//     (nothing at all without a checkpoint: its high watermark starts at the
//     log start offset); a leader or its own leader moves it on from there;
//   - it reports itself recovering (Partition.RecoveringFromUncleanStop)
//     until, following, it has fetched from its current leader up to that
//     leader's high watermark, or it becomes leader;
//   - a leader treats an ISR member that fetches below the high watermark as
//     not caught up and proposes its removal at once (it lacks committed
//     records); it rejoins, like any follower, only once its log end has
//     reached the high watermark and the start of the leader's epoch.
//
// Not electing such a replica is the controller's part (KIP-966's eligible
// leader replicas and clean-shutdown flag at registration): it would need
// each broker to report, when it registers, whether it stopped cleanly (or
// which partitions are still recovering), remove an uncleanly stopped broker
// from the ISR (and any eligible set) of its partitions at once, and prefer
// any other ISR member when electing.
//
// Topic ids (KIP-516). Each partition directory <topic>-<partition> holds
// partition.metadata ("version: 0", "topic_id: <base64url id>", fsynced),
// written when the replica is first opened with its topic's id
// (Manager.OpenTopicID; the reconciler always passes it). A directory
// naming another id, or whose file does not parse, belongs to a deleted
// incarnation of the topic: it is moved aside as
// <topic>-<partition>.<32 hex>-stray (logged, kept for the operator) and the
// replica starts from an empty log, catching up from its leader. A replica
// still open under another id is removed like a deleted topic's. A
// directory without the file (written before topic ids) adopts the id it is
// opened with. Remove renames a directory to *-delete before deleting it,
// and NewManager deletes such leftovers, so a crash mid-deletion never
// leaves a partial log under a partition's name. Only names of the form
// <topic>-<partition> are ever opened; stray and -delete directories never
// are.
//
// # Transactions
//
// Transactional batches (attribute bit 4) open a transaction of their
// producer on the partition; its COMMIT or ABORT control batch (bit 5,
// written by the transaction coordinator through WriteTxnMarker) closes it
// (txn.go). The last stable offset is the first offset of the earliest
// transaction whose marker is not yet below the high watermark, else the
// high watermark; read_committed fetches (FetchCommitted) stop there, and
// AbortedTxns lists the aborted transactions (producer, first offset,
// marker offset) a consumer needs to drop their records, from the log's
// per-segment .txnindex files (storage), to which each ABORT marker's entry
// is appended. This state is a pure function of the log: the leader
// updates it as it appends, a follower as it copies, so every replica
// agrees. Opening or truncating a replica restores it, with the idempotent
// producer state, from the newest producer-state snapshot at or below the
// log end (snapshot.go: taken when a segment rolls and on a clean close)
// and replays only the log after it; with no usable snapshot, the whole
// log. With
// Settings.VerifyTransactions a producer's first transactional batch of a
// transaction is refused (ErrTxnNotVerified) until the caller recorded the
// coordinator's confirmation (TxnToVerify, MarkTxnVerified); the next
// marker clears it. A marker from a coordinator epoch older than the
// producer's latest marker's is refused (ErrCoordinatorFenced). Markers and
// the group coordinator's transactional
// offset batches carry no sequence numbers and only check the producer
// epoch (ProduceFromCoordinator).
//
// Lock order: replication.mu, then fetcher.mu, then Partition.mu; and
// Manager.mu before Partition.mu. followerBudget.mu (the shared
// follower.replication.throttled.rate bucket, throttle.go) is a leaf, taken
// under fetcher.mu. Manager.mu is not held while a replica
// opens or closes: Manager.opening claims the partition instead (an open,
// close or Remove of the same partition waits for it), so many partitions
// open concurrently. Manager.mu is never held together with
// replication.mu or fetcher.mu. None is held across disk I/O that can block
// for long, with two exceptions: a fetcher holds its own mutex (not
// Partition.mu) while it fsyncs appended records under FsyncAlways, which
// only delays moving partitions to another fetcher; and a follower's
// truncation rebuilds producer state under Partition.mu by replaying the log
// from a snapshot, which is rare and must finish before the replica may
// lead; and a segment roll and a clean close write (and fsync) a producer
// state snapshot under Partition.mu, so that no truncation can delete
// snapshots around a write in flight.
package replica
