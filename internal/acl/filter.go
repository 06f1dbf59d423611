package acl

import (
	"fmt"
	"strings"
)

// Filter selects bindings (Kafka's AclBindingFilter), for DescribeAcls and
// DeleteAcls. A nil name, principal or host matches any; ResourceAny,
// OpAny and PermAny match any; PatternAny matches every pattern type by
// exact name, PatternMatch every binding that applies to the named
// resource (the literal name, the literal "*" and every prefix of it).
type Filter struct {
	ResourceType ResourceType
	ResourceName *string
	PatternType  PatternType
	Principal    *string
	Host         *string
	Operation    Operation
	Permission   Permission
}

// Validate refuses (wrapping ErrInvalid) a filter with an unknown or
// out-of-range code, as Kafka does.
func (f Filter) Validate() error {
	switch {
	case f.ResourceType <= ResourceUnknown || f.ResourceType > ResourceUser:
		return fmt.Errorf("%w: filter resource type %d", ErrInvalid, f.ResourceType)
	case f.PatternType <= PatternUnknown || f.PatternType > PatternPrefixed:
		return fmt.Errorf("%w: filter pattern type %d", ErrInvalid, f.PatternType)
	case f.Operation <= OpUnknown || f.Operation > OpDescribeTokens:
		return fmt.Errorf("%w: filter operation %d", ErrInvalid, f.Operation)
	case f.Permission <= PermUnknown || f.Permission > PermAllow:
		return fmt.Errorf("%w: filter permission type %d", ErrInvalid, f.Permission)
	}
	return nil
}

// Matches reports whether the filter selects b.
func (f Filter) Matches(b Binding) bool {
	switch {
	case f.ResourceType != ResourceAny && f.ResourceType != b.ResourceType,
		f.Operation != OpAny && f.Operation != b.Operation,
		f.Permission != PermAny && f.Permission != b.Permission,
		f.Principal != nil && *f.Principal != b.Principal,
		f.Host != nil && *f.Host != b.Host:
		return false
	}
	return f.matchesPattern(b)
}

// matchesPattern is Kafka's ResourcePatternFilter.matches.
func (f Filter) matchesPattern(b Binding) bool {
	if f.PatternType != PatternAny && f.PatternType != PatternMatch && f.PatternType != b.PatternType {
		return false
	}
	if f.ResourceName == nil {
		return true
	}
	name := *f.ResourceName
	if f.PatternType == PatternAny || f.PatternType == b.PatternType {
		return name == b.ResourceName
	}
	switch b.PatternType {
	case PatternLiteral:
		return name == b.ResourceName || b.ResourceName == Wildcard
	case PatternPrefixed:
		return strings.HasPrefix(name, b.ResourceName)
	}
	return false
}
