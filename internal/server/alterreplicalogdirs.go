package server

// AlterReplicaLogDirs (key 34): versions 0-2.
//
// Behaviour: Kafka moves a replica between the log directories of one
// broker (JBOD). A Strom broker has exactly one data directory (log.dirs
// takes its first entry), so every replica it hosts is already where any
// valid request can send it. Each requested partition is answered as a
// Kafka broker with that single directory answers:
//   - ALTER on CLUSTER is required: CLUSTER_AUTHORIZATION_FAILED on every
//     partition otherwise.
//   - A topic whose name is too long for Kafka's "-future" directory name
//     (over 255 bytes) is INVALID_TOPIC_EXCEPTION, Kafka's first check.
//   - A path that is not this broker's data directory (the absolute path
//     DescribeLogDirs reports, compared as given) is LOG_DIR_NOT_FOUND.
//   - A partition with no replica on this broker is REPLICA_NOT_AVAILABLE.
//   - A hosted replica is already in the directory: success, nothing moves.
//
// The data directory is never reported offline (a failing disk surfaces as
// KAFKA_STORAGE_ERROR on the partitions' own requests), so KAFKA_STORAGE_ERROR
// is not returned here. Results are grouped by topic, in request order.
//
// Version notes: v1 is v0 (throttling before the response); v2 is flexible.

import (
	"fmt"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

// maxLogDirName is the longest directory name Kafka can create for a
// replica being moved (most file systems' limit).
const maxLogDirName = 255

func (s *Server) handleAlterReplicaLogDirs(req *wire.Request, r *kmsg.AlterReplicaLogDirsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.AlterReplicaLogDirsResponse)
	resp.Version = r.Version
	allowed := s.authorizeCluster(req, acl.OpAlter)
	dataDir := s.cfg.DataDir
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	byTopic := map[string]int{} // index into resp.Topics
	for _, d := range r.Dirs {
		for _, rt := range d.Topics {
			i, ok := byTopic[rt.Topic]
			if !ok {
				i = len(resp.Topics)
				byTopic[rt.Topic] = i
				t := kmsg.NewAlterReplicaLogDirsResponseTopic()
				t.Topic = rt.Topic
				resp.Topics = append(resp.Topics, t)
			}
			for _, p := range rt.Partitions {
				rp := kmsg.NewAlterReplicaLogDirsResponseTopicPartition()
				rp.Partition = p
				rp.ErrorCode = s.alterReplicaLogDir(allowed, dataDir, d.Dir, rt.Topic, p)
				resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
			}
		}
	}
	return resp
}

// alterReplicaLogDir answers one partition's move to dir (see the header).
func (s *Server) alterReplicaLogDir(allowed bool, dataDir, dir, topic string, partition int32) int16 {
	switch {
	case !allowed:
		return kerr.ClusterAuthorizationFailed.Code
	case len(futureDirName(topic, partition)) > maxLogDirName:
		return kerr.InvalidTopicException.Code
	case dir != dataDir:
		return kerr.LogDirNotFound.Code
	case s.replicas.Get(topic, partition) == nil:
		return kerr.ReplicaNotAvailable.Code
	}
	return 0 // already there
}

// futureDirName is the name Kafka gives the directory of a replica being
// moved: topic-partition, a 32-character unique id, "-future".
func futureDirName(topic string, partition int32) string {
	return fmt.Sprintf("%s-%d.%032x-future", topic, partition, 0)
}
