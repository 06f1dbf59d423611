package raftmeta

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
)

// ACL is one access control binding as the metadata stores it: Kafka's
// AclBinding with Kafka's numeric codes (resource type 2..7, pattern type
// 3 literal or 4 prefixed, operation 2..14, permission 2 deny or 3 allow).
// This package only stores ACLs; their meaning (matching, filters) is the
// authorizer's (internal/acl). Encoded with its Go field names in commands
// and snapshots: add fields, never rename.
type ACL struct {
	ResourceType int8
	ResourceName string
	PatternType  int8
	Principal    string
	Host         string
	Operation    int8
	Permission   int8
}

// maxACLsPerCommand bounds one CreateACLs or DeleteACLs entry.
const maxACLsPerCommand = 10000

// maxACLField bounds a name, principal or host (Kafka strings are at most
// 32767 bytes).
const maxACLField = 32767

// compareACL is the order State.ACLs is kept in.
func compareACL(x, y ACL) int {
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

// validateACL checks the codes are concrete (no ANY/MATCH/UNKNOWN) and the
// strings non-empty and bounded; the server checks Kafka's finer rules
// before proposing.
func validateACL(a ACL) error {
	switch {
	case a.ResourceType < 2 || a.ResourceType > 7,
		a.PatternType != 3 && a.PatternType != 4,
		a.Operation < 2 || a.Operation > 14,
		a.Permission != 2 && a.Permission != 3:
		return fmt.Errorf("%w: codes %d/%d/%d/%d", ErrInvalidACL, a.ResourceType, a.PatternType, a.Operation, a.Permission)
	case a.ResourceName == "" || a.Principal == "" || a.Host == "":
		return fmt.Errorf("%w: empty resource name, principal or host", ErrInvalidACL)
	case len(a.ResourceName) > maxACLField || len(a.Principal) > maxACLField || len(a.Host) > maxACLField:
		return fmt.Errorf("%w: field longer than %d bytes", ErrInvalidACL, maxACLField)
	}
	return nil
}

func validateACLs(acls []ACL) error {
	if len(acls) == 0 || len(acls) > maxACLsPerCommand {
		return fmt.Errorf("%w: %d ACLs in one command (1..%d)", ErrInvalidACL, len(acls), maxACLsPerCommand)
	}
	for _, a := range acls {
		if err := validateACL(a); err != nil {
			return err
		}
	}
	return nil
}

// createACLsCmd adds ACLs; ones already present are left alone.
type createACLsCmd struct {
	ACLs []ACL `json:"acls"`
}

// deleteACLsCmd removes exactly these ACLs (the proposer resolved its
// filters against its state); absent ones are ignored, so every FSM
// removes the same ones.
type deleteACLsCmd struct {
	ACLs []ACL `json:"acls"`
}

func (c *createACLsCmd) validate() error { return validateACLs(c.ACLs) }
func (c *deleteACLsCmd) validate() error { return validateACLs(c.ACLs) }

func (c *createACLsCmd) apply(s *State) (*State, applyResult) {
	acls := slices.Clone(s.ACLs)
	changed := false
	for _, a := range c.ACLs {
		i, found := slices.BinarySearchFunc(acls, a, compareACL)
		if !found {
			acls = slices.Insert(acls, i, a)
			changed = true
		}
	}
	if !changed {
		return nil, applyResult{}
	}
	next := s.clone()
	next.ACLs = acls
	return next, applyResult{}
}

func (c *deleteACLsCmd) apply(s *State) (*State, applyResult) {
	var deleted []ACL
	acls := slices.Clone(s.ACLs)
	for _, a := range c.ACLs {
		if i, found := slices.BinarySearchFunc(acls, a, compareACL); found {
			acls = slices.Delete(acls, i, i+1)
			deleted = append(deleted, a)
		}
	}
	if len(deleted) == 0 {
		return nil, applyResult{}
	}
	next := s.clone()
	next.ACLs = acls
	return next, applyResult{acls: deleted}
}

// Arguments of the forwardable ACL writes (see write.go).
type aclsArgs struct{ ACLs []ACL }

// CreateACLs adds ACLs to the metadata (ones already there are kept once).
// It runs on the controller, forwarded there from any node; when it
// returns, this node's State().ACLs holds them.
func (n *Node) CreateACLs(ctx context.Context, acls []ACL) error {
	_, err := fwdCreateACLs.call(ctx, n, aclsArgs{ACLs: acls})
	return err
}

func (n *Node) createACLsLocal(ctx context.Context, a aclsArgs) (struct{}, error) {
	if err := n.checkWritable(); err != nil {
		return struct{}{}, err
	}
	_, err := n.propose(ctx, cmdCreateACLs, &createACLsCmd{ACLs: a.ACLs})
	return struct{}{}, err
}

// DeleteACLs removes exactly the given ACLs (resolve filters first, against
// State().ACLs) and returns those that were present and are now gone. It
// runs on the controller, forwarded there from any node.
func (n *Node) DeleteACLs(ctx context.Context, acls []ACL) ([]ACL, error) {
	return fwdDeleteACLs.call(ctx, n, aclsArgs{ACLs: acls})
}

func (n *Node) deleteACLsLocal(ctx context.Context, a aclsArgs) ([]ACL, error) {
	if err := n.checkWritable(); err != nil {
		return nil, err
	}
	res, err := n.propose(ctx, cmdDeleteACLs, &deleteACLsCmd{ACLs: a.ACLs})
	return res.acls, err
}

// restoreACLs puts a snapshot's ACLs into s, checking each and that they
// are sorted without duplicates (as every state keeps them).
func restoreACLs(s *State, acls []ACL) error {
	for i, a := range acls {
		if err := validateACL(a); err != nil {
			return fmt.Errorf("%w: snapshot: %w", ErrCorruptCommand, err)
		}
		if i > 0 && compareACL(acls[i-1], a) >= 0 {
			return fmt.Errorf("%w: snapshot ACLs out of order or duplicated", ErrCorruptCommand)
		}
	}
	s.ACLs = acls
	return nil
}
