package raftmeta

import (
	"context"
	"fmt"
)

// Client metrics subscriptions (KIP-714, Kafka's CLIENT_METRICS config
// resources): State.ClientMetrics maps a subscription name to its configs
// (metrics, interval.ms, match). The server validates keys and values and
// computes subscriptions from them; this package stores them, bounded like
// broker configs. A subscription whose last config is deleted disappears.

// maxClientMetrics bounds the number of subscriptions.
const maxClientMetrics = 10000

type alterClientMetricsCmd struct {
	Name string     `json:"name"`
	Ops  []ConfigOp `json:"ops"`
}

func (c *alterClientMetricsCmd) validate() error {
	if c.Name == "" || len(c.Name) > maxFieldLen {
		return fmt.Errorf("%w: client metrics name %q", ErrInvalidConfig, c.Name)
	}
	return validateConfigOps(c.Ops)
}

func (c *alterClientMetricsCmd) apply(s *State) (*State, applyResult) {
	cur := s.ClientMetrics[c.Name]
	nc := applyConfigOps(cur, c.Ops)
	if cur == nil && len(nc) > 0 && len(s.ClientMetrics) >= maxClientMetrics {
		return nil, applyResult{err: fmt.Errorf("%w: %d client metrics subscriptions, the limit", ErrInvalidConfig, maxClientMetrics)}
	}
	next := s.clone()
	next.ClientMetrics = withConfigMap(s.ClientMetrics, c.Name, nc)
	return next, applyResult{}
}

// clientMetricsSnapshot is one subscription in a snapshot.
type clientMetricsSnapshot struct {
	Name    string            `json:"name"`
	Configs map[string]string `json:"configs"`
}

func encodeClientMetrics(s *State) []clientMetricsSnapshot {
	return encodeConfigMaps(s.ClientMetrics, func(name string, configs map[string]string) clientMetricsSnapshot {
		return clientMetricsSnapshot{Name: name, Configs: configs}
	})
}

func decodeClientMetrics(s *State, in []clientMetricsSnapshot) error {
	for _, c := range in {
		if c.Name == "" || !decodeConfigMap(&s.ClientMetrics, c.Name, c.Configs) {
			return fmt.Errorf("%w: snapshot client metrics %q duplicate or empty", ErrCorruptCommand, c.Name)
		}
	}
	return nil
}

type alterClientMetricsArgs struct {
	Name string
	Ops  []ConfigOp
}

var fwdAlterClientMetrics = forwardMethod[alterClientMetricsArgs, struct{}]{"AlterClientMetrics", (*Node).alterClientMetricsLocal}

// AlterClientMetrics applies set/delete operations to the configs of the
// named client metrics subscription. Keys and values are validated by the
// server. It runs on the controller, forwarded there from any node.
func (n *Node) AlterClientMetrics(ctx context.Context, name string, ops []ConfigOp) error {
	_, err := fwdAlterClientMetrics.call(ctx, n, alterClientMetricsArgs{Name: name, Ops: ops})
	return err
}

func (n *Node) alterClientMetricsLocal(ctx context.Context, a alterClientMetricsArgs) (struct{}, error) {
	if err := n.checkWritable(); err != nil {
		return struct{}{}, err
	}
	_, err := n.proposeChecked(ctx, n.fsm.current(), cmdAlterClientMetrics, &alterClientMetricsCmd{Name: a.Name, Ops: a.Ops}, false)
	return struct{}{}, err
}
