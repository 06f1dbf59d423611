// Package replica holds the partitions a broker hosts and runs their write and
// read paths: idempotent-producer sequence checks, the high watermark, acks
// waiting, fetch wake-ups and retention.
//
// A Partition wraps one storage.Log. On the leader, Produce validates and
// appends batches, then advances the high watermark to the minimum log end
// offset of the in-sync replicas (just the leader itself while the ISR has one
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
// KIP-279), then sends Fetch requests with its replica id and appends what
// comes back as it is (fetcher.go, follower.go). The only import of the wire
// format is wire's client, for those two requests.
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
// Lock order: replication.mu, then fetcher.mu, then Partition.mu; and
// Manager.mu before Partition.mu. Manager.mu is never held together with
// replication.mu or fetcher.mu. None is held across disk I/O that can block
// for long, with two exceptions: a fetcher holds its own mutex (not
// Partition.mu) while it fsyncs appended records under FsyncAlways, which
// only delays moving partitions to another fetcher; and a follower's
// truncation rebuilds producer state under Partition.mu by scanning the log,
// which is rare and must finish before the replica may lead.
package replica
