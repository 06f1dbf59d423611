package server

// CLIENT_METRICS config resources (KIP-714, resource type 16): named
// client metrics subscriptions, set with IncrementalAlterConfigs, read
// with DescribeConfigs, listed with ListConfigResources, and stored in
// the metadata log (raftmeta.AlterClientMetrics) so every broker hands out
// the same subscriptions. As Kafka's ClientMetricsConfigs:
//   - metrics: a list of metric name prefixes; "*" subscribes to all.
//   - interval.ms: the push interval, 100 to 3600000 (default 300000).
//   - match: a list of name=regex selectors, all of which must match the
//     client (full match): client_instance_id, client_id,
//     client_software_name, client_software_version, client_source_address,
//     client_source_port. Empty: every client.
// An unknown key or an interval out of range is INVALID_REQUEST, a bad
// match selector INVALID_CONFIG, an empty name INVALID_REQUEST. Deleting the
// last config deletes the subscription. Reading and changing them needs
// DESCRIBE_CONFIGS / ALTER_CONFIGS on the cluster, as in Kafka.

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Client metrics config keys and limits, as Kafka names them.
const (
	cmMetrics          = "metrics"
	cmInterval         = "interval.ms"
	cmMatch            = "match"
	cmAllMetrics       = "*"
	cmDefaultInterval  = 5 * 60 * 1000
	cmMinInterval      = 100
	cmMaxInterval      = 3600000
	maxCMMatchSelector = 6 // one per selector name
)

// cmMatchNames are the client attributes a match selector may name.
var cmMatchNames = []string{"client_instance_id", "client_id", "client_software_name", "client_software_version", "client_source_address", "client_source_port"}

// clientMetricsSub is one parsed subscription.
type clientMetricsSub struct {
	name     string
	metrics  []string
	interval int32
	match    map[string]*regexp.Regexp
}

// parseClientMetrics validates a subscription's configs and parses them.
func parseClientMetrics(name string, cfg map[string]string) (clientMetricsSub, error) {
	sub := clientMetricsSub{name: name, interval: cmDefaultInterval}
	if name == "" {
		return sub, fmt.Errorf("%w: Subscription name can't be empty", errInvalidRequest)
	}
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		v := cfg[k]
		switch k {
		case cmMetrics:
			sub.metrics = splitList(v)
		case cmInterval:
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
			if err != nil || n < cmMinInterval || n > cmMaxInterval {
				return sub, fmt.Errorf("%w: Invalid value %s for %s, interval must be between 100 and 3600000 (1 hour)", errInvalidRequest, v, cmInterval)
			}
			sub.interval = int32(n)
		case cmMatch:
			m, err := parseCMMatch(splitList(v))
			if err != nil {
				return sub, err
			}
			sub.match = m
		default:
			return sub, fmt.Errorf("%w: Unknown client metrics configuration: %s", errInvalidRequest, k)
		}
	}
	return sub, nil
}

// parseCMMatch parses match selectors (name=regex); Go's RE2 syntax stands
// in for Java's, and matching is anchored to the whole value as Java's
// Matcher.matches is.
func parseCMMatch(items []string) (map[string]*regexp.Regexp, error) {
	out := map[string]*regexp.Regexp{}
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || strings.Contains(v, "=") || !slices.Contains(cmMatchNames, k) {
			return nil, fmt.Errorf("%w: Illegal client matching pattern: %s", errInvalidConfig, it)
		}
		re, err := regexp.Compile("^(?:" + v + ")$")
		if err != nil {
			return nil, fmt.Errorf("%w: Illegal client matching pattern: %s", errInvalidConfig, it)
		}
		out[k] = re
	}
	if len(out) > maxCMMatchSelector {
		return nil, fmt.Errorf("%w: too many match selectors", errInvalidConfig)
	}
	return out, nil
}

// alterClientMetrics is alterResource for a CLIENT_METRICS resource.
func (s *Server) alterClientMetrics(ctx context.Context, name string, validateOnly bool, next func(map[string]string) (map[string]string, error)) error {
	if name == "" {
		return fmt.Errorf("%w: Subscription name can't be empty", errInvalidRequest)
	}
	cur := maps.Clone(s.meta.State().ClientMetrics[name])
	if cur == nil {
		cur = map[string]string{}
	}
	want, err := next(maps.Clone(cur))
	if err != nil {
		return err
	}
	if _, err := parseClientMetrics(name, want); err != nil {
		return err
	}
	ops := configDiff(cur, want)
	if validateOnly || len(ops) == 0 {
		return nil
	}
	return s.meta.AlterClientMetrics(ctx, name, ops)
}

// applyIncrementalClientMetrics applies IncrementalAlterConfigs operations
// to a subscription's configs; APPEND and SUBTRACT work on the two list
// configs.
func applyIncrementalClientMetrics(cur map[string]string, cfgs []kmsg.IncrementalAlterConfigsRequestResourceConfig) (map[string]string, error) {
	seen := map[string]bool{}
	for _, c := range cfgs {
		if seen[c.Name] {
			return nil, fmt.Errorf("%w: config %q is given more than once", errInvalidRequest, c.Name)
		}
		seen[c.Name] = true
		if c.Name != cmMetrics && c.Name != cmInterval && c.Name != cmMatch {
			return nil, fmt.Errorf("%w: Unknown client metrics configuration: %s", errInvalidRequest, c.Name)
		}
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			if c.Value == nil {
				return nil, fmt.Errorf("%w: null value to SET for %q", errInvalidConfig, c.Name)
			}
			cur[c.Name] = *c.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(cur, c.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if c.Name == cmInterval || c.Value == nil {
				return nil, fmt.Errorf("%w: %s is only allowed for list configs with a value", errInvalidConfig, c.Op)
			}
			items := splitList(cur[c.Name])
			for _, v := range splitList(*c.Value) {
				if c.Op == kmsg.IncrementalAlterConfigOpAppend && !slices.Contains(items, v) {
					items = append(items, v)
				} else if c.Op == kmsg.IncrementalAlterConfigOpSubtract {
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

// clientMetricsEntries describes a subscription: its three configs, set
// ones as DYNAMIC_CLIENT_METRICS_CONFIG, the rest at their defaults.
func (s *Server) clientMetricsEntries(name string) ([]configEntry, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: Subscription name can't be empty", errInvalidRequest)
	}
	set := s.meta.State().ClientMetrics[name]
	defs := []struct {
		key, def string
		typ      configType
	}{{cmInterval, strconv.Itoa(cmDefaultInterval), typeInt}, {cmMatch, "", typeList}, {cmMetrics, "", typeList}}
	var out []configEntry
	for _, d := range defs {
		e := configEntry{name: d.key, value: d.def, source: kmsg.ConfigSourceDefaultConfig, typ: d.typ}
		if v, ok := set[d.key]; ok {
			e.value, e.source = v, kmsg.ConfigSourceClientMetricsConfig
		}
		e.synonyms = []configSynonym{{name: e.name, value: e.value, source: e.source}}
		out = append(out, e)
	}
	return out, nil
}
