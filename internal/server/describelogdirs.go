package server

// DescribeLogDirs (key 35): versions 0-4.
//
// Behaviour: each broker describes its own data directory (Strom has one
// per broker): its absolute path and, for every hosted replica the request
// asks for (null topics: all), the bytes of its segment files and its
// offset lag, Kafka's max(high watermark − log end offset, 0): how far a
// follower's log trails the high watermark it was told. Partitions not
// hosted here are left out, as in Kafka. TotalBytes and UsableBytes (v4+)
// are the file system's, -1 when unknown.
//   - DESCRIBE on CLUSTER is required: CLUSTER_AUTHORIZATION_FAILED at the
//     top level (v3+) and no directories, as Kafka.
//
// Version notes: v1 is v0; v2 is flexible; v3 adds the top-level ErrorCode;
// v4 adds TotalBytes and UsableBytes. v5 (cordoned dirs, KIP-1066) is not
// advertised.

import (
	"cmp"
	"path/filepath"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/replica"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleDescribeLogDirs(req *wire.Request, r *kmsg.DescribeLogDirsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	resp.Version = r.Version
	if !s.authorizeCluster(req, acl.OpDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp
	}
	want := map[string][]int32{}
	for _, t := range r.Topics {
		want[t.Topic] = append(want[t.Topic], t.Partitions...)
	}
	parts := s.replicas.Partitions()
	slices.SortFunc(parts, func(a, b *replica.Partition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Index, b.Index))
	})
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = s.cfg.DataDir
	if abs, err := filepath.Abs(s.cfg.DataDir); err == nil {
		dir.Dir = abs
	}
	dir.TotalBytes, dir.UsableBytes = diskBytes(s.cfg.DataDir)
	for _, p := range parts {
		if r.Topics != nil && !slices.Contains(want[p.Topic], p.Index) {
			continue
		}
		if n := len(dir.Topics); n == 0 || dir.Topics[n-1].Topic != p.Topic {
			t := kmsg.NewDescribeLogDirsResponseDirTopic()
			t.Topic = p.Topic
			dir.Topics = append(dir.Topics, t)
		}
		rp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		rp.Partition = p.Index
		rp.Size = p.Size()
		rp.OffsetLag = max(p.HighWatermark()-p.LogEndOffset(), 0)
		t := &dir.Topics[len(dir.Topics)-1]
		t.Partitions = append(t.Partitions, rp)
	}
	resp.Dirs = append(resp.Dirs, dir)
	return resp
}
