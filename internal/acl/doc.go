// Package acl is Strom's authorizer: Kafka's StandardAuthorizer semantics
// over a set of ACL bindings.
//
// A binding allows or denies one principal ("User:alice", or "User:*" for
// every principal) from one host (an IP address, or "*") one operation on
// the resources a pattern names: a LITERAL name (the name "*" matches every
// resource of the type) or a PREFIXED one. Checks follow Kafka:
//
//   - super users (super.users) may do everything;
//   - a matching DENY wins over any ALLOW;
//   - an ALLOW for READ, WRITE, DELETE or ALTER implies DESCRIBE, one for
//     ALTER_CONFIGS implies DESCRIBE_CONFIGS, and ALL covers every
//     operation (implications hold for ALLOW only: a DENY of READ does not
//     deny DESCRIBE);
//   - when no binding names the resource at all (whoever its principal),
//     the answer is allow.everyone.if.no.acl.found (default false: deny).
//
// The numeric codes of resource types, pattern types, operations and
// permissions are Kafka's wire codes, so a handler converts a kmsg value
// by a plain conversion.
//
// The package imports nothing internal: principals are "Type:Name" strings
// and hosts are IP address strings. The set of bindings is replaced whole
// (SetBindings) whenever the replicated metadata changes; checks read an
// immutable index through an atomic pointer and never lock, and never scan
// every binding: bindings are indexed by resource type and name, prefixed
// ones by name as well, and a check looks up the resource's own name, "*"
// and each of the name's prefixes that some prefixed binding has.
package acl
