package server

// DeleteRecords: versions 0-2.
//
// Behaviour:
//   - For each partition led here, moves the log start offset to Offset
//     (whole segments below it are dropped; reads below it are
//     OFFSET_OUT_OF_RANGE) and answers the new low watermark. Offset -1
//     means the high watermark. Beyond the high watermark, or below -1:
//     OFFSET_OUT_OF_RANGE. Deleting below the current start is a no-op that
//     answers the current start.
//   - Unknown topic or partition: UNKNOWN_TOPIC_OR_PARTITION; not the
//     leader here: NOT_LEADER_OR_FOLLOWER.
//   - __consumer_offsets: INVALID_TOPIC_EXCEPTION, as Kafka ("cannot delete
//     records of internal topic").
//   - Errors carry LowWatermark -1.
//   - Followers learn the new start offset through replication; the answer
//     does not wait for them (Kafka waits up to TimeoutMillis).
//
// Version notes: v1 is v0; v2 is flexible.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleDeleteRecords(req *wire.Request, r *kmsg.DeleteRecordsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DeleteRecordsResponse)
	resp.Version = r.Version
	for _, t := range r.Topics {
		rt := kmsg.NewDeleteRecordsResponseTopic()
		rt.Topic = t.Topic
		allowed := s.authorize(req, acl.OpDelete, acl.ResourceTopic, t.Topic) // Kafka's check
		for _, p := range t.Partitions {
			rp := kmsg.NewDeleteRecordsResponseTopicPartition()
			rp.Partition = p.Partition
			low, err := int64(-1), error(errTopicAuthorization)
			if allowed {
				low, err = s.deleteRecords(t.Topic, p.Partition, p.Offset)
			}
			rp.LowWatermark = low
			rp.ErrorCode = errorCode(err)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func (s *Server) deleteRecords(topic string, partition int32, offset int64) (int64, error) {
	if topic == offsetsTopic || topic == txnTopic {
		return -1, fmt.Errorf("%w: cannot delete records of internal topic %s", errInvalidTopic, topic)
	}
	part, err := s.leaderPartition(topic, partition, -1)
	if err != nil {
		return -1, err
	}
	return part.DeleteRecords(offset)
}
