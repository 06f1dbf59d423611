package server

// Group configs (Kafka's GROUP config resource, type 32): DescribeConfigs,
// IncrementalAlterConfigs and AlterConfigs on a group id, stored in the
// metadata (raftmeta.AlterGroupConfigs). The one key honoured today is
// share.auto.offset.reset (latest or earliest: where a share group's
// share-partitions start when first consumed; the broker's
// share.auto.offset.reset is its default). Other keys Kafka knows for
// groups are refused with INVALID_CONFIG rather than stored and ignored.
// Needs DESCRIBE_CONFIGS / ALTER_CONFIGS on the group
// (GROUP_AUTHORIZATION_FAILED).

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const shareAutoOffsetResetKey = "share.auto.offset.reset"

// alterGroupConfigs computes a group's new configs with next, validates
// them and, unless validateOnly, writes the difference.
func (s *Server) alterGroupConfigs(ctx context.Context, group string, validateOnly bool, next func(map[string]string) (map[string]string, error)) error {
	if group == "" {
		return fmt.Errorf("%w: empty group id", errInvalidRequest)
	}
	cur := maps.Clone(s.meta.State().GroupConfigs[group])
	if cur == nil {
		cur = map[string]string{}
	}
	want, err := next(maps.Clone(cur))
	if err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if k != shareAutoOffsetResetKey {
			return fmt.Errorf("%w: group config %q is not supported (only %s)", errInvalidConfig, k, shareAutoOffsetResetKey)
		}
		if v := want[k]; v != "latest" && v != "earliest" {
			return fmt.Errorf("%w: %s must be latest or earliest, got %q", errInvalidConfig, k, v)
		}
	}
	ops := configDiff(cur, want)
	if validateOnly || len(ops) == 0 {
		return nil
	}
	return s.meta.AlterGroupConfigs(ctx, group, ops)
}

// groupConfigEntries describes a group's configs: each supported key with
// its group value, else the broker's default.
func (s *Server) groupConfigEntries(group string) []configEntry {
	def := s.cfg.ShareAutoOffsetReset
	if def == "" {
		def = DefaultConfig().ShareAutoOffsetReset
	}
	e := configEntry{name: shareAutoOffsetResetKey, value: def, source: kmsg.ConfigSourceDefaultConfig, typ: typeString,
		doc: "Where a share group's share-partitions start when first consumed: latest or earliest."}
	syn := []configSynonym{}
	if v, ok := s.meta.State().GroupConfigs[group][shareAutoOffsetResetKey]; ok {
		syn = append(syn, configSynonym{shareAutoOffsetResetKey, v, kmsg.ConfigSourceGroupConfig})
	}
	syn = append(syn, configSynonym{shareAutoOffsetResetKey, def, kmsg.ConfigSourceDefaultConfig})
	e.value, e.source, e.synonyms = syn[0].value, syn[0].source, syn
	return []configEntry{e}
}

// shareAutoOffsetReset is group's share.auto.offset.reset.
func (s *Server) shareAutoOffsetReset(group string) string {
	if v, ok := s.meta.State().GroupConfigs[group][shareAutoOffsetResetKey]; ok {
		return v
	}
	return s.cfg.ShareAutoOffsetReset
}
