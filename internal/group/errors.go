package group

import "errors"

// Sentinel errors. Every request method reports its outcome with these,
// wrapped with %w and some detail; the server maps each to its Kafka error
// code in one place (internal/server errorCode). Test with errors.Is.
var (
	// ErrCorruptBatch is returned by LoadPartition when a batch read from
	// the offsets log is truncated, has a bad CRC or an unknown magic.
	ErrCorruptBatch = errors.New("group: corrupt record batch in offsets log")
	// ErrCorruptRecord is returned by LoadPartition when a record's key or
	// value cannot be decoded as one of Kafka's offsets-topic schemas.
	ErrCorruptRecord = errors.New("group: corrupt record in offsets log")
	// ErrCompressedBatch is returned by LoadPartition for a compressed batch:
	// this coordinator only writes uncompressed batches and does not carry
	// codecs to read anyone else's.
	ErrCompressedBatch = errors.New("group: compressed batch in offsets log")
	// ErrNoProgress is returned by LoadPartition when OffsetLog.Read returns
	// data that does not advance the replay position.
	ErrNoProgress = errors.New("group: offsets log read made no progress")
	// ErrClosed is returned by LoadPartition after Close.
	ErrClosed = errors.New("group: coordinator closed")
	// ErrInvalidConfig is wrapped by Config.Validate.
	ErrInvalidConfig = errors.New("group: invalid config")

	// ErrNotCoordinator: the group's offsets partition is not served here
	// (never loaded, unloaded, or its log lost leadership mid-write). The
	// client must look the coordinator up again. Kafka: NOT_COORDINATOR.
	ErrNotCoordinator = errors.New("group: not the coordinator for this group")
	// ErrCoordinatorNotAvailable: the coordinator is closed, the group is
	// being deleted, or a write to the offsets log could not be made
	// durable now; retry. Kafka: COORDINATOR_NOT_AVAILABLE.
	ErrCoordinatorNotAvailable = errors.New("group: coordinator not available")
	// ErrLoadInProgress: the group's offsets partition is still being
	// replayed. Kafka: COORDINATOR_LOAD_IN_PROGRESS.
	ErrLoadInProgress = errors.New("group: coordinator load in progress")
	// ErrRecordTooLarge is the OffsetLog's way to refuse a batch larger than
	// it accepts. Kafka's coordinator answers UNKNOWN_SERVER_ERROR.
	ErrRecordTooLarge = errors.New("group: offsets log record too large")

	// ErrUnsupportedVersion: a request version outside Versions.
	ErrUnsupportedVersion = errors.New("group: unsupported request version")
	// ErrInvalidGroupID: an empty group id.
	ErrInvalidGroupID = errors.New("group: invalid group id")
	// ErrInvalidSessionTimeout: a JoinGroup session timeout outside
	// [MinSessionTimeout, MaxSessionTimeout].
	ErrInvalidSessionTimeout = errors.New("group: invalid session timeout")
	// ErrInconsistentProtocol: a member's protocol type or protocols do not
	// fit the group's (JoinGroup), or SyncGroup v5 names other ones.
	ErrInconsistentProtocol = errors.New("group: inconsistent group protocol")
	// ErrUnknownMemberID: the member id is not (or no longer) in the group,
	// or a simple commit reached a group that has members.
	ErrUnknownMemberID = errors.New("group: unknown member id")
	// ErrMemberIDRequired: a JoinGroup v4+ dynamic member must rejoin with
	// the member id handed out with this error (KIP-394).
	ErrMemberIDRequired = errors.New("group: member id required")
	// ErrIllegalGeneration: the request's generation is not the group's.
	ErrIllegalGeneration = errors.New("group: illegal generation")
	// ErrRebalanceInProgress: the group is rebalancing; rejoin.
	ErrRebalanceInProgress = errors.New("group: rebalance in progress")
	// ErrFencedInstanceID: a static member's old member id, replaced by a
	// newer instance with the same group.instance.id.
	ErrFencedInstanceID = errors.New("group: fenced instance id")

	// ErrGroupIDNotFound: DeleteGroups or OffsetDelete of an unknown group.
	ErrGroupIDNotFound = errors.New("group: group id not found")
	// ErrNonEmptyGroup: DeleteGroups of a group with members, or
	// OffsetDelete on a non-consumer group with members.
	ErrNonEmptyGroup = errors.New("group: group is not empty")
	// ErrGroupSubscribedToTopic: OffsetDelete of a topic a member of the
	// group subscribes to.
	ErrGroupSubscribedToTopic = errors.New("group: group subscribed to topic")

	// ErrUnknownTopicOrPartition: a commit or offset delete for a partition
	// Config.TopicPartitionExists does not know.
	ErrUnknownTopicOrPartition = errors.New("group: unknown topic or partition")
	// ErrOffsetMetadataTooLarge: commit metadata longer than MaxMetadataSize.
	ErrOffsetMetadataTooLarge = errors.New("group: offset metadata too large")
	// ErrGroupMaxSizeReached: a JoinGroup that would grow the group past
	// Config.MaxSize (group.max.size).
	ErrGroupMaxSizeReached = errors.New("group: group max size reached")
	// ErrUnstableOffsetCommit: OffsetFetch with RequireStable for a
	// partition whose commit is still being appended.
	ErrUnstableOffsetCommit = errors.New("group: unstable offset commit")

	// ErrInvalidRequest: a ConsumerGroupHeartbeat missing a field it must
	// carry, or carrying one it must not. Kafka: INVALID_REQUEST.
	ErrInvalidRequest = errors.New("group: invalid request")
	// ErrUnsupportedAssignor: a server assignor not in
	// group.consumer.assignors.
	ErrUnsupportedAssignor = errors.New("group: unsupported assignor")
	// ErrInvalidRegularExpression: a subscription regex that does not
	// compile (RE2 syntax).
	ErrInvalidRegularExpression = errors.New("group: invalid regular expression")
	// ErrFencedMemberEpoch: a consumer-group member's epoch is not one the
	// coordinator accepts; it must give up its partitions and rejoin.
	ErrFencedMemberEpoch = errors.New("group: fenced member epoch")
	// ErrStaleMemberEpoch: an offset commit or fetch from a consumer-group
	// member at another epoch than the coordinator's.
	ErrStaleMemberEpoch = errors.New("group: stale member epoch")
	// ErrUnreleasedInstanceID: a static member joins with an instance id
	// still used by a member that did not leave.
	ErrUnreleasedInstanceID = errors.New("group: unreleased instance id")
)
