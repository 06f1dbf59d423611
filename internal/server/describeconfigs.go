package server

// DescribeConfigs: versions 0-4.
//
// Behaviour:
//   - TOPIC (2): every topic config Strom implements (configs.go), filtered
//     by ConfigNames (null or empty means all). The value is the topic's own
//     (source DYNAMIC_TOPIC_CONFIG) if set, else the broker's: source
//     STATIC_BROKER_CONFIG when the broker runs with a non-default value,
//     DEFAULT_CONFIG otherwise. Synonyms list all three levels that apply,
//     highest precedence first, the broker levels under the broker name
//     (log.retention.ms ...), as Kafka does. Topic configs are writable.
//     Invalid name: INVALID_TOPIC_EXCEPTION; unknown: UNKNOWN_TOPIC_OR_PARTITION.
//   - BROKER (4) with this broker's id: its effective settings, all
//     read-only (there are no dynamic broker configs), STATIC_BROKER_CONFIG
//     or DEFAULT_CONFIG by the same rule. With "" (cluster-wide dynamic
//     defaults): an empty list, because there are none. Another broker's id
//     or a non-number: INVALID_REQUEST, as Kafka (clients send broker
//     resources to that broker).
//   - Any other resource type (BROKER_LOGGER, ...): INVALID_REQUEST.
//   - A topic needs DESCRIBE_CONFIGS on it (TOPIC_AUTHORIZATION_FAILED), a
//     broker DESCRIBE_CONFIGS on the cluster (CLUSTER_AUTHORIZATION_FAILED).
//   - IsSensitive is always false: no Strom config is a secret.
//
// Version notes:
//   - v0: IsDefault only (true exactly when the source is DEFAULT_CONFIG).
//   - v1: Source, IncludeSynonyms.
//   - v3: IncludeDocumentation, ConfigType.
//   - v4: flexible.

import (
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleDescribeConfigs(req *wire.Request, r *kmsg.DescribeConfigsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	resp.Version = r.Version
	synonyms := r.IncludeSynonyms && r.Version >= 1
	docs := r.IncludeDocumentation && r.Version >= 3
	for _, res := range r.Resources {
		rr := kmsg.NewDescribeConfigsResponseResource()
		rr.ResourceType = res.ResourceType
		rr.ResourceName = res.ResourceName
		entries, err := []configEntry(nil), s.configAuthorized(req, res.ResourceType, res.ResourceName, acl.OpDescribeConfigs)
		if err == nil {
			entries, err = s.describeResource(res.ResourceType, res.ResourceName)
		}
		if err != nil {
			rr.ErrorCode = errorCode(err)
			rr.ErrorMessage = errorMessage(err)
		} else {
			rr.Configs = describeEntries(entries, res.ConfigNames, synonyms, docs)
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

// describeResource returns every config of one resource.
func (s *Server) describeResource(typ kmsg.ConfigResourceType, name string) ([]configEntry, error) {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		if err := validateTopicName(name); err != nil {
			return nil, err
		}
		t, ok := s.meta.State().Topics[name]
		if !ok {
			return nil, fmt.Errorf("%w: %q", errUnknownTopic, name)
		}
		return s.topicConfigEntries(t.Configs), nil
	case kmsg.ConfigResourceTypeBroker:
		if name == "" {
			return s.dynamicBrokerEntries(raftmeta.DefaultBrokerConfigs), nil // throttle.go
		}
		if err := s.checkBrokerResource(name); err != nil {
			return nil, err
		}
		return append(s.brokerConfigEntries(), s.dynamicBrokerEntries(s.cfg.NodeID)...), nil
	case kmsg.ConfigResourceTypeGroupConfig:
		if name == "" {
			return nil, fmt.Errorf("%w: empty group id", errInvalidRequest)
		}
		return s.groupConfigEntries(name), nil // groupconfigs.go
	case kmsg.ConfigResourceTypeClientMetrics:
		return s.clientMetricsEntries(name) // clientmetrics_configs.go
	default:
		return nil, fmt.Errorf("%w: resource type %s is not supported", errInvalidRequest, typ)
	}
}

// configAuthorized is Kafka's check for reading (DESCRIBE_CONFIGS) or
// changing (ALTER_CONFIGS) a config resource: a topic's on the topic, a
// broker's (or broker logger's) on the cluster.
func (s *Server) configAuthorized(req *wire.Request, typ kmsg.ConfigResourceType, name string, op acl.Operation) error {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		if !s.authorize(req, op, acl.ResourceTopic, name) {
			return fmt.Errorf("%w: %s on topic %s", errTopicAuthorization, op, name)
		}
	case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger, kmsg.ConfigResourceTypeClientMetrics:
		if !s.authorizeCluster(req, op) {
			return fmt.Errorf("%w: %s on the cluster", kerr.ClusterAuthorizationFailed, op)
		}
	case kmsg.ConfigResourceTypeGroupConfig:
		if !s.authorize(req, op, acl.ResourceGroup, name) {
			return fmt.Errorf("%w: %s on group %s", kerr.GroupAuthorizationFailed, op, name)
		}
	}
	return nil
}

// checkBrokerResource checks that a BROKER resource name is this broker's id.
func (s *Server) checkBrokerResource(name string) error {
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil {
		return fmt.Errorf("%w: broker id must be an integer, got %q", errInvalidRequest, name)
	}
	if int32(id) != s.cfg.NodeID {
		return fmt.Errorf("%w: this is broker %d; send requests about broker %d to that broker", errInvalidRequest, s.cfg.NodeID, id)
	}
	return nil
}
