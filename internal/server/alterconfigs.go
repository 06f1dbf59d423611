package server

// AlterConfigs: versions 0-2. IncrementalAlterConfigs: versions 0-1.
//
// Behaviour (both):
//   - TOPIC resources only. Changes are checked against the topic config
//     registry (configs.go) and written through the controller as set/delete
//     operations; local partitions pick the new settings up in the reconciler's next pass
//     before the answer goes out (retention, segment size, min ISR ...).
//     Invalid name: INVALID_TOPIC_EXCEPTION; unknown topic:
//     UNKNOWN_TOPIC_OR_PARTITION; bad key or value: INVALID_CONFIG naming it.
//   - BROKER resources: INVALID_REQUEST "dynamic broker configs are not
//     supported" (a wrong broker id says so instead). Broker settings are
//     fixed at start-up; pretending to accept changes would be a lie.
//   - CLIENT_METRICS resources: KIP-714 subscriptions
//     (clientmetrics_configs.go).
//   - Any other resource type: INVALID_REQUEST.
//   - A resource named twice, or a key named twice within one resource:
//     INVALID_REQUEST (as Kafka).
//   - ValidateOnly checks everything and writes nothing.
//
// AlterConfigs (legacy) replaces the topic's whole set of configs: keys not
// in the request go back to the broker default. A null value is
// INVALID_CONFIG.
//
// IncrementalAlterConfigs applies per-key operations: SET (0), DELETE (1,
// back to the broker default), and APPEND (2) / SUBTRACT (3), which are only
// valid for list configs (cleanup.policy is the only one) and work on the
// effective value (the topic's, else the broker default). APPEND or SUBTRACT
// on a non-list config, a null value for SET/APPEND/SUBTRACT, or a list
// result with unsupported items is INVALID_CONFIG; an unknown operation is
// INVALID_REQUEST.
//
// Version notes: AlterConfigs v1 is v0; v2 is flexible. IncrementalAlterConfigs
// v1 is flexible.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

type resourceKey struct {
	typ  kmsg.ConfigResourceType
	name string
}

func (s *Server) handleAlterConfigs(ctx context.Context, req *wire.Request, r *kmsg.AlterConfigsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
	resp.Version = r.Version
	keys := make([]resourceKey, len(r.Resources))
	for i, res := range r.Resources {
		keys[i] = resourceKey{res.ResourceType, res.ResourceName}
	}
	errs := s.alterEach(ctx, req, keys, r.ValidateOnly, func(i int) func(map[string]string) (map[string]string, error) {
		return func(map[string]string) (map[string]string, error) { return replaceConfigs(r.Resources[i].Configs) }
	})
	for i, k := range keys {
		rr := kmsg.NewAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = k.typ, k.name
		rr.ErrorCode, rr.ErrorMessage = errorCode(errs[i]), errorMessage(errs[i])
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

func (s *Server) handleIncrementalAlterConfigs(ctx context.Context, req *wire.Request, r *kmsg.IncrementalAlterConfigsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	resp.Version = r.Version
	keys := make([]resourceKey, len(r.Resources))
	for i, res := range r.Resources {
		keys[i] = resourceKey{res.ResourceType, res.ResourceName}
	}
	errs := s.alterEach(ctx, req, keys, r.ValidateOnly, func(i int) func(map[string]string) (map[string]string, error) {
		return func(cur map[string]string) (map[string]string, error) {
			switch r.Resources[i].ResourceType {
			case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeGroupConfig:
				// SET and DELETE only; the keys are checked by alterResource.
				return applyIncrementalBroker(cur, r.Resources[i].Configs) // throttle.go
			case kmsg.ConfigResourceTypeClientMetrics:
				return applyIncrementalClientMetrics(cur, r.Resources[i].Configs) // clientmetrics_configs.go
			}
			return s.applyIncremental(cur, r.Resources[i].Configs)
		}
	})
	for i, k := range keys {
		rr := kmsg.NewIncrementalAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = k.typ, k.name
		rr.ErrorCode, rr.ErrorMessage = errorCode(errs[i]), errorMessage(errs[i])
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

// alterEach runs both AlterConfigs flavours (each resource needs
// ALTER_CONFIGS, see configAuthorized): each resource named once gets
// alterResource with the edit its request describes; a resource named more
// than once is refused, as Kafka does. It returns one error (or nil) per
// resource, in order, and reconciles local replicas if anything changed.
func (s *Server) alterEach(ctx context.Context, req *wire.Request, keys []resourceKey, validateOnly bool, edit func(i int) func(map[string]string) (map[string]string, error)) []error {
	count := make(map[resourceKey]int, len(keys))
	for _, k := range keys {
		count[k]++
	}
	errs := make([]error, len(keys))
	changed := false
	for i, k := range keys {
		if count[k] > 1 {
			errs[i] = fmt.Errorf("%w: resource %s %q is given more than once", errInvalidRequest, k.typ, k.name)
			continue
		}
		if errs[i] = s.configAuthorized(req, k.typ, k.name, acl.OpAlterConfigs); errs[i] != nil {
			continue
		}
		errs[i] = s.alterResource(ctx, k.typ, k.name, validateOnly, edit(i))
		changed = changed || (errs[i] == nil && !validateOnly)
	}
	if changed {
		s.awaitLocal(ctx)
	}
	return errs
}

// alterResource computes a topic's new configs with next (given a copy of
// the current ones), validates them and, unless validateOnly, writes the
// difference through the controller.
func (s *Server) alterResource(ctx context.Context, typ kmsg.ConfigResourceType, name string, validateOnly bool, next func(cur map[string]string) (map[string]string, error)) error {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
	case kmsg.ConfigResourceTypeBroker:
		id := raftmeta.DefaultBrokerConfigs
		if name != "" {
			if err := s.checkBrokerResource(name); err != nil {
				return err
			}
			id = s.cfg.NodeID
		}
		return s.alterBrokerConfigs(ctx, id, validateOnly, next) // throttle.go
	case kmsg.ConfigResourceTypeGroupConfig:
		return s.alterGroupConfigs(ctx, name, validateOnly, next) // groupconfigs.go
	case kmsg.ConfigResourceTypeClientMetrics:
		return s.alterClientMetrics(ctx, name, validateOnly, next) // clientmetrics_configs.go
	default:
		return fmt.Errorf("%w: resource type %s is not supported", errInvalidRequest, typ)
	}
	if err := validateTopicName(name); err != nil {
		return err
	}
	t, ok := s.meta.State().Topics[name]
	if !ok {
		return fmt.Errorf("%w: %q", errUnknownTopic, name)
	}
	cur := maps.Clone(t.Configs)
	if cur == nil {
		cur = make(map[string]string)
	}
	want, err := next(maps.Clone(cur))
	if err != nil {
		return err
	}
	if err := validateTopicConfigs(want); err != nil {
		return err
	}
	if err := checkCompactionLags(want, s.cfg.Log); err != nil {
		return err
	}
	ops := configDiff(cur, want)
	if validateOnly || len(ops) == 0 {
		return nil
	}
	return s.meta.AlterTopicConfigs(ctx, name, ops)
}

// replaceConfigs is legacy AlterConfigs: the request is the whole new set.
func replaceConfigs(cfgs []kmsg.AlterConfigsRequestResourceConfig) (map[string]string, error) {
	want := make(map[string]string, len(cfgs))
	for _, c := range cfgs {
		if _, dup := want[c.Name]; dup {
			return nil, fmt.Errorf("%w: config %q is given more than once", errInvalidRequest, c.Name)
		}
		if c.Value == nil {
			return nil, fmt.Errorf("%w: null value for topic config %q", errInvalidConfig, c.Name)
		}
		want[c.Name] = *c.Value
	}
	return want, nil
}

// applyIncremental applies IncrementalAlterConfigs operations to cur (which
// it may modify) and returns the result.
func (s *Server) applyIncremental(cur map[string]string, cfgs []kmsg.IncrementalAlterConfigsRequestResourceConfig) (map[string]string, error) {
	seen := make(map[string]bool, len(cfgs))
	for _, c := range cfgs {
		if seen[c.Name] {
			return nil, fmt.Errorf("%w: config %q is given more than once", errInvalidRequest, c.Name)
		}
		seen[c.Name] = true
	}
	for _, c := range cfgs {
		def, known := topicConfigByName[c.Name]
		if !known {
			return nil, fmt.Errorf("%w: unknown or unsupported topic config %q", errInvalidConfig, c.Name)
		}
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			if c.Value == nil {
				return nil, fmt.Errorf("%w: null value to SET for topic config %q", errInvalidConfig, c.Name)
			}
			cur[c.Name] = *c.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(cur, c.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if def.typ != typeList {
				return nil, fmt.Errorf("%w: %s is only allowed for list configs, and %q is not one", errInvalidConfig, c.Op, c.Name)
			}
			if c.Value == nil {
				return nil, fmt.Errorf("%w: null value to %s for topic config %q", errInvalidConfig, c.Op, c.Name)
			}
			base, ok := cur[c.Name]
			if !ok {
				base = def.def(&s.cfg)
			}
			items := splitList(base)
			for _, v := range splitList(*c.Value) {
				if c.Op == kmsg.IncrementalAlterConfigOpAppend {
					if !slices.Contains(items, v) {
						items = append(items, v)
					}
				} else {
					items = slices.DeleteFunc(items, func(x string) bool { return x == v })
				}
			}
			cur[c.Name] = strings.Join(items, ",")
		default:
			return nil, fmt.Errorf("%w: unknown config operation %d for %q", errInvalidRequest, c.Op, c.Name)
		}
	}
	return cur, nil
}

// configDiff returns the operations that turn cur into want, sorted by key.
func configDiff(cur, want map[string]string) []raftmeta.ConfigOp {
	var ops []raftmeta.ConfigOp
	for k, v := range want {
		if old, ok := cur[k]; !ok || old != v {
			ops = append(ops, raftmeta.ConfigOp{Key: k, Value: &v})
		}
	}
	for k := range cur {
		if _, ok := want[k]; !ok {
			ops = append(ops, raftmeta.ConfigOp{Key: k})
		}
	}
	slices.SortFunc(ops, func(a, b raftmeta.ConfigOp) int { return strings.Compare(a.Key, b.Key) })
	return ops
}
