package server

// DescribeClientQuotas (48) and AlterClientQuotas (49): versions 0-1, with
// the semantics of Kafka's KRaft controller and broker.
//
// Entities are "user" and "client-id", alone or together, or "ip" alone
// (KIP-612); a null name is the default entity of its type. Other entity
// types answer UNSUPPORTED_VERSION as in Kafka. The keys of user and
// client-id entities are producer_byte_rate and consumer_byte_rate (whole
// bytes per second) and request_percentage; the one key of ip entities is
// connection_creation_rate (whole connections per second, enforced at
// accept: connquota.go). An ip name must be an IP address literal (Kafka
// also takes a resolvable host name; resolving names in the metadata path
// is not worth it), stored in its canonical form. Values must be positive
// (a zero rate would divide the throttle formula by zero). Unknown keys,
// an empty or repeated entity type, ip combined with another type, an
// empty name and non-integral rates answer INVALID_REQUEST per entity. Alter needs ALTER_CONFIGS on the
// cluster, Describe DESCRIBE_CONFIGS, as in Kafka. Writes go through the
// metadata log (raftmeta.AlterClientQuotas) so every broker enforces the
// same quotas.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

// Quota entity types and keys, as Kafka names them.
const (
	quotaUser       = "user"
	quotaClientID   = "client-id"
	quotaIP         = "ip"
	quotaProduceKey = "producer_byte_rate"
	quotaConsumeKey = "consumer_byte_rate"
	quotaRequestKey = "request_percentage"
	quotaConnKey    = "connection_creation_rate"
)

// errQuota is a client quota request Kafka answers with INVALID_REQUEST;
// errQuotaType one it answers with UNSUPPORTED_VERSION.
var (
	errQuota     = errors.New("invalid client quota request")
	errQuotaType = errors.New("unsupported client quota entity type")
)

// quotaError is the Kafka code and message of a validation error.
func quotaError(err error) (int16, *string) {
	msg := kmsg.StringPtr(strings.TrimPrefix(strings.TrimPrefix(err.Error(), errQuota.Error()+": "), errQuotaType.Error()+": "))
	switch {
	case errors.Is(err, errQuotaType):
		return kerr.UnsupportedVersion.Code, msg
	case errors.Is(err, errQuota):
		return kerr.InvalidRequest.Code, msg
	}
	return errorCode(err), errorMessage(err)
}

// quotaEntity validates a request's entity (type, name pairs) as Kafka's
// ClientQuotaControlManager.validateEntity does.
func quotaEntity(parts []kmsg.AlterClientQuotasRequestEntryEntity) (raftmeta.QuotaEntity, error) {
	var e raftmeta.QuotaEntity
	if len(parts) == 0 {
		return e, fmt.Errorf("%w: Invalid empty client quota entity", errQuota)
	}
	seen := map[string]bool{}
	for _, p := range parts {
		if seen[p.Type] {
			return e, fmt.Errorf("%w: Invalid empty client quota entity, duplicate entity entry %s", errQuota, p.Type)
		}
		seen[p.Type] = true
		if p.Name != nil && *p.Name == "" {
			return e, fmt.Errorf("%w: Empty %s not supported", errQuota, p.Type)
		}
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		switch p.Type {
		case quotaUser:
			e.User = &name
		case quotaClientID:
			e.ClientID = &name
		case quotaIP:
			ip := net.ParseIP(name)
			if name != "" && ip == nil {
				return e, fmt.Errorf("%w: %s is not a valid IP or resolvable host.", errQuota, name)
			}
			if ip != nil {
				name = ip.String()
			}
			e.IP = &name
		default:
			return e, fmt.Errorf("%w: Unhandled client quota entity type: %s", errQuotaType, p.Type)
		}
	}
	if e.IP != nil && (e.User != nil || e.ClientID != nil) {
		return e, fmt.Errorf("%w: Invalid quota entity combination, IP entity should not be combined with User or ClientId", errQuota)
	}
	return e, nil
}

// quotaOps validates the operations of one entity: an ip entity takes
// connection_creation_rate only, the others the client quotas.
func quotaOps(ip bool, ops []kmsg.AlterClientQuotasRequestEntryOp) ([]raftmeta.QuotaOp, error) {
	out := make([]raftmeta.QuotaOp, 0, len(ops))
	for _, op := range ops {
		switch op.Key {
		case quotaProduceKey, quotaConsumeKey, quotaRequestKey:
			if ip {
				return nil, fmt.Errorf("%w: Invalid configuration key %s", errQuota, op.Key)
			}
		case quotaConnKey:
			if !ip {
				return nil, fmt.Errorf("%w: Invalid configuration key %s", errQuota, op.Key)
			}
		default:
			return nil, fmt.Errorf("%w: Invalid configuration key %s", errQuota, op.Key)
		}
		if op.Remove {
			out = append(out, raftmeta.QuotaOp{Key: op.Key, Remove: true})
			continue
		}
		v := op.Value
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			return nil, fmt.Errorf("%w: Configuration %s must be a positive value", errQuota, op.Key)
		}
		if op.Key == quotaConnKey && v > math.MaxInt32 {
			return nil, fmt.Errorf("%w: Proposed value for %s is too large for an INT.", errQuota, op.Key)
		}
		if op.Key != quotaRequestKey && (v != math.Trunc(v) || v > math.MaxInt64/2) {
			return nil, fmt.Errorf("%w: Configuration %s must be a Long value", errQuota, op.Key)
		}
		out = append(out, raftmeta.QuotaOp{Key: op.Key, Value: v})
	}
	return out, nil
}

func (s *Server) handleAlterClientQuotas(ctx context.Context, req *wire.Request, r *kmsg.AlterClientQuotasRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	resp.Version = r.Version
	allowed := s.authorizeCluster(req, acl.OpAlterConfigs)
	for _, ent := range r.Entries {
		res := kmsg.NewAlterClientQuotasResponseEntry()
		for _, p := range ent.Entity {
			re := kmsg.NewAlterClientQuotasResponseEntryEntity()
			re.Type, re.Name = p.Type, p.Name
			res.Entity = append(res.Entity, re)
		}
		if !allowed {
			res.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			res.ErrorMessage = kmsg.StringPtr(kerr.ClusterAuthorizationFailed.Description)
		} else if err := s.alterClientQuota(ctx, ent, r.ValidateOnly); err != nil {
			res.ErrorCode, res.ErrorMessage = quotaError(err)
		}
		resp.Entries = append(resp.Entries, res)
	}
	return resp
}

// alterClientQuota validates one entry and, unless validateOnly, writes it.
func (s *Server) alterClientQuota(ctx context.Context, ent kmsg.AlterClientQuotasRequestEntry, validateOnly bool) error {
	e, err := quotaEntity(ent.Entity)
	if err != nil {
		return err
	}
	ops, err := quotaOps(e.IP != nil, ent.Ops)
	if err != nil || validateOnly || len(ops) == 0 {
		return err
	}
	return s.meta.AlterClientQuotas(ctx, e, ops)
}

// quotaFilter is a validated DescribeClientQuotas filter: exact names per
// type (a pointer to "" for the default) and the types that must be present.
type quotaFilter struct {
	exact  map[string]string
	any    map[string]bool
	strict bool
}

// newQuotaFilter validates the components as Kafka's ClientQuotasImage does.
func newQuotaFilter(r *kmsg.DescribeClientQuotasRequest) (quotaFilter, error) {
	f := quotaFilter{exact: map[string]string{}, any: map[string]bool{}, strict: r.Strict}
	for _, c := range r.Components {
		t := c.EntityType
		_, dupE := f.exact[t]
		switch {
		case t == "":
			return f, fmt.Errorf("%w: Invalid empty entity type.", errQuota)
		case dupE || f.any[t]:
			return f, fmt.Errorf("%w: Entity type %s cannot appear more than once in the filter.", errQuota, t)
		case t != quotaUser && t != quotaClientID && t != quotaIP:
			return f, fmt.Errorf("%w: Unsupported entity type %s", errQuotaType, t)
		}
		switch c.MatchType {
		case 0: // exact
			if c.Match == nil {
				return f, fmt.Errorf("%w: Request specified MATCH_TYPE_EXACT, but set match string to null.", errQuota)
			}
			f.exact[t] = *c.Match
		case 1: // default
			if c.Match != nil {
				return f, fmt.Errorf("%w: Request specified MATCH_TYPE_DEFAULT, but also specified a match string.", errQuota)
			}
			f.exact[t] = ""
		case 2: // any specified name
			if c.Match != nil {
				return f, fmt.Errorf("%w: Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.", errQuota)
			}
			f.any[t] = true
		default:
			return f, fmt.Errorf("%w: Unknown match type %d", errQuotaType, c.MatchType)
		}
	}
	_, ipE := f.exact[quotaIP]
	_, userE := f.exact[quotaUser]
	_, clientE := f.exact[quotaClientID]
	if (ipE || f.any[quotaIP]) && (userE || clientE || f.any[quotaUser] || f.any[quotaClientID]) {
		return f, fmt.Errorf("%w: Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.", errQuota)
	}
	return f, nil
}

// matches reports whether the filter selects entity e.
func (f quotaFilter) matches(e raftmeta.QuotaEntity) bool {
	have := map[string]*string{}
	if e.User != nil {
		have[quotaUser] = e.User
	}
	if e.ClientID != nil {
		have[quotaClientID] = e.ClientID
	}
	if e.IP != nil {
		have[quotaIP] = e.IP
	}
	if f.strict && len(have) != len(f.exact)+len(f.any) {
		return false
	}
	for t, name := range f.exact {
		if n, ok := have[t]; !ok || *n != name {
			return false
		}
	}
	for t := range f.any {
		if _, ok := have[t]; !ok {
			return false
		}
	}
	return true
}

func (s *Server) handleDescribeClientQuotas(req *wire.Request, r *kmsg.DescribeClientQuotasRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	resp.Version = r.Version
	if !s.authorizeCluster(req, acl.OpDescribeConfigs) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		resp.ErrorMessage = kmsg.StringPtr(kerr.ClusterAuthorizationFailed.Description)
		return resp
	}
	f, err := newQuotaFilter(r)
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = quotaError(err)
		return resp
	}
	quotas := s.meta.State().Quotas
	for _, k := range slices.Sorted(maps.Keys(quotas)) {
		q := quotas[k]
		if !f.matches(q.Entity) {
			continue
		}
		resp.Entries = append(resp.Entries, describeQuotaEntry(q))
	}
	return resp
}

// describeQuotaEntry is one stored entity as DescribeClientQuotas lists it.
func describeQuotaEntry(q raftmeta.QuotaEntry) kmsg.DescribeClientQuotasResponseEntry {
	e := kmsg.NewDescribeClientQuotasResponseEntry()
	add := func(t string, name *string) {
		if name == nil {
			return
		}
		re := kmsg.NewDescribeClientQuotasResponseEntryEntity()
		re.Type = t
		if *name != "" {
			re.Name = kmsg.StringPtr(*name)
		}
		e.Entity = append(e.Entity, re)
	}
	add(quotaUser, q.Entity.User)
	add(quotaClientID, q.Entity.ClientID)
	add(quotaIP, q.Entity.IP)
	for _, k := range slices.Sorted(maps.Keys(q.Values)) {
		v := kmsg.NewDescribeClientQuotasResponseEntryValue()
		v.Key, v.Value = k, q.Values[k]
		e.Values = append(e.Values, v)
	}
	return e
}
