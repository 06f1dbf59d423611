package acl

import (
	"errors"
	"fmt"
	"strings"
)

// ResourceType is what a binding protects (Kafka's ResourceType codes).
type ResourceType int8

// Resource types. Any and Unknown appear in filters only.
const (
	ResourceUnknown         ResourceType = 0
	ResourceAny             ResourceType = 1
	ResourceTopic           ResourceType = 2
	ResourceGroup           ResourceType = 3
	ResourceCluster         ResourceType = 4
	ResourceTransactionalID ResourceType = 5
	ResourceDelegationToken ResourceType = 6
	ResourceUser            ResourceType = 7
)

// PatternType says how a binding's resource name matches (Kafka's codes).
type PatternType int8

// Pattern types. Any and Match appear in filters only: Any matches every
// pattern type by exact name, Match every binding that would apply to the
// named resource.
const (
	PatternUnknown  PatternType = 0
	PatternAny      PatternType = 1
	PatternMatch    PatternType = 2
	PatternLiteral  PatternType = 3
	PatternPrefixed PatternType = 4
)

// Operation is an action on a resource (Kafka's AclOperation codes).
type Operation int8

// Operations. Any and Unknown appear in filters only.
const (
	OpUnknown         Operation = 0
	OpAny             Operation = 1
	OpAll             Operation = 2
	OpRead            Operation = 3
	OpWrite           Operation = 4
	OpCreate          Operation = 5
	OpDelete          Operation = 6
	OpAlter           Operation = 7
	OpDescribe        Operation = 8
	OpClusterAction   Operation = 9
	OpDescribeConfigs Operation = 10
	OpAlterConfigs    Operation = 11
	OpIdempotentWrite Operation = 12
	OpCreateTokens    Operation = 13
	OpDescribeTokens  Operation = 14
)

// Permission is ALLOW or DENY (Kafka's AclPermissionType codes).
type Permission int8

// Permissions. Any and Unknown appear in filters only.
const (
	PermUnknown Permission = 0
	PermAny     Permission = 1
	PermDeny    Permission = 2
	PermAllow   Permission = 3
)

const (
	// ClusterName is the only name of the CLUSTER resource.
	ClusterName = "kafka-cluster"
	// Wildcard as a LITERAL resource name matches every resource of its
	// type; as a host, every host; "User:*" is every principal.
	Wildcard = "*"
	// WildcardPrincipal matches every principal.
	WildcardPrincipal = "User:*"
)

// ErrInvalid marks a binding or filter Kafka refuses with INVALID_REQUEST.
var ErrInvalid = errors.New("acl: invalid binding")

// Binding is one ACL: Kafka's AclBinding (resource pattern plus access
// control entry). It is a comparable value.
type Binding struct {
	ResourceType ResourceType
	ResourceName string
	PatternType  PatternType
	Principal    string // "User:alice" or "User:*"
	Host         string // an IP address or "*"
	Operation    Operation
	Permission   Permission
}

// Validate reports (wrapping ErrInvalid) what Kafka refuses in
// CreateAcls: a type, pattern, operation or permission that is not
// concrete, an empty resource name, a CLUSTER name other than
// "kafka-cluster", or a principal not of the form "Type:Name".
func (b Binding) Validate() error {
	switch {
	case b.ResourceType < ResourceTopic || b.ResourceType > ResourceUser:
		return fmt.Errorf("%w: resource type %d", ErrInvalid, b.ResourceType)
	case b.PatternType != PatternLiteral && b.PatternType != PatternPrefixed:
		return fmt.Errorf("%w: pattern type %d", ErrInvalid, b.PatternType)
	case b.Operation < OpAll || b.Operation > OpDescribeTokens:
		return fmt.Errorf("%w: operation %d", ErrInvalid, b.Operation)
	case b.Permission != PermAllow && b.Permission != PermDeny:
		return fmt.Errorf("%w: permission type %d", ErrInvalid, b.Permission)
	case b.ResourceName == "":
		return fmt.Errorf("%w: empty resource name", ErrInvalid)
	case b.ResourceType == ResourceCluster && b.ResourceName != ClusterName:
		return fmt.Errorf("%w: the only valid name for the CLUSTER resource is %s", ErrInvalid, ClusterName)
	case b.Host == "":
		return fmt.Errorf("%w: empty host (use * for every host)", ErrInvalid)
	}
	return ValidatePrincipal(b.Principal)
}

// ValidatePrincipal checks Kafka's "Type:Name" principal form.
func ValidatePrincipal(p string) error {
	typ, name, ok := strings.Cut(p, ":")
	if !ok || typ == "" || name == "" {
		return fmt.Errorf("%w: principal %q is not of the form Type:Name (e.g. User:alice)", ErrInvalid, p)
	}
	return nil
}

// String renders a binding the way kafka-acls.sh prints it.
func (b Binding) String() string {
	return fmt.Sprintf("(pattern=%s:%s:%s, principal=%s, host=%s, operation=%s, permission=%s)",
		b.ResourceType, b.PatternType, b.ResourceName, b.Principal, b.Host, b.Operation, b.Permission)
}

var resourceNames = []string{"UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID", "DELEGATION_TOKEN", "USER"}
var patternNames = []string{"UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED"}
var opNames = []string{"UNKNOWN", "ANY", "ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE",
	"CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE", "CREATE_TOKENS", "DESCRIBE_TOKENS"}
var permNames = []string{"UNKNOWN", "ANY", "DENY", "ALLOW"}

func name(names []string, v int8) string {
	if v >= 0 && int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprintf("UNKNOWN(%d)", v)
}

func parse(names []string, s string) (int8, bool) {
	for i, n := range names {
		if strings.EqualFold(n, s) || strings.EqualFold(strings.ReplaceAll(n, "_", ""), s) {
			return int8(i), true
		}
	}
	return 0, false
}

func (t ResourceType) String() string { return name(resourceNames, int8(t)) }
func (t PatternType) String() string  { return name(patternNames, int8(t)) }
func (o Operation) String() string    { return name(opNames, int8(o)) }
func (p Permission) String() string   { return name(permNames, int8(p)) }

// ParseOperation parses an operation name, case-insensitively, with or
// without underscores ("describe-configs" too, as kafka-acls.sh spells it).
func ParseOperation(s string) (Operation, bool) {
	v, ok := parse(opNames, strings.ReplaceAll(s, "-", "_"))
	return Operation(v), ok
}

// ParsePatternType parses a pattern type name (literal, prefixed, match, any).
func ParsePatternType(s string) (PatternType, bool) {
	v, ok := parse(patternNames, s)
	return PatternType(v), ok
}

// ParseResourceType parses a resource type name (topic, group, cluster,
// transactional_id, ...).
func ParseResourceType(s string) (ResourceType, bool) {
	v, ok := parse(resourceNames, strings.ReplaceAll(s, "-", "_"))
	return ResourceType(v), ok
}

// ParsePermission parses allow or deny.
func ParsePermission(s string) (Permission, bool) {
	v, ok := parse(permNames, s)
	return Permission(v), ok
}

// ParseSuperUsers parses super.users: semicolon-separated principals
// ("User:alice;User:CN=broker,O=acme"; commas belong to certificate
// subjects, hence Kafka's semicolons).
func ParseSuperUsers(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ";") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if err := ValidatePrincipal(p); err != nil {
			return nil, fmt.Errorf("super.users: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}
