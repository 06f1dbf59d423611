package server

// CreateTopics: versions 0-7.
//
// Behaviour:
//   - Each topic is created through the controller (raftmeta) and answered on
//     its own; one bad topic does not fail the others.
//   - A name given twice in one request: INVALID_REQUEST for each copy, and
//     neither is created (as Kafka).
//   - Names are checked against Kafka's rules (INVALID_TOPIC_EXCEPTION with
//     the reason), including Kafka's collision rule: "a.b" and "a_b" cannot
//     both exist, because metric names would clash.
//   - NumPartitions / ReplicationFactor -1 take num.partitions /
//     default.replication.factor (KIP-464; accepted in every version).
//     Zero or below -1: INVALID_PARTITIONS / INVALID_REPLICATION_FACTOR.
//   - ReplicaAssignment, when given, needs both counts -1 (else
//     INVALID_REQUEST) and partitions numbered 0..n-1 exactly once (else
//     INVALID_REPLICA_ASSIGNMENT); the controller checks the brokers.
//   - Configs go through the topic config registry (configs.go): unknown
//     keys, unsupported values and null values are INVALID_CONFIG with a
//     message naming the key.
//   - Needs CREATE on the cluster or on the topic (else
//     TOPIC_AUTHORIZATION_FAILED); the returned configs need
//     DESCRIBE_CONFIGS on the topic (else ConfigErrorCode
//     TOPIC_AUTHORIZATION_FAILED and none), as Kafka.
//   - ValidateOnly runs every check, including the controller's, and
//     creates nothing.
//   - After a real creation the handler waits (within its timeout) for the
//     reconciler to open the local replicas before answering, so a produce
//     right after finds the partition here.
//
// Version notes:
//   - v1: ValidateOnly, ErrorMessage.
//   - v4: -1 defaults (we accept them in every version).
//   - v5: the response carries NumPartitions, ReplicationFactor and the
//     topic's configs; they are -1 / empty for a failed topic.
//   - v7: TopicID.

import (
	"context"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleCreateTopics(ctx context.Context, req *wire.Request, r *kmsg.CreateTopicsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
	resp.Version = r.Version
	ctx, cancel := context.WithTimeout(ctx, requestTimeout(r.TimeoutMillis))
	defer cancel()

	count := make(map[string]int, len(r.Topics))
	for _, t := range r.Topics {
		count[t.Topic]++
	}
	created := false
	clusterCreate := s.authorizeCluster(req, acl.OpCreate)
	for i := range r.Topics {
		t := &r.Topics[i]
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = t.Topic
		rt.NumPartitions, rt.ReplicationFactor = -1, -1

		var topic *raftmeta.Topic
		var err error
		switch {
		case count[t.Topic] > 1:
			err = fmt.Errorf("%w: topic %q is named more than once in the request", errInvalidRequest, t.Topic)
		case !clusterCreate && !s.authorize(req, acl.OpCreate, acl.ResourceTopic, t.Topic):
			err = fmt.Errorf("%w: CREATE on the cluster or on topic %s", errTopicAuthorization, t.Topic)
		default:
			topic, err = s.createTopic(ctx, t, r.ValidateOnly)
		}
		if err != nil {
			rt.ErrorCode = errorCode(err)
			rt.ErrorMessage = errorMessage(err)
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		created = created || !r.ValidateOnly
		rt.TopicID = topic.ID
		rt.NumPartitions = int32(len(topic.Partitions))
		if len(topic.Partitions) > 0 {
			rt.ReplicationFactor = int16(len(topic.Partitions[0].Replicas))
		}
		if !s.authorize(req, acl.OpDescribeConfigs, acl.ResourceTopic, t.Topic) {
			rt.ConfigErrorCode = kerr.TopicAuthorizationFailed.Code // v5+: configs withheld
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		for _, e := range s.topicConfigEntries(topic.Configs) {
			rc := kmsg.NewCreateTopicsResponseTopicConfig()
			rc.Name = e.name
			rc.Value = kmsg.StringPtr(e.value)
			rc.ReadOnly = e.readOnly
			rc.Source = int8(e.source)
			rt.Configs = append(rt.Configs, rc)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if created {
		s.awaitLocal(ctx)
	}
	return resp
}

// createTopic validates one CreateTopics entry and creates it (or, with
// validateOnly, only checks it). The returned topic describes what was (or
// would be) created.
func (s *Server) createTopic(ctx context.Context, t *kmsg.CreateTopicsRequestTopic, validateOnly bool) (*raftmeta.Topic, error) {
	if err := validateTopicName(t.Topic); err != nil {
		return nil, err
	}
	st := s.meta.State()
	if _, ok := st.Topics[t.Topic]; ok {
		return nil, fmt.Errorf("%w: %q", raftmeta.ErrTopicExists, t.Topic)
	}
	if other := collidingTopic(st, t.Topic); other != "" {
		return nil, fmt.Errorf("%w: topic %q collides with existing topic %q ('.' and '_' are the same in metric names)", errInvalidTopic, t.Topic, other)
	}

	configs := make(map[string]string, len(t.Configs))
	for _, c := range t.Configs {
		if c.Value == nil {
			return nil, fmt.Errorf("%w: null value for topic config %q", errInvalidConfig, c.Name)
		}
		configs[c.Name] = *c.Value
	}
	if err := validateTopicConfigs(configs); err != nil {
		return nil, err
	}
	if err := checkCompactionLags(configs, s.cfg.Log); err != nil {
		return nil, err
	}

	spec := raftmeta.TopicSpec{Name: t.Topic, Configs: configs}
	if len(t.ReplicaAssignment) > 0 {
		if t.NumPartitions != -1 || t.ReplicationFactor != -1 {
			return nil, fmt.Errorf("%w: numPartitions and replicationFactor must be -1 when replicaAssignment is given", errInvalidRequest)
		}
		assign, err := replicaAssignment(t.ReplicaAssignment)
		if err != nil {
			return nil, err
		}
		spec.Assignment = assign
		spec.Partitions = int32(len(assign))
		spec.ReplicationFactor = int16(len(assign[0]))
	} else {
		spec.Partitions = t.NumPartitions
		if spec.Partitions == -1 {
			spec.Partitions = s.cfg.NumPartitions
		}
		if spec.Partitions <= 0 {
			return nil, fmt.Errorf("%w: number of partitions must be positive, or -1 for the broker default (num.partitions), got %d", raftmeta.ErrInvalidPartitions, t.NumPartitions)
		}
		spec.ReplicationFactor = t.ReplicationFactor
		if spec.ReplicationFactor == -1 {
			spec.ReplicationFactor = s.cfg.DefaultReplicationFactor
		}
		if spec.ReplicationFactor <= 0 {
			return nil, fmt.Errorf("%w: replication factor must be positive, or -1 for the broker default (default.replication.factor), got %d", raftmeta.ErrInvalidReplicationFactor, t.ReplicationFactor)
		}
	}

	topic, err := s.meta.CreateTopic(ctx, spec, validateOnly)
	if err != nil {
		return nil, err
	}
	if topic == nil {
		// A validate-only answer without a topic: describe the spec.
		topic = &raftmeta.Topic{Name: spec.Name, Configs: spec.Configs, Partitions: make([]raftmeta.Partition, spec.Partitions)}
		for i := range topic.Partitions {
			topic.Partitions[i].Index = int32(i)
			topic.Partitions[i].Replicas = make([]int32, spec.ReplicationFactor)
		}
	}
	return topic, nil
}

// replicaAssignment turns a CreateTopics replica assignment into one replica
// list per partition, requiring partitions 0..n-1 each exactly once.
func replicaAssignment(in []kmsg.CreateTopicsRequestTopicReplicaAssignment) ([][]int32, error) {
	out := make([][]int32, len(in))
	for _, a := range in {
		if a.Partition < 0 || int(a.Partition) >= len(in) {
			return nil, fmt.Errorf("%w: partitions must be numbered 0 to %d, got %d", raftmeta.ErrInvalidReplicaAssignment, len(in)-1, a.Partition)
		}
		if out[a.Partition] != nil {
			return nil, fmt.Errorf("%w: partition %d is assigned twice", raftmeta.ErrInvalidReplicaAssignment, a.Partition)
		}
		if len(a.Replicas) == 0 {
			return nil, fmt.Errorf("%w: partition %d has no replicas", raftmeta.ErrInvalidReplicaAssignment, a.Partition)
		}
		out[a.Partition] = a.Replicas
	}
	return out, nil
}

// collidingTopic returns an existing topic whose name equals name once '.'
// is replaced by '_' (Kafka refuses such pairs), or "".
func collidingTopic(st *raftmeta.State, name string) string {
	if !strings.ContainsAny(name, "._") {
		return ""
	}
	norm := strings.ReplaceAll(name, ".", "_")
	for other := range st.Topics {
		if other != name && strings.ReplaceAll(other, ".", "_") == norm {
			return other
		}
	}
	return ""
}
