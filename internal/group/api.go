package group

import "context"

// OffsetLog is one partition of __consumer_offsets as the coordinator sees it.
// Implemented by the server on top of a replica partition. Safe for concurrent use.
//
// The coordinator calls Append from request goroutines and from its own
// background work, at most one call at a time per group but concurrently for
// different groups; it never holds a lock across the call. Append may block
// until the batch is committed or ctx is done. Read is only called by
// LoadPartition; the returned bytes are not retained past decoding.
type OffsetLog interface {
	// Append appends one v2 record batch (base offset 0, offsets assigned by the
	// log) and returns once it is committed (acks=all semantics). The
	// coordinator owns batch; Append must not keep it past returning.
	//
	// A failed Append returns an error wrapping one of (as Kafka's
	// coordinator maps the errors of its own produce):
	//   - ErrNotCoordinator: this broker no longer leads the partition, or
	//     its log failed (NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR);
	//     the client must find the new coordinator.
	//   - ErrCoordinatorNotAvailable: the batch could not be made durable
	//     now (NOT_ENOUGH_REPLICAS, NOT_ENOUGH_REPLICAS_AFTER_APPEND,
	//     UNKNOWN_TOPIC_OR_PARTITION, REQUEST_TIMED_OUT, ctx done).
	//   - ErrRecordTooLarge: the log refuses a batch this large
	//     (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE).
	// The coordinator treats any other error as ErrCoordinatorNotAvailable
	// and passes these on, wrapped, to the request that caused the write.
	Append(ctx context.Context, batch []byte) (baseOffset int64, err error)
	// Read returns whole batches starting at the one containing offset, at most
	// about maxBytes (at least one batch); empty at the log end.
	Read(offset int64, maxBytes int) ([]byte, error)
	// LogStartOffset and LogEndOffset bound the readable range.
	LogStartOffset() int64
	LogEndOffset() int64
}

// JoinResult is a JoinGroup outcome. Field names follow Kafka's response.
// Alongside an error only MemberID is meaningful (with ErrMemberIDRequired it
// is the id to rejoin with) and Generation is -1.
type JoinResult struct {
	MemberID       string
	Generation     int32
	ProtocolType   *string
	Protocol       *string
	LeaderID       string
	Members        []JoinMember // for the leader only
	SkipAssignment bool         // KIP-814: a rejoining static leader keeps the assignment
}

// JoinMember is a member as the leader sees it in JoinResult.
type JoinMember struct {
	MemberID         string
	InstanceID       *string
	ProtocolMetadata []byte
}

// SyncResult is a successful SyncGroup: the member's assignment (never nil)
// and the group's protocol.
type SyncResult struct {
	MemberAssignment []byte
	ProtocolType     *string
	Protocol         *string
}

// PartitionResult is one partition's outcome of OffsetCommit or OffsetDelete,
// in request order.
type PartitionResult struct {
	Topic     string
	Partition int32
	Err       error
}

// FetchTopic names partitions whose committed offsets OffsetFetch returns.
type FetchTopic struct {
	Topic      string
	Partitions []int32
}

// FetchedTopic is one topic of an OffsetFetch answer.
type FetchedTopic struct {
	Topic      string
	Partitions []FetchedPartition
}

// FetchedPartition is one committed offset; Offset and LeaderEpoch are -1 and
// Metadata empty when nothing is committed.
type FetchedPartition struct {
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	Err         error
}

// ListedGroup is one group of ListGroups.
type ListedGroup struct {
	Group        string
	ProtocolType string
	GroupState   string
	GroupType    string
}

// GroupDescription is one group of DescribeGroups. An unknown group is state
// "Dead" without error, and Unknown (DescribeGroups v6+ answers it
// GROUP_ID_NOT_FOUND, KIP-1043); so is a KIP-848 consumer group, with
// NotClassic (v6+: GROUP_ID_NOT_FOUND, "is not a classic group", as Kafka 4
// answers; ConsumerGroupDescribe describes it); with an error only Group
// (and maybe State) is set.
type GroupDescription struct {
	Group        string
	State        string
	Unknown      bool
	NotClassic   bool
	ProtocolType string
	Protocol     string // only while Stable
	Members      []MemberDescription
	Err          error
}

// MemberDescription is one member of a described group. Metadata and
// assignment are empty unless the group is Stable.
type MemberDescription struct {
	MemberID         string
	InstanceID       *string
	ClientID         string
	ClientHost       string
	ProtocolMetadata []byte
	MemberAssignment []byte
}

// GroupResult is one group's outcome of DeleteGroups, in request order.
type GroupResult struct {
	Group string
	Err   error
}
