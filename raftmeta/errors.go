package raftmeta

import "errors"

// Sentinel errors. Callers test them with errors.Is; internal/server maps them
// to Kafka error codes (this package never speaks Kafka error codes). Errors
// decided by the FSM travel back to the proposer through the raft apply
// response, so the same sentinel is seen on the leader whether the check failed
// before proposing or while applying.
var (
	// ErrTopicExists: a topic with this name already exists.
	ErrTopicExists = errors.New("raftmeta: topic already exists")
	// ErrUnknownTopic: no topic with this name.
	ErrUnknownTopic = errors.New("raftmeta: unknown topic")
	// ErrInvalidPartitions: partition count < 1, or a CreatePartitions total
	// that does not grow the topic.
	ErrInvalidPartitions = errors.New("raftmeta: invalid number of partitions")
	// ErrInvalidReplicationFactor: replication factor < 1 or larger than the
	// number of brokers available for assignment.
	ErrInvalidReplicationFactor = errors.New("raftmeta: invalid replication factor")
	// ErrInvalidReplicaAssignment: an explicit assignment with unknown or
	// duplicate brokers, or partitions of unequal replica count.
	ErrInvalidReplicaAssignment = errors.New("raftmeta: invalid replica assignment")
	// ErrNotController: this node is not the raft leader, so it cannot write.
	ErrNotController = errors.New("raftmeta: not the controller")
	// ErrNoController: no leader is known (yet).
	ErrNoController = errors.New("raftmeta: no controller elected")
	// ErrUnknownCommand: a log entry carries a command code this binary does
	// not know (a newer binary wrote it). Applying it anyway would diverge.
	ErrUnknownCommand = errors.New("raftmeta: unknown command")
	// ErrClosed: the node has been closed.
	ErrClosed = errors.New("raftmeta: node closed")

	// ErrInvalidTopicName: an empty topic name (the server checks the rest of
	// Kafka's naming rules before proposing).
	ErrInvalidTopicName = errors.New("raftmeta: invalid topic name")
	// ErrInvalidConfig: Config.Validate failed, or the data directory belongs
	// to another node id.
	ErrInvalidConfig = errors.New("raftmeta: invalid config")
	// ErrInvalidBroker: a broker registration with a negative id.
	ErrInvalidBroker = errors.New("raftmeta: invalid broker")
	// ErrInvalidProducerIDCount: AllocateProducerIDs with count < 1 or a
	// count that would overflow the id space.
	ErrInvalidProducerIDCount = errors.New("raftmeta: invalid producer id count")
	// ErrUnknownPartition: the topic exists but the partition index does not.
	ErrUnknownPartition = errors.New("raftmeta: unknown partition")
	// ErrInvalidPartitionState: a partition change whose leader is not in the
	// ISR or whose ISR is not a subset of the replicas.
	ErrInvalidPartitionState = errors.New("raftmeta: invalid partition state")
	// ErrStalePartitionEpoch: a partition change based on an older partition
	// epoch than the current one (a fenced leader, as in Kafka's AlterPartition).
	ErrStalePartitionEpoch = errors.New("raftmeta: stale partition epoch")
	// ErrCorruptCommand: a log entry or snapshot that does not decode.
	ErrCorruptCommand = errors.New("raftmeta: corrupt command")
)
