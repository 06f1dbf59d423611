package server

// DescribeTopicPartitions (key 75): version 0 (KIP-966).
//
// Behaviour (Kafka's DescribeTopicPartitionsRequestHandler):
//   - Topics, sorted by name: the requested ones, or (empty list) every
//     topic the principal may DESCRIBE. Requested topics that are unknown
//     get UNKNOWN_TOPIC_OR_PARTITION, unauthorized ones
//     TOPIC_AUTHORIZATION_FAILED; with the empty list those are left out.
//   - Pagination: at most ResponsePartitionLimit partitions (1..2000,
//     Kafka's max.request.partition.size.limit) per response. Cursor, if
//     set, says where to start (topic name, partition index); topics before
//     it are skipped, and a requested-topics list must contain it
//     (INVALID_REQUEST at the topic level otherwise). When the limit cuts
//     the answer, NextCursor names the first partition not returned.
//   - Partitions carry leader, epoch, replicas, ISR and offline replicas
//     (fenced brokers). Strom has no eligible leader replicas (ELR) yet:
//     both ELR lists are empty.
//   - AuthorizedOperations is the topic's, as in Metadata.

import (
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

// maxDescribePartitions is Kafka's max.request.partition.size.limit.
const maxDescribePartitions = 2000

func (s *Server) handleDescribeTopicPartitions(req *wire.Request, r *kmsg.DescribeTopicPartitionsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)
	resp.Version = r.Version
	st := s.meta.State()
	limit := int(r.ResponsePartitionLimit)
	if limit <= 0 || limit > maxDescribePartitions {
		limit = maxDescribePartitions
	}
	all := len(r.Topics) == 0
	var names []string
	if all {
		names = slices.Sorted(maps.Keys(st.Topics))
	} else {
		for _, t := range r.Topics {
			names = append(names, t.Topic)
		}
		slices.Sort(names)
		names = slices.Compact(names)
	}
	startTopic, startPart := "", int32(0)
	if c := r.Cursor; c != nil {
		startTopic, startPart = c.Topic, max(c.Partition, 0)
		if !all && !slices.Contains(names, c.Topic) {
			err := fmt.Errorf("%w: the cursor topic %q is not among the requested topics", errInvalidRequest, c.Topic)
			return describeTopicError(resp, c.Topic, err)
		}
	}
	for _, name := range names {
		if name < startTopic {
			continue
		}
		t := st.Topics[name]
		var err error
		switch {
		case !s.authorize(req, acl.OpDescribe, acl.ResourceTopic, name):
			err = fmt.Errorf("%w: DESCRIBE on topic %s", errTopicAuthorization, name)
		case t == nil:
			err = fmt.Errorf("%w: %q", errUnknownTopic, name)
		}
		if err != nil {
			if !all {
				describeTopicError(resp, name, err)
			}
			continue
		}
		first := int32(0)
		if name == startTopic {
			first = startPart
		}
		rt, next := describeTopicPartitions(st, t, first, limit)
		rt.AuthorizedOperations = s.authorizedOps(req, acl.ResourceTopic, name)
		resp.Topics = append(resp.Topics, rt)
		limit -= len(rt.Partitions)
		if next >= 0 || limit == 0 {
			resp.NextCursor = nextCursor(st, names, name, next)
			break
		}
	}
	return resp
}

// describeTopicPartitions describes t's partitions from first, at most
// limit of them; next is the first partition left out, -1 when none.
func describeTopicPartitions(st *raftmeta.State, t *raftmeta.Topic, first int32, limit int) (kmsg.DescribeTopicPartitionsResponseTopic, int32) {
	rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
	name := t.Name
	rt.Topic, rt.TopicID, rt.IsInternal = &name, t.ID, t.Internal
	for i := int(max(first, 0)); i < len(t.Partitions); i++ {
		if len(rt.Partitions) == limit {
			return rt, int32(i)
		}
		p := t.Partitions[i]
		rp := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
		rp.Partition, rp.LeaderID, rp.LeaderEpoch = p.Index, p.Leader, p.LeaderEpoch
		rp.Replicas, rp.ISR = slices.Clone(p.Replicas), slices.Clone(p.ISR)
		rp.EligibleLeaderReplicas, rp.LastKnownELR, rp.OfflineReplicas = []int32{}, []int32{}, []int32{}
		for _, id := range p.Replicas {
			if b, ok := st.Brokers[id]; !ok || b.Fenced {
				rp.OfflineReplicas = append(rp.OfflineReplicas, id)
			}
		}
		if p.Leader < 0 {
			rp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		rt.Partitions = append(rt.Partitions, rp)
	}
	return rt, -1
}

// nextCursor points at partition next of topic name, or (next -1) at the
// first partition of the next existing topic of names; nil at the end.
func nextCursor(st *raftmeta.State, names []string, name string, next int32) *kmsg.DescribeTopicPartitionsResponseNextCursor {
	c := kmsg.NewDescribeTopicPartitionsResponseNextCursor()
	if next >= 0 {
		c.Topic, c.Partition = name, next
		return &c
	}
	i := slices.Index(names, name)
	for _, n := range names[i+1:] {
		if st.Topics[n] != nil {
			c.Topic = n
			return &c
		}
	}
	return nil
}

// describeTopicError appends an error result for topic name.
func describeTopicError(resp *kmsg.DescribeTopicPartitionsResponse, name string, err error) kmsg.Response {
	rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
	rt.Topic = &name
	rt.ErrorCode = errorCode(err)
	resp.Topics = append(resp.Topics, rt)
	return resp
}
