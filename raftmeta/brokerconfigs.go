package raftmeta

import (
	"context"
	"fmt"
)

// Dynamic broker configs (Kafka's BROKER config resources set with
// IncrementalAlterConfigs): State.BrokerConfigs maps a broker id, or
// DefaultBrokerConfigs for the cluster-wide default, to the configs set on
// it. The server decides which keys are dynamic (today Kafka's replication
// throttles); this package stores what it is given, bounded like topic
// configs.

// DefaultBrokerConfigs is the BrokerConfigs key of the cluster-wide default
// (Kafka's empty broker resource name).
const DefaultBrokerConfigs int32 = -1

type alterBrokerConfigsCmd struct {
	Broker int32      `json:"broker"`
	Ops    []ConfigOp `json:"ops"`
}

func (c *alterBrokerConfigsCmd) validate() error {
	if c.Broker < DefaultBrokerConfigs {
		return fmt.Errorf("%w: broker id %d", ErrInvalidBroker, c.Broker)
	}
	return validateConfigOps(c.Ops)
}

func (c *alterBrokerConfigsCmd) apply(s *State) (*State, applyResult) {
	nc := applyConfigOps(s.BrokerConfigs[c.Broker], c.Ops)
	if len(nc) > maxConfigs {
		return nil, applyResult{err: fmt.Errorf("%w: %d configs on broker %d, the limit is %d", ErrInvalidConfig, len(nc), c.Broker, maxConfigs)}
	}
	next := s.clone()
	next.BrokerConfigs = withConfigMap(s.BrokerConfigs, c.Broker, nc)
	return next, applyResult{}
}

// BrokerConfig is the dynamic value of key for broker id: its own, else the
// cluster-wide default; ok false when neither is set.
func (s *State) BrokerConfig(id int32, key string) (string, bool) {
	if v, ok := s.BrokerConfigs[id][key]; ok {
		return v, true
	}
	v, ok := s.BrokerConfigs[DefaultBrokerConfigs][key]
	return v, ok
}

// brokerConfigsSnapshot is one broker's configs in a snapshot.
type brokerConfigsSnapshot struct {
	Broker  int32             `json:"broker"`
	Configs map[string]string `json:"configs"`
}

func encodeBrokerConfigs(s *State) []brokerConfigsSnapshot {
	return encodeConfigMaps(s.BrokerConfigs, func(id int32, configs map[string]string) brokerConfigsSnapshot {
		return brokerConfigsSnapshot{Broker: id, Configs: configs}
	})
}

func decodeBrokerConfigs(s *State, in []brokerConfigsSnapshot) error {
	for _, b := range in {
		if !decodeConfigMap(&s.BrokerConfigs, b.Broker, b.Configs) {
			return fmt.Errorf("%w: snapshot broker configs of %d duplicate or empty", ErrCorruptCommand, b.Broker)
		}
	}
	return nil
}

type alterBrokerConfigsArgs struct {
	Broker int32
	Ops    []ConfigOp
}

var fwdAlterBrokerConfigs = forwardMethod[alterBrokerConfigsArgs, struct{}]{"AlterBrokerConfigs", (*Node).alterBrokerConfigsLocal}

// AlterBrokerConfigs applies set/delete operations to the dynamic configs
// of broker (DefaultBrokerConfigs: the cluster-wide default). Keys and
// values are validated by the server. It runs on the controller, forwarded
// there from any node.
func (n *Node) AlterBrokerConfigs(ctx context.Context, broker int32, ops []ConfigOp) error {
	_, err := fwdAlterBrokerConfigs.call(ctx, n, alterBrokerConfigsArgs{Broker: broker, Ops: ops})
	return err
}

func (n *Node) alterBrokerConfigsLocal(ctx context.Context, a alterBrokerConfigsArgs) (struct{}, error) {
	if err := n.checkWritable(); err != nil {
		return struct{}{}, err
	}
	_, err := n.proposeChecked(ctx, n.fsm.current(), cmdAlterBrokerConfigs, &alterBrokerConfigsCmd{Broker: a.Broker, Ops: a.Ops}, false)
	return struct{}{}, err
}
