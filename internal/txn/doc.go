// Package txn is the transaction coordinator: the state machine of each
// transactional id (Kafka's TransactionCoordinator and
// TransactionStateManager), kept in the partitions of __transaction_state
// this broker leads.
//
// A transactional id maps to partition abs(javaHashCode(id)) % N of
// __transaction_state, and its coordinator is that partition's leader; the
// coordinator epoch is the partition's leader epoch, so markers from a
// superseded coordinator can be told apart. Every transition is appended
// to the partition (acks=all, records in Kafka's TxnMetadataKey/Value
// format) before it takes effect, so a new leader replays the log and
// finishes whatever was prepared: Empty -> Ongoing (AddPartitionsToTxn,
// AddOffsetsToTxn) -> PrepareCommit/PrepareAbort (EndTxn, a timeout, or a
// new instance's InitProducerId) -> markers written to every partition in
// the transaction (MarkerWriter) -> CompleteCommit/CompleteAbort.
//
// The package knows nothing of replicas or the wire: the server gives it
// each partition's log and leader epoch (Config.Partition) and writes the
// markers (Config.Markers). Errors are this package's sentinels; the server
// maps them to Kafka codes.
//
// Concurrency: all methods are safe for concurrent use. Each transactional
// id has a mutex held across its whole operation (log appends and marker
// writes included), so operations on one id are serialised; the
// coordinator's mutex only guards the partition map. Lock order:
// partition.loadMu, then Coordinator.mu; txnMeta.mu is never held while
// taking either.
package txn
