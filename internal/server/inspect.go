package server

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/strombroker/strom/raftmeta"
)

// ReplicaInfo is this broker's view of one hosted replica, for operators
// (strom cluster status) and cluster tests.
type ReplicaInfo struct {
	Leader         bool
	LeaderEpoch    int32
	LogStartOffset int64
	LogEndOffset   int64
	HighWatermark  int64
}

// LocalReplica reports the replica of topic/partition hosted here.
func (s *Server) LocalReplica(topic string, partition int32) (ReplicaInfo, bool) {
	p := s.replicas.Get(topic, partition)
	if p == nil {
		return ReplicaInfo{}, false
	}
	return ReplicaInfo{
		Leader:         p.IsLeader(),
		LeaderEpoch:    p.LeaderEpoch(),
		LogStartOffset: p.LogStartOffset(),
		LogEndOffset:   p.LogEndOffset(),
		HighWatermark:  p.HighWatermark(),
	}, true
}

// LocalChecksum is a CRC-32C of the replica's batches with base offsets in
// [from, upTo), hashed exactly as stored (leader epochs included, since
// replicas must agree on them too). Replicas whose checksums match over the
// same range hold identical logs.
func (s *Server) LocalChecksum(topic string, partition int32, from, upTo int64) (uint32, bool, error) {
	p := s.replicas.Get(topic, partition)
	if p == nil {
		return 0, false, nil
	}
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	for off := from; off < upTo; {
		res, err := p.Fetch(off, 1<<20, true)
		if err != nil {
			return 0, true, err
		}
		if len(res.Records) == 0 {
			break
		}
		data := res.Records
		for len(data) >= 61 {
			base := int64(binary.BigEndian.Uint64(data))
			length := int(binary.BigEndian.Uint32(data[8:]))
			size := 12 + length
			if size > len(data) || base >= upTo {
				data = nil
				off = upTo
				break
			}
			h.Write(data[:size])
			last := base + int64(binary.BigEndian.Uint32(data[23:])) // lastOffsetDelta
			off = last + 1
			data = data[size:]
		}
	}
	return h.Sum32(), true, nil
}

// Metadata returns the broker's current copy of the cluster metadata.
func (s *Server) Metadata() *raftmeta.State { return s.meta.State() }

// IsController reports whether this broker is the active controller.
func (s *Server) IsController() bool { return s.meta.IsController() }
