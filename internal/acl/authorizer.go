package acl

import (
	"cmp"
	"slices"
	"strings"
	"sync/atomic"
)

// Config is the authorizer's configuration (Kafka's property names).
type Config struct {
	// SuperUsers are super.users: principals allowed everything. Put the
	// brokers' own principal here (their certificate subject or SASL
	// user), so that replication (CLUSTER_ACTION) works.
	SuperUsers []string
	// AllowEveryoneIfNoACLFound is allow.everyone.if.no.acl.found: allow
	// an operation on a resource no binding names at all.
	AllowEveryoneIfNoACLFound bool
}

// Authorizer answers "may principal from host do op on this resource".
//
// Concurrency: every method is safe for concurrent use. SetBindings
// replaces the index atomically; checks never block.
type Authorizer struct {
	super      map[string]bool
	allowNoACL bool
	idx        atomic.Pointer[index]
}

// index is an immutable view of one set of bindings.
type index struct {
	all    []Binding // sorted, without duplicates
	byType [ResourceUser + 1]*typeIndex
}

// typeIndex holds the bindings of one resource type.
type typeIndex struct {
	all      []Binding
	literal  map[string][]Binding // by name, "*" included
	prefixed map[string][]Binding // by prefix
	lens     []int                // the distinct prefix lengths, ascending
}

// New returns an authorizer with no bindings.
func New(c Config) *Authorizer {
	a := &Authorizer{super: map[string]bool{}, allowNoACL: c.AllowEveryoneIfNoACLFound}
	for _, p := range c.SuperUsers {
		a.super[p] = true
	}
	a.idx.Store(&index{})
	return a
}

// SetBindings replaces every binding (the caller passes the whole set from
// the replicated metadata). Invalid bindings are kept out of the index.
func (a *Authorizer) SetBindings(bs []Binding) {
	a.idx.Store(buildIndex(bs))
}

// Bindings returns the bindings f selects, in a stable order.
func (a *Authorizer) Bindings(f Filter) []Binding {
	var out []Binding
	for _, b := range a.idx.Load().all {
		if f.Matches(b) {
			out = append(out, b)
		}
	}
	return out
}

func buildIndex(bs []Binding) *index {
	all := make([]Binding, 0, len(bs))
	for _, b := range bs {
		if b.Validate() == nil {
			all = append(all, b)
		}
	}
	slices.SortFunc(all, Compare)
	all = slices.Compact(all)
	idx := &index{all: all}
	for _, b := range all {
		ti := idx.byType[b.ResourceType]
		if ti == nil {
			ti = &typeIndex{literal: map[string][]Binding{}, prefixed: map[string][]Binding{}}
			idx.byType[b.ResourceType] = ti
		}
		ti.all = append(ti.all, b)
		if b.PatternType == PatternLiteral {
			ti.literal[b.ResourceName] = append(ti.literal[b.ResourceName], b)
			continue
		}
		if len(ti.prefixed[b.ResourceName]) == 0 {
			ti.lens = append(ti.lens, len(b.ResourceName))
		}
		ti.prefixed[b.ResourceName] = append(ti.prefixed[b.ResourceName], b)
	}
	for _, ti := range idx.byType {
		if ti != nil {
			slices.Sort(ti.lens)
			ti.lens = slices.Compact(ti.lens)
		}
	}
	return idx
}

// Compare orders bindings (resource type, pattern type, name, principal,
// host, operation, permission), the order Bindings returns them in.
func Compare(x, y Binding) int {
	return cmp.Or(
		cmp.Compare(x.ResourceType, y.ResourceType),
		cmp.Compare(x.PatternType, y.PatternType),
		strings.Compare(x.ResourceName, y.ResourceName),
		strings.Compare(x.Principal, y.Principal),
		strings.Compare(x.Host, y.Host),
		cmp.Compare(x.Operation, y.Operation),
		cmp.Compare(x.Permission, y.Permission),
	)
}

// IsSuperUser reports whether principal is in super.users.
func (a *Authorizer) IsSuperUser(principal string) bool { return a.super[principal] }

// Authorize reports whether principal, connected from host (an IP
// address), may do op on the resource of type rt named name. See the
// package doc for the rules.
func (a *Authorizer) Authorize(principal, host string, op Operation, rt ResourceType, name string) bool {
	if a.super[principal] {
		return true
	}
	if rt < 0 || rt > ResourceUser {
		return false
	}
	ti := a.idx.Load().byType[rt]
	if ti == nil {
		return a.allowNoACL
	}
	m := matcher{principal: principal, host: host, op: op}
	m.check(ti.literal[name])
	if name != Wildcard {
		m.check(ti.literal[Wildcard])
	}
	for _, l := range ti.lens {
		if l > len(name) || m.denied {
			break
		}
		m.check(ti.prefixed[name[:l]])
	}
	switch {
	case m.denied:
		return false
	case m.allowed:
		return true
	}
	return !m.found && a.allowNoACL
}

// matcher accumulates the verdict of the bindings on one resource.
type matcher struct {
	principal, host string
	op              Operation
	found           bool // some binding names the resource
	allowed, denied bool
}

func (m *matcher) check(bs []Binding) {
	for _, b := range bs {
		m.found = true
		switch result(b, m.principal, m.host, m.op) {
		case PermDeny:
			m.denied = true
			return
		case PermAllow:
			m.allowed = true
		}
	}
}

// result is Kafka's StandardAuthorizerData.findResult for a binding whose
// resource matches: PermUnknown when the binding does not apply.
func result(b Binding, principal, host string, op Operation) Permission {
	if b.Principal != principal && b.Principal != WildcardPrincipal {
		return PermUnknown
	}
	if b.Host != Wildcard && b.Host != host {
		return PermUnknown
	}
	if !covers(b, op) {
		return PermUnknown
	}
	return b.Permission
}

// covers reports whether b's operation covers op: ALL covers everything,
// and an ALLOW also implies DESCRIBE or DESCRIBE_CONFIGS (never a DENY).
func covers(b Binding, op Operation) bool {
	if b.Operation == OpAll || b.Operation == op {
		return true
	}
	if b.Permission != PermAllow {
		return false
	}
	switch op {
	case OpDescribe:
		switch b.Operation {
		case OpRead, OpWrite, OpDelete, OpAlter:
			return true
		}
	case OpDescribeConfigs:
		return b.Operation == OpAlterConfigs
	}
	return false
}
