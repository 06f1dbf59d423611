package server

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

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

// errorCode is the one place Go errors become Kafka error codes.
func errorCode(err error) int16 {
	var ke *kerr.Error
	switch {
	case err == nil:
		return 0
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

// errorMessage is the human text some responses carry next to the code.
func errorMessage(err error) *string {
	if err == nil {
		return nil
	}
	m := err.Error()
	return &m
}
