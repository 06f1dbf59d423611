package raftmeta

import (
	"errors"
	"fmt"
)

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
	// ErrNotController: this node is not the raft leader, so it cannot run a
	// leader-only operation (AddVoter, ...), returned as a
	// *NotControllerError carrying the controller's id; errors.Is matches
	// either. Forwarded writes retry on it and return it, wrapped with ctx's
	// error, only when ctx ends before any controller accepted the call.
	ErrNotController = errors.New("raftmeta: not the controller")
	// ErrNoController: no leader is known (yet), or the controller could not
	// be reached by a forwarded write (which retries until ctx ends).
	ErrNoController = errors.New("raftmeta: no controller elected")
	// ErrUnknownCommand: a log entry carries a command code this binary does
	// not know (a newer binary wrote it). Applying it anyway would diverge.
	ErrUnknownCommand = errors.New("raftmeta: unknown command")
	// ErrClosed: the node has been closed.
	ErrClosed = errors.New("raftmeta: node closed")

	// ErrInvalidTopicName: a topic name that breaks Kafka's rules
	// (ValidateTopicName), in any command naming a topic.
	ErrInvalidTopicName = errors.New("raftmeta: invalid topic name")
	// ErrInvalidConfig: Config.Validate failed, or the data directory belongs
	// to another node id; or topic configs out of bounds (an empty or long
	// key, a long value, too many entries; see validate.go).
	ErrInvalidConfig = errors.New("raftmeta: invalid config")
	// ErrInvalidBroker: a broker registration with a negative id or a bad
	// listener (empty name or host, port outside 1..65535, a name listed
	// twice), or a fencing command naming a negative or unregistered id.
	ErrInvalidBroker = errors.New("raftmeta: invalid broker")
	// ErrInvalidProducerIDCount: AllocateProducerIDs with a count outside
	// 1..MaxProducerIDBlock or one that would overflow the id space.
	ErrInvalidProducerIDCount = errors.New("raftmeta: invalid producer id count")
	// ErrUnknownPartition: the topic exists but the partition index does not.
	ErrUnknownPartition = errors.New("raftmeta: unknown partition")
	// ErrInvalidPartitionState: a partition change whose leader is neither
	// -1 nor in the ISR, or whose ISR is not a duplicate-free subset of the
	// replicas.
	ErrInvalidPartitionState = errors.New("raftmeta: invalid partition state")
	// ErrStalePartitionEpoch: a partition change based on an older partition
	// epoch than the current one (a fenced leader, as in Kafka's AlterPartition).
	ErrStalePartitionEpoch = errors.New("raftmeta: stale partition epoch")
	// ErrCorruptCommand: a log entry or snapshot that does not decode, or a
	// command no correct proposer writes (a topic without an id, a cluster
	// id empty or longer than 255 bytes).
	ErrCorruptCommand = errors.New("raftmeta: corrupt command")
	// ErrInvalidPeer: a Peer with a negative id or an empty raft address, or
	// one id listed twice with different addresses.
	ErrInvalidPeer = errors.New("raftmeta: invalid peer")
	// ErrInvalidACL: an ACL command with no or too many ACLs, a code that
	// is not concrete (ANY, MATCH, UNKNOWN) or an empty resource name,
	// principal or host.
	ErrInvalidACL = errors.New("raftmeta: invalid ACL")
	// ErrInvalidScramCredential: a SCRAM credential change with an unknown
	// mechanism, iterations outside Kafka's bounds, or an empty or oversized
	// user, salt or key.
	ErrInvalidScramCredential = errors.New("raftmeta: invalid SCRAM credential")
	// ErrNoReassignmentInProgress: a reassignment cancelled, or completed,
	// on a partition that has none running.
	ErrNoReassignmentInProgress = errors.New("raftmeta: no reassignment in progress")
	// ErrReassignmentNotReady: completing a reassignment whose target
	// replicas are not all in the ISR yet.
	ErrReassignmentNotReady = errors.New("raftmeta: reassignment target not in sync yet")
	// ErrBrokerNotRegistered: UnregisterBroker of an id that is not
	// registered (Kafka's BROKER_ID_NOT_REGISTERED).
	ErrBrokerNotRegistered = errors.New("raftmeta: broker id not registered")
	// ErrBrokerAlive: UnregisterBroker of a broker that is not fenced (alive
	// in the membership), or that registered again since the request
	// (unregister.go).
	ErrBrokerAlive = errors.New("raftmeta: broker is alive")
	// ErrDuplicateVoter: AddRaftVoter of a node that already votes
	// (Kafka's DUPLICATE_VOTER; voters.go).
	ErrDuplicateVoter = errors.New("raftmeta: already a voter")
	// ErrVoterNotFound: RemoveRaftVoter of a node that is not a voter, of
	// another directory id, or of the last voter (Kafka's VOTER_NOT_FOUND).
	ErrVoterNotFound = errors.New("raftmeta: voter not found")
	// ErrVoterNotReady: AddRaftVoter of a node that does not replicate the
	// log as a non-voter with that directory id (Kafka times out waiting for
	// such an observer: REQUEST_TIMED_OUT).
	ErrVoterNotReady = errors.New("raftmeta: no such observer to promote")
	// ErrNoReplacementVoter: RemoveRaftVoter that would leave fewer voters
	// than the reconciler keeps, with no live non-voter to promote instead
	// (voters.go).
	ErrNoReplacementVoter = errors.New("raftmeta: no observer to replace the voter")
	// ErrStaleFeatures: a feature level change computed from an older
	// FeaturesEpoch than the current one (another change won the race).
	ErrStaleFeatures = errors.New("raftmeta: feature levels changed concurrently")
)

// NotControllerError is returned by leader-only operations on a node that is
// not the established controller, and by forwarded writes whose ctx ended
// while no controller accepted them. It says who the controller is.
// errors.Is(err, ErrNotController) is true for it.
type NotControllerError struct {
	// ControllerID is the node id of the current raft leader as this node
	// sees it, or -1 when no leader is known (an election is running, or
	// this node is cut off). It may be this node's own id while its term is
	// still being established; retry after a short wait then.
	ControllerID int32
	// Err is raft's underlying error when raft refused the operation (for
	// example leadership lost while it was in flight); nil otherwise.
	Err error
}

func (e *NotControllerError) Error() string {
	msg := "raftmeta: not the controller (no controller known)"
	if e.ControllerID >= 0 {
		msg = fmt.Sprintf("raftmeta: not the controller (controller is node %d)", e.ControllerID)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is makes errors.Is(err, ErrNotController) match.
func (e *NotControllerError) Is(target error) bool { return target == ErrNotController }

// Unwrap returns raft's underlying error, if any.
func (e *NotControllerError) Unwrap() error { return e.Err }
