package replica

import "errors"

// Sentinel errors. The server maps them to Kafka error codes.
var (
	// ErrOutOfOrderSequence: a gap in an idempotent producer's sequence numbers.
	ErrOutOfOrderSequence = errors.New("replica: out of order sequence number")
	// ErrInvalidProducerEpoch: a batch from an older producer epoch (fenced producer).
	ErrInvalidProducerEpoch = errors.New("replica: invalid producer epoch")
	// ErrUnknownProducerID: a non-zero first sequence from a producer this partition never saw.
	ErrUnknownProducerID = errors.New("replica: unknown producer id")
	// ErrNotLeader: this broker does not lead the partition.
	ErrNotLeader = errors.New("replica: not leader for partition")
	// ErrNotEnoughReplicas: the ISR is smaller than min.insync.replicas for an acks=all write.
	ErrNotEnoughReplicas = errors.New("replica: not enough in-sync replicas")
	// ErrTransactionalUnsupported: transactional batches are not supported yet.
	ErrTransactionalUnsupported = errors.New("replica: transactional produce not supported")
	// ErrTxnNotVerified: a transactional batch for which the transaction
	// coordinator has not confirmed that the partition is in the
	// producer's transaction (Settings.VerifyTransactions).
	ErrTxnNotVerified = errors.New("replica: transactional write not verified with the coordinator")
	// ErrCoordinatorFenced: a transaction marker from a coordinator older
	// than the one that wrote the producer's latest marker.
	ErrCoordinatorFenced = errors.New("replica: transaction coordinator fenced")
	// ErrNotEnoughReplicasAfterAppend: an acks=all write was appended, but the
	// ISR shrank below min.insync.replicas before it was acknowledged.
	ErrNotEnoughReplicasAfterAppend = errors.New("replica: not enough in-sync replicas after append")
	// ErrInvalidRecord: a produce carrying other than one record batch for a partition.
	ErrInvalidRecord = errors.New("replica: invalid record")
	// ErrClosed: the partition was closed or deleted.
	ErrClosed = errors.New("replica: partition closed")
	// ErrNotHosted: Manager.BecomeFollower or BecomeLeader for a partition
	// that was never opened here (the server must Open it first).
	ErrNotHosted = errors.New("replica: partition not hosted")
	// ErrNoTopicID: Manager.BecomeFollower for a replica opened without a
	// topic id (Open rather than OpenTopicID); follower fetches name topics
	// by id.
	ErrNoTopicID = errors.New("replica: replica has no topic id")
	// ErrStaleLeaderEpoch: a leadership change older than the epoch the
	// replica already has; metadata arrived out of order and is ignored.
	ErrStaleLeaderEpoch = errors.New("replica: stale leader epoch")
	// ErrInvalidLeader: asked to follow itself, or a leader with no address.
	ErrInvalidLeader = errors.New("replica: invalid leader")
	// ErrInvalidTopic: a topic name that cannot name a partition directory
	// of its own (empty, "." or "..", or containing a path separator).
	ErrInvalidTopic = errors.New("replica: invalid topic name")

	// errStopFollowing: the replica stopped following at the fetcher's
	// epoch (it leads now, follows at a newer epoch, or was closed); the
	// fetcher drops it.
	errStopFollowing = errors.New("replica: no longer following at this epoch")
)
