package acl

import "strings"

// AuthorizeAny reports whether principal from host may do op on at least
// one resource of type rt: Kafka's authorizeByResourceType, used where
// Kafka asks for "WRITE on any topic" (InitProducerId of an idempotent
// producer without IDEMPOTENT_WRITE on the cluster). An ALLOW binding
// counts unless a DENY for the same principal, host and operation covers
// every name it names (a literal "*", a prefix of its name, or the same
// literal name). Like Kafka's default, implications do not apply here.
func (a *Authorizer) AuthorizeAny(principal, host string, op Operation, rt ResourceType) bool {
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
	var denyLit, denyPre []string
	var allows []Binding
	for _, b := range ti.all {
		if !appliesExactly(b, principal, host, op) {
			continue
		}
		switch {
		case b.Permission == PermAllow:
			allows = append(allows, b)
		case b.PatternType == PatternLiteral:
			if b.ResourceName == Wildcard {
				return false
			}
			denyLit = append(denyLit, b.ResourceName)
		default:
			denyPre = append(denyPre, b.ResourceName)
		}
	}
	for _, b := range allows {
		if !dominated(b, denyLit, denyPre) {
			return true
		}
	}
	return false
}

func appliesExactly(b Binding, principal, host string, op Operation) bool {
	return (b.Principal == principal || b.Principal == WildcardPrincipal) &&
		(b.Host == Wildcard || b.Host == host) &&
		(b.Operation == op || b.Operation == OpAll)
}

// dominated reports whether the denials cover every name allow names.
func dominated(allow Binding, denyLit, denyPre []string) bool {
	for _, p := range denyPre {
		if strings.HasPrefix(allow.ResourceName, p) {
			return true
		}
	}
	if allow.PatternType != PatternLiteral {
		return false
	}
	for _, n := range denyLit {
		if n == allow.ResourceName {
			return true
		}
	}
	return false
}

// OpsFor lists the operations Kafka reports in a resource type's
// authorized-operations bitfield.
func OpsFor(rt ResourceType) []Operation {
	switch rt {
	case ResourceTopic:
		return []Operation{OpRead, OpWrite, OpCreate, OpDescribe, OpDelete, OpAlter, OpDescribeConfigs, OpAlterConfigs}
	case ResourceGroup:
		return []Operation{OpRead, OpDescribe, OpDelete}
	case ResourceCluster:
		return []Operation{OpCreate, OpClusterAction, OpDescribeConfigs, OpAlterConfigs, OpIdempotentWrite, OpAlter, OpDescribe}
	case ResourceTransactionalID:
		return []Operation{OpDescribe, OpWrite}
	}
	return nil
}

// AuthorizedOps is Kafka's authorized-operations bitfield for a resource:
// bit op set for each operation of OpsFor(rt) that Authorize allows.
func (a *Authorizer) AuthorizedOps(principal, host string, rt ResourceType, name string) int32 {
	var bits int32
	for _, op := range OpsFor(rt) {
		if a.Authorize(principal, host, op, rt, name) {
			bits |= 1 << op
		}
	}
	return bits
}
