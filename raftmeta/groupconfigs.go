package raftmeta

import (
	"context"
	"fmt"
)

// Group configs (Kafka's GROUP config resources, KIP-848/KIP-932, set with
// IncrementalAlterConfigs): State.GroupConfigs maps a group id to the
// configs set on it, e.g. share.auto.offset.reset. The server decides which
// keys are valid; this package stores what it is given, bounded like topic
// configs.

// maxGroupIDLen bounds a group id stored here (Kafka has no limit below
// the string's 32 KiB; ids are short in practice).
const maxGroupIDLen = 4096

type alterGroupConfigsCmd struct {
	Group string     `json:"group"`
	Ops   []ConfigOp `json:"ops"`
}

func (c *alterGroupConfigsCmd) validate() error {
	if c.Group == "" || len(c.Group) > maxGroupIDLen {
		return fmt.Errorf("%w: group id of %d bytes", ErrInvalidConfig, len(c.Group))
	}
	return validateConfigOps(c.Ops)
}

func (c *alterGroupConfigsCmd) apply(s *State) (*State, applyResult) {
	nc := applyConfigOps(s.GroupConfigs[c.Group], c.Ops)
	if len(nc) > maxConfigs {
		return nil, applyResult{err: fmt.Errorf("%w: %d configs on group %q, the limit is %d", ErrInvalidConfig, len(nc), c.Group, maxConfigs)}
	}
	next := s.clone()
	next.GroupConfigs = withConfigMap(s.GroupConfigs, c.Group, nc)
	return next, applyResult{}
}

// groupConfigsSnapshot is one group's configs in a snapshot.
type groupConfigsSnapshot struct {
	Group   string            `json:"group"`
	Configs map[string]string `json:"configs"`
}

func encodeGroupConfigs(s *State) []groupConfigsSnapshot {
	return encodeConfigMaps(s.GroupConfigs, func(g string, configs map[string]string) groupConfigsSnapshot {
		return groupConfigsSnapshot{Group: g, Configs: configs}
	})
}

func decodeGroupConfigs(s *State, in []groupConfigsSnapshot) error {
	for _, g := range in {
		if g.Group == "" || !decodeConfigMap(&s.GroupConfigs, g.Group, g.Configs) {
			return fmt.Errorf("%w: snapshot group configs of %q duplicate or empty", ErrCorruptCommand, g.Group)
		}
	}
	return nil
}

type alterGroupConfigsArgs struct {
	Group string
	Ops   []ConfigOp
}

var fwdAlterGroupConfigs = forwardMethod[alterGroupConfigsArgs, struct{}]{"AlterGroupConfigs", (*Node).alterGroupConfigsLocal}

// AlterGroupConfigs applies set/delete operations to group's configs. Keys
// and values are validated by the server. It runs on the controller,
// forwarded there from any node.
func (n *Node) AlterGroupConfigs(ctx context.Context, group string, ops []ConfigOp) error {
	_, err := fwdAlterGroupConfigs.call(ctx, n, alterGroupConfigsArgs{Group: group, Ops: ops})
	return err
}

func (n *Node) alterGroupConfigsLocal(ctx context.Context, a alterGroupConfigsArgs) (struct{}, error) {
	if err := n.checkWritable(); err != nil {
		return struct{}{}, err
	}
	_, err := n.proposeChecked(ctx, n.fsm.current(), cmdAlterGroupConfigs, &alterGroupConfigsCmd{Group: a.Group, Ops: a.Ops}, false)
	return struct{}{}, err
}
