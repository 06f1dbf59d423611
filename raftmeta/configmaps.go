package raftmeta

import (
	"cmp"
	"maps"
	"slices"
)

// Named config maps: broker configs, group configs and client metrics
// subscriptions are each a map from a name (a broker id, a group id, a
// subscription name) to the configs set on it, altered by ConfigOp lists,
// snapshotted as a list sorted by name. The helpers below are that logic
// once; each kind keeps its own command, limits, error messages and
// snapshot record (the JSON field names differ and must not change).

// applyConfigOps returns a copy of cur with ops applied in order: a nil
// Value deletes the key, any other sets it. cur is never modified (it is
// shared with the previous State); the result is non-nil, possibly empty.
func applyConfigOps(cur map[string]string, ops []ConfigOp) map[string]string {
	nc := maps.Clone(cur)
	if nc == nil {
		nc = map[string]string{}
	}
	for _, op := range ops {
		if op.Value == nil {
			delete(nc, op.Key)
		} else {
			nc[op.Key] = *op.Value
		}
	}
	return nc
}

// withConfigMap returns a copy of m with name's configs replaced by nc, or
// name removed when nc is empty; nil when nothing is left, so that a State
// without any such configs compares and snapshots like one that never had
// them. m is never modified.
func withConfigMap[K comparable](m map[K]map[string]string, name K, nc map[string]string) map[K]map[string]string {
	next := maps.Clone(m)
	if next == nil {
		next = map[K]map[string]string{}
	}
	if len(nc) == 0 {
		delete(next, name)
	} else {
		next[name] = nc
	}
	if len(next) == 0 {
		return nil
	}
	return next
}

// encodeConfigMaps lists m as snapshot records made by rec, sorted by name
// so that equal states write equal snapshots; nil when m is empty.
func encodeConfigMaps[K cmp.Ordered, R any](m map[K]map[string]string, rec func(K, map[string]string) R) []R {
	var out []R
	for _, name := range slices.Sorted(maps.Keys(m)) {
		out = append(out, rec(name, m[name]))
	}
	return out
}

// decodeConfigMap adds one snapshot record to *m, allocating it on first
// use. It reports false, adding nothing, when name is already there or
// configs is empty: a snapshot never holds either, so the caller fails it
// as corrupt.
func decodeConfigMap[K comparable](m *map[K]map[string]string, name K, configs map[string]string) bool {
	if _, dup := (*m)[name]; dup || len(configs) == 0 {
		return false
	}
	if *m == nil {
		*m = map[K]map[string]string{}
	}
	(*m)[name] = configs
	return true
}
