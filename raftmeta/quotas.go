package raftmeta

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// Client quotas (Kafka's DescribeClientQuotas / AlterClientQuotas):
// State.Quotas maps a QuotaEntity to its quota values (key → value). The
// server decides which keys exist and enforces them; this package stores
// what it is given, bounded, and refuses what could never be a quota
// (NaN, infinities, negative values, an empty entity).

// QuotaEntity names what a quota applies to. A nil field is not part of
// the entity; a field pointing at "" is the default entity of that type
// (Kafka's null entity name). Compare entities with QuotaKey.
type QuotaEntity struct {
	User     *string `json:"user,omitempty"`
	ClientID *string `json:"client_id,omitempty"`
	// IP is an "ip" entity (connection_creation_rate, KIP-612); the
	// server never combines it with the other two.
	IP *string `json:"ip,omitempty"`
}

// maxQuotaEntities bounds the number of entities with quotas.
const maxQuotaEntities = 100000

// QuotaKey is the map key of an entity: "u:<user>" and/or "c:<client>",
// joined by "|", or "i:<ip>", with "<default>" never ambiguous because a
// default is written without the colon-separated name ("u" / "c" / "i").
func (e QuotaEntity) QuotaKey() string {
	var parts []string
	if e.User != nil {
		parts = append(parts, part("u", *e.User))
	}
	if e.ClientID != nil {
		parts = append(parts, part("c", *e.ClientID))
	}
	if e.IP != nil {
		parts = append(parts, part("i", *e.IP))
	}
	return strings.Join(parts, "|")
}

func part(kind, name string) string {
	if name == "" {
		return kind
	}
	return kind + ":" + name
}

// QuotaOp sets (Remove false) or removes one quota key of an entity.
type QuotaOp struct {
	Key    string  `json:"key"`
	Value  float64 `json:"value"`
	Remove bool    `json:"remove,omitempty"`
}

// QuotaEntry is one entity with its quotas, as stored.
type QuotaEntry struct {
	Entity QuotaEntity        `json:"entity"`
	Values map[string]float64 `json:"values"`
}

type alterClientQuotasCmd struct {
	Entity QuotaEntity `json:"entity"`
	Ops    []QuotaOp   `json:"ops"`
}

func (c *alterClientQuotasCmd) validate() error {
	if c.Entity.User == nil && c.Entity.ClientID == nil && c.Entity.IP == nil {
		return fmt.Errorf("%w: empty quota entity", ErrInvalidConfig)
	}
	if len(c.Ops) > maxConfigs {
		return fmt.Errorf("%w: %d quota operations", ErrInvalidConfig, len(c.Ops))
	}
	for _, op := range c.Ops {
		if op.Key == "" || len(op.Key) > 255 {
			return fmt.Errorf("%w: quota key %q", ErrInvalidConfig, op.Key)
		}
		if !op.Remove && (math.IsNaN(op.Value) || math.IsInf(op.Value, 0) || op.Value < 0) {
			return fmt.Errorf("%w: quota %s value %v", ErrInvalidConfig, op.Key, op.Value)
		}
	}
	return nil
}

func (c *alterClientQuotasCmd) apply(s *State) (*State, applyResult) {
	k := c.Entity.QuotaKey()
	cur := s.Quotas[k]
	nv := maps.Clone(cur.Values)
	if nv == nil {
		nv = map[string]float64{}
	}
	for _, op := range c.Ops {
		if op.Remove {
			delete(nv, op.Key)
		} else {
			nv[op.Key] = op.Value
		}
	}
	if cur.Values == nil && len(nv) > 0 && len(s.Quotas) >= maxQuotaEntities {
		return nil, applyResult{err: fmt.Errorf("%w: %d quota entities, the limit", ErrInvalidConfig, maxQuotaEntities)}
	}
	next := s.clone()
	next.Quotas = maps.Clone(s.Quotas)
	if next.Quotas == nil {
		next.Quotas = map[string]QuotaEntry{}
	}
	if len(nv) == 0 {
		delete(next.Quotas, k)
	} else {
		next.Quotas[k] = QuotaEntry{Entity: c.Entity, Values: nv}
	}
	if len(next.Quotas) == 0 {
		next.Quotas = nil
	}
	return next, applyResult{}
}

func encodeQuotas(s *State) []QuotaEntry {
	var out []QuotaEntry
	for _, k := range slices.Sorted(maps.Keys(s.Quotas)) {
		out = append(out, s.Quotas[k])
	}
	return out
}

func decodeQuotas(s *State, in []QuotaEntry) error {
	for _, e := range in {
		k := e.Entity.QuotaKey()
		if _, dup := s.Quotas[k]; dup || len(e.Values) == 0 || k == "" {
			return fmt.Errorf("%w: snapshot quotas of %q duplicate or empty", ErrCorruptCommand, k)
		}
		if s.Quotas == nil {
			s.Quotas = map[string]QuotaEntry{}
		}
		s.Quotas[k] = e
	}
	return nil
}

type alterClientQuotasArgs struct {
	Entity QuotaEntity
	Ops    []QuotaOp
}

var fwdAlterClientQuotas = forwardMethod[alterClientQuotasArgs, struct{}]{"AlterClientQuotas", (*Node).alterClientQuotasLocal}

// AlterClientQuotas sets and removes quota values of one entity. Keys and
// entity combinations are validated by the server. It runs on the
// controller, forwarded there from any node.
func (n *Node) AlterClientQuotas(ctx context.Context, e QuotaEntity, ops []QuotaOp) error {
	_, err := fwdAlterClientQuotas.call(ctx, n, alterClientQuotasArgs{Entity: e, Ops: ops})
	return err
}

func (n *Node) alterClientQuotasLocal(ctx context.Context, a alterClientQuotasArgs) (struct{}, error) {
	if err := n.checkWritable(); err != nil {
		return struct{}{}, err
	}
	_, err := n.proposeChecked(ctx, n.fsm.current(), cmdAlterClientQuotas, &alterClientQuotasCmd{Entity: a.Entity, Ops: a.Ops}, false)
	return struct{}{}, err
}
