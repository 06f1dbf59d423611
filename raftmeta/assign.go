package raftmeta

import (
	crand "crypto/rand"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
)

// assignReplicas places partitions startPartition..startPartition+count-1 on
// brokers the way Kafka does without racks (AdminUtils
// assignReplicasToBrokersRackUnaware): the first replica goes round-robin from
// startIndex, and the followers are shifted by an amount that grows every
// len(brokers) partitions, so leaders and followers both spread evenly.
//
// brokers must be sorted and non-empty, 1 <= rf <= len(brokers), and
// 0 <= startIndex, shift < len(brokers). The proposer picks startIndex and shift
// at random; the resulting lists go into the command, keeping the FSM
// deterministic.
func assignReplicas(brokers []int32, count int32, rf, startIndex, shift int, startPartition int32) [][]int32 {
	n := len(brokers)
	out := make([][]int32, 0, count)
	p := int(max(startPartition, 0))
	for range count {
		if p > 0 && p%n == 0 {
			shift++
		}
		first := (p + startIndex) % n
		replicas := make([]int32, 0, rf)
		replicas = append(replicas, brokers[first])
		for j := range rf - 1 {
			step := 1 + (shift+j)%(n-1)
			replicas = append(replicas, brokers[(first+step)%n])
		}
		out = append(out, replicas)
		p++
	}
	return out
}

// randomPlacement returns Kafka's two random placement parameters for n brokers.
func randomPlacement(n int) (startIndex, shift int) {
	return rand.IntN(n), rand.IntN(n)
}

// validateAssignment checks an explicit or computed assignment against s:
// at least one partition, each with rf distinct registered brokers.
func validateAssignment(s *State, assignment [][]int32, rf int) error {
	if len(assignment) == 0 {
		return fmt.Errorf("%w: no partitions", ErrInvalidReplicaAssignment)
	}
	for i, replicas := range assignment {
		if len(replicas) == 0 || len(replicas) != rf {
			return fmt.Errorf("%w: partition %d has %d replicas, want %d",
				ErrInvalidReplicaAssignment, i, len(replicas), rf)
		}
		for j, id := range replicas {
			if _, ok := s.Brokers[id]; !ok {
				return fmt.Errorf("%w: partition %d: broker %d is not registered",
					ErrInvalidReplicaAssignment, i, id)
			}
			for _, prev := range replicas[:j] {
				if prev == id {
					return fmt.Errorf("%w: partition %d: broker %d listed twice",
						ErrInvalidReplicaAssignment, i, id)
				}
			}
		}
	}
	return nil
}

// newTopicID returns a random, non-zero UUID (version 4). Kafka reserves the
// zero UUID to mean "no id".
func newTopicID() [16]byte {
	var id [16]byte
	for id == ([16]byte{}) {
		_, _ = crand.Read(id[:])
		id[6] = id[6]&0x0f | 0x40 // version 4
		id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	}
	return id
}

// crand.Read never returns an error on supported platforms (since Go 1.24
// it crashes the program instead), so its error is ignored below.

// newClusterID returns a random 22-character base64url id, Kafka's format
// (16 random bytes, unpadded).
func newClusterID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
