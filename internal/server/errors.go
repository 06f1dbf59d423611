package server

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strombroker/strom/internal/controller"
	"github.com/strombroker/strom/internal/group"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/replica"
	"github.com/strombroker/strom/storage"
)

// Handler-level sentinel errors.
var (
	errInvalidTopic       = errors.New("invalid topic name")
	errUnknownTopic       = errors.New("unknown topic or partition")
	errUnknownTopicID     = errors.New("unknown topic id")
	errInvalidRequest     = errors.New("invalid request")
	errTopicAuthorization = errors.New("topic not authorized")
)

// areaErrorCodes map the errors of one area (groups, transactions,
// elections and reassignments, the quorum) to codes, tried in order before errorCode's
// general table. Group errors come first: the offsets-log adapter wraps
// replica and storage errors in the group's contract, and the contract
// decides the code.
var areaErrorCodes = []func(error) (int16, bool){groupErrorCode, txnErrorCode, shareErrorCode, electionErrorCode, quorumErrorCode}

// quorumErrors maps the errors of broker unregistration and Raft voter
// changes (UnregisterBroker, AddRaftVoter, RemoveRaftVoter).
var quorumErrors = []struct {
	err  error
	code *kerr.Error
}{
	{raftmeta.ErrBrokerNotRegistered, kerr.BrokerIDNotRegistered},
	{raftmeta.ErrBrokerAlive, kerr.InvalidRequest},
	{raftmeta.ErrDuplicateVoter, kerr.DuplicateVoter},
	{raftmeta.ErrVoterNotFound, kerr.VoterNotFound},
	// Kafka waits for the observer to catch up and times out.
	{raftmeta.ErrVoterNotReady, kerr.RequestTimedOut},
	{raftmeta.ErrNoReplacementVoter, kerr.InvalidRequest},
}

// quorumErrorCode is errorCode for errors wrapping a quorumErrors sentinel.
func quorumErrorCode(err error) (int16, bool) {
	for _, m := range quorumErrors {
		if errors.Is(err, m.err) {
			return m.code.Code, true
		}
	}
	return 0, false
}

// errorCode is the one place Go errors become Kafka error codes.
func errorCode(err error) int16 {
	if err == nil {
		return 0
	}
	for _, area := range areaErrorCodes {
		if code, ok := area(err); ok {
			return code
		}
	}
	var ke *kerr.Error
	switch {
	case errors.As(err, &ke):
		return ke.Code
	case errors.Is(err, storage.ErrCorruptBatch):
		return kerr.CorruptMessage.Code
	case errors.Is(err, storage.ErrMessageTooLarge):
		return kerr.MessageTooLarge.Code
	case errors.Is(err, storage.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	case errors.Is(err, storage.ErrStorage), errors.Is(err, storage.ErrClosed):
		return kerr.KafkaStorageError.Code
	case errors.Is(err, replica.ErrOutOfOrderSequence):
		return kerr.OutOfOrderSequenceNumber.Code
	case errors.Is(err, replica.ErrInvalidProducerEpoch):
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, replica.ErrUnknownProducerID):
		return kerr.UnknownProducerID.Code
	case errors.Is(err, replica.ErrNotLeader), errors.Is(err, replica.ErrClosed):
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, replica.ErrInvalidRecord):
		return kerr.InvalidRecord.Code
	case errors.Is(err, replica.ErrNotEnoughReplicasAfterAppend):
		return kerr.NotEnoughReplicasAfterAppend.Code
	case errors.Is(err, replica.ErrNotEnoughReplicas):
		return kerr.NotEnoughReplicas.Code
	case errors.Is(err, replica.ErrTransactionalUnsupported):
		return kerr.UnsupportedForMessageFormat.Code
	case errors.Is(err, raftmeta.ErrTopicExists):
		return kerr.TopicAlreadyExists.Code
	case errors.Is(err, raftmeta.ErrUnknownTopic), errors.Is(err, errUnknownTopic):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, errUnknownTopicID):
		return kerr.UnknownTopicID.Code
	case errors.Is(err, raftmeta.ErrInvalidPartitions):
		return kerr.InvalidPartitions.Code
	case errors.Is(err, raftmeta.ErrInvalidReplicationFactor):
		return kerr.InvalidReplicationFactor.Code
	case errors.Is(err, raftmeta.ErrInvalidReplicaAssignment):
		return kerr.InvalidReplicaAssignment.Code
	case errors.Is(err, raftmeta.ErrInvalidTopicName):
		return kerr.InvalidTopicException.Code
	case errors.Is(err, raftmeta.ErrInvalidConfig):
		return kerr.InvalidConfig.Code
	case errors.Is(err, raftmeta.ErrUnknownPartition):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, raftmeta.ErrStalePartitionEpoch):
		return kerr.InvalidUpdateVersion.Code
	case errors.Is(err, raftmeta.ErrInvalidProducerIDCount), errors.Is(err, raftmeta.ErrInvalidBroker), errors.Is(err, raftmeta.ErrInvalidPartitionState):
		return kerr.InvalidRequest.Code
	case errors.Is(err, raftmeta.ErrNotController), errors.Is(err, raftmeta.ErrNoController):
		return kerr.NotController.Code
	case errors.Is(err, errInvalidTopic):
		return kerr.InvalidTopicException.Code
	case errors.Is(err, errInvalidConfig):
		return kerr.InvalidConfig.Code
	case errors.Is(err, errInvalidRequest):
		return kerr.InvalidRequest.Code
	case errors.Is(err, errTopicAuthorization):
		return kerr.TopicAuthorizationFailed.Code
	case errors.Is(err, context.DeadlineExceeded):
		return kerr.RequestTimedOut.Code
	case errors.Is(err, context.Canceled):
		return kerr.RequestTimedOut.Code
	default:
		return kerr.UnknownServerError.Code
	}
}

// groupErrors maps the group coordinator's sentinels, in the order tested.
var groupErrors = []struct {
	err  error
	code *kerr.Error
}{
	{group.ErrNotCoordinator, kerr.NotCoordinator},
	{group.ErrCoordinatorNotAvailable, kerr.CoordinatorNotAvailable},
	{group.ErrLoadInProgress, kerr.CoordinatorLoadInProgress},
	// Kafka's coordinator answers a too-large write of its own log (its
	// records, not the client's) UNKNOWN_SERVER_ERROR.
	{group.ErrRecordTooLarge, kerr.UnknownServerError},
	{group.ErrUnsupportedVersion, kerr.UnsupportedVersion},
	{group.ErrInvalidGroupID, kerr.InvalidGroupID},
	{group.ErrInvalidSessionTimeout, kerr.InvalidSessionTimeout},
	{group.ErrInconsistentProtocol, kerr.InconsistentGroupProtocol},
	{group.ErrMemberIDRequired, kerr.MemberIDRequired},
	{group.ErrFencedInstanceID, kerr.FencedInstanceID},
	{group.ErrUnknownMemberID, kerr.UnknownMemberID},
	{group.ErrIllegalGeneration, kerr.IllegalGeneration},
	{group.ErrRebalanceInProgress, kerr.RebalanceInProgress},
	{group.ErrGroupIDNotFound, kerr.GroupIDNotFound},
	{group.ErrNonEmptyGroup, kerr.NonEmptyGroup},
	{group.ErrGroupSubscribedToTopic, kerr.GroupSubscribedToTopic},
	{group.ErrUnknownTopicOrPartition, kerr.UnknownTopicOrPartition},
	{group.ErrOffsetMetadataTooLarge, kerr.OffsetMetadataTooLarge},
	{group.ErrUnstableOffsetCommit, kerr.UnstableOffsetCommit},
	{group.ErrGroupMaxSizeReached, kerr.GroupMaxSizeReached},
	{group.ErrInvalidRequest, kerr.InvalidRequest},
	{group.ErrUnsupportedAssignor, kerr.UnsupportedAssignor},
	{group.ErrInvalidRegularExpression, kerr.InvalidRegularExpression},
	{group.ErrFencedMemberEpoch, kerr.FencedMemberEpoch},
	{group.ErrStaleMemberEpoch, kerr.StaleMemberEpoch},
	{group.ErrUnreleasedInstanceID, kerr.UnreleasedInstanceID},
}

// groupErrorCode is errorCode for errors wrapping a group sentinel.
func groupErrorCode(err error) (int16, bool) {
	for _, m := range groupErrors {
		if errors.Is(err, m.err) {
			return m.code.Code, true
		}
	}
	return 0, false
}

// errorMessage is the human text some responses carry next to the code.
func errorMessage(err error) *string {
	if err == nil {
		return nil
	}
	m := err.Error()
	return &m
}

// electionErrors maps the election and reassignment sentinels.
var electionErrors = []struct {
	err  error
	code *kerr.Error
}{
	{controller.ErrElectionNotNeeded, kerr.ElectionNotNeeded},
	{controller.ErrPreferredLeaderNotAvailable, kerr.PreferredLeaderNotAvailable},
	{controller.ErrEligibleLeadersNotAvailable, kerr.EligibleLeadersNotAvailable},
	{raftmeta.ErrNoReassignmentInProgress, kerr.NoReassignmentInProgress},
	{raftmeta.ErrReassignmentNotReady, kerr.InvalidRequest},
}

// electionErrorCode is errorCode for errors wrapping an election or
// reassignment sentinel.
func electionErrorCode(err error) (int16, bool) {
	for _, m := range electionErrors {
		if errors.Is(err, m.err) {
			return m.code.Code, true
		}
	}
	return 0, false
}
