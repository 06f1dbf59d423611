package server

// Authorization: the one helper every handler calls.
//
// Authorization is on when authorizer.class.name names the standard
// authorizer (Kafka's StandardAuthorizer or AclAuthorizer class names, or
// Strom's short name "strom"); off by default, when every check passes and
// the ACL APIs answer SECURITY_DISABLED, as in Kafka without an
// authorizer. The ACLs live in the replicated metadata (raftmeta.State.ACLs);
// the authorizer's index is rebuilt lazily, on the first check after the
// ACLs changed, so a request that follows a CreateAcls answered by this
// broker already sees the new ACLs.
//
// A check uses the connection's principal (wire.ConnInfo.Principal:
// User:ANONYMOUS on PLAINTEXT, else what TLS or SASL set) and the remote
// IP address as the host.

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

// AuthorizerStandard is the normalised authorizer.class.name that turns
// authorization on.
const AuthorizerStandard = "strom"

// authorizerClassNames are the accepted spellings of authorizer.class.name.
var authorizerClassNames = map[string]bool{
	"org.apache.kafka.metadata.authorizer.StandardAuthorizer": true,
	"kafka.security.authorizer.AclAuthorizer":                 true,
	AuthorizerStandard: true,
}

// ParseAuthorizerClassName normalises authorizer.class.name: "" (off) or
// AuthorizerStandard; any other class is refused, as Strom has no plug-in
// authorizers.
func ParseAuthorizerClassName(v string) (string, error) {
	switch {
	case v == "":
		return "", nil
	case authorizerClassNames[v]:
		return AuthorizerStandard, nil
	}
	return "", fmt.Errorf("authorizer.class.name %q is not supported: use org.apache.kafka.metadata.authorizer.StandardAuthorizer (or kafka.security.authorizer.AclAuthorizer, or %q), or leave it empty for no authorization", v, AuthorizerStandard)
}

func (c *Config) validateAuthorizer() []error {
	var errs []error
	if c.Authorizer != "" && c.Authorizer != AuthorizerStandard {
		if _, err := ParseAuthorizerClassName(c.Authorizer); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range c.SuperUsers {
		if err := acl.ValidatePrincipal(p); err != nil {
			errs = append(errs, fmt.Errorf("super.users: %w", err))
		}
	}
	return errs
}

// authorizer keeps an acl.Authorizer in step with the metadata's ACLs.
type authorizer struct {
	a    *acl.Authorizer
	seen atomic.Pointer[aclsView] // the State.ACLs slice last indexed
	mu   sync.Mutex               // serialises rebuilds
}

// aclsView identifies a State.ACLs slice: states share the slice until an
// ACL command replaces it, so pointer and length identify a version.
type aclsView struct {
	data *raftmeta.ACL
	n    int
}

func newAuthorizer(cfg Config) *authorizer {
	if cfg.Authorizer == "" {
		return nil
	}
	return &authorizer{a: acl.New(acl.Config{
		SuperUsers:                cfg.SuperUsers,
		AllowEveryoneIfNoACLFound: cfg.AllowEveryoneIfNoACLFound,
	})}
}

// current returns the authorizer indexed over st's ACLs.
func (z *authorizer) current(st *raftmeta.State) *acl.Authorizer {
	v := aclsView{data: unsafe.SliceData(st.ACLs), n: len(st.ACLs)}
	if p := z.seen.Load(); p != nil && *p == v {
		return z.a
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if p := z.seen.Load(); p == nil || *p != v {
		z.a.SetBindings(bindingsOf(st.ACLs))
		z.seen.Store(&v)
	}
	return z.a
}

func bindingsOf(acls []raftmeta.ACL) []acl.Binding {
	out := make([]acl.Binding, len(acls))
	for i, a := range acls {
		out[i] = acl.Binding{
			ResourceType: acl.ResourceType(a.ResourceType), ResourceName: a.ResourceName,
			PatternType: acl.PatternType(a.PatternType), Principal: a.Principal, Host: a.Host,
			Operation: acl.Operation(a.Operation), Permission: acl.Permission(a.Permission),
		}
	}
	return out
}

func aclOf(b acl.Binding) raftmeta.ACL {
	return raftmeta.ACL{
		ResourceType: int8(b.ResourceType), ResourceName: b.ResourceName,
		PatternType: int8(b.PatternType), Principal: b.Principal, Host: b.Host,
		Operation: int8(b.Operation), Permission: int8(b.Permission),
	}
}

// invalidACL marks the authorizer's and the metadata's ACL validation
// errors as INVALID_REQUEST, Kafka's answer to them.
func invalidACL(err error) error {
	if errors.Is(err, acl.ErrInvalid) || errors.Is(err, raftmeta.ErrInvalidACL) {
		return fmt.Errorf("%w: %w", errInvalidRequest, err)
	}
	return err
}

// authzOn reports whether an authorizer is configured.
func (s *Server) authzOn() bool { return s.authz != nil }

// aclAPIError is what the ACL APIs answer before looking at their request:
// CLUSTER_AUTHORIZATION_FAILED without op on the cluster (DESCRIBE to list,
// ALTER to create or delete), SECURITY_DISABLED without an authorizer, as
// Kafka does; nil when the request may proceed.
func (s *Server) aclAPIError(req *wire.Request, op acl.Operation) error {
	switch {
	case !s.authorizeCluster(req, op):
		return kerr.ClusterAuthorizationFailed
	case !s.authzOn():
		return fmt.Errorf("%w: no authorizer is configured", kerr.SecurityDisabled)
	}
	return nil
}

// subject returns the request's principal ("User:alice") and host (the
// remote IP address). A request without connection information (only
// in-package callers make one) is User:ANONYMOUS.
func subject(req *wire.Request) (principal, host string) {
	if req == nil || req.Conn == nil {
		return wire.Anonymous.String(), "*"
	}
	principal = req.Conn.Principal().String()
	host = "*"
	if req.Conn.RemoteAddr != nil {
		host = hostOnly(req.Conn.RemoteAddr.String())
		if ip := net.ParseIP(host); ip != nil {
			host = ip.String()
		}
	}
	return principal, host
}

// authorize reports whether the request's principal, from its host, may do
// op on the resource of type rt named name. Every handler calls it (or
// authorizeCluster) for what Kafka checks; it is always true when
// authorization is off. req must be the request being served.
func (s *Server) authorize(req *wire.Request, op acl.Operation, rt acl.ResourceType, name string) bool {
	if s.authz == nil {
		return true
	}
	p, h := subject(req)
	ok := s.authz.current(s.meta.State()).Authorize(p, h, op, rt, name)
	if !ok {
		s.logger.Debug("authorization denied", "principal", p, "host", h, "operation", op, "resource", rt, "name", name, "api", req.Key)
	}
	return ok
}

// authorizeCluster is authorize on the CLUSTER resource ("kafka-cluster").
func (s *Server) authorizeCluster(req *wire.Request, op acl.Operation) bool {
	return s.authorize(req, op, acl.ResourceCluster, acl.ClusterName)
}

// authorizeAny reports whether the principal may do op on some resource of
// type rt (Kafka's authorizeByResourceType).
func (s *Server) authorizeAny(req *wire.Request, op acl.Operation, rt acl.ResourceType) bool {
	if s.authz == nil {
		return true
	}
	p, h := subject(req)
	return s.authz.current(s.meta.State()).AuthorizeAny(p, h, op, rt)
}

// authorizedOps is Kafka's authorized-operations bitfield of a resource for
// the request's principal; with authorization off, every operation the
// resource type has.
func (s *Server) authorizedOps(req *wire.Request, rt acl.ResourceType, name string) int32 {
	if s.authz == nil {
		var bits int32
		for _, op := range acl.OpsFor(rt) {
			bits |= 1 << op
		}
		return bits
	}
	p, h := subject(req)
	return s.authz.current(s.meta.State()).AuthorizedOps(p, h, rt, name)
}
