package cli

// strom acl add|list|remove: Kafka ACLs through CreateAcls, DescribeAcls
// and DeleteAcls (kadm), with flags named after kafka-acls.sh's.

import (
	"flag"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
)

func runACL(e *env, args []string) error {
	return subcommands(e, "acl", args, map[string]func(*env, []string) error{
		"add":    aclAdd,
		"list":   aclList,
		"remove": aclRemove,
	})
}

// aclFlags are the flags the acl subcommands share.
type aclFlags struct {
	allow, deny, allowHosts, denyHosts stringList
	principals                         stringList // list: either side
	ops, topics, groups, txnIDs        stringList
	cluster                            bool
	pattern                            string
}

func newACLFlags(fs *flag.FlagSet, defPattern string) *aclFlags {
	f := &aclFlags{}
	fs.Var(&f.allow, "allow-principal", "principal to allow, e.g. User:alice or User:* (repeatable)")
	fs.Var(&f.deny, "deny-principal", "principal to deny (repeatable)")
	fs.Var(&f.allowHosts, "allow-host", "host (IP address) the allow applies from (repeatable; default every host, *)")
	fs.Var(&f.denyHosts, "deny-host", "host the deny applies from (repeatable; default every host, *)")
	fs.Var(&f.ops, "operation", "Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite or All (repeatable)")
	fs.Var(&f.topics, "topic", "topic (repeatable; with prefixed, a name prefix; * for every topic)")
	fs.Var(&f.groups, "group", "consumer group (repeatable)")
	fs.Var(&f.txnIDs, "transactional-id", "transactional id (repeatable)")
	fs.BoolVar(&f.cluster, "cluster", false, "the cluster resource (kafka-cluster)")
	fs.StringVar(&f.pattern, "resource-pattern-type", defPattern, "literal, prefixed, match (list/remove: every ACL that applies to the named resource) or any")
	return f
}

func (f *aclFlags) hasResource() bool {
	return len(f.topics)+len(f.groups)+len(f.txnIDs) > 0 || f.cluster
}

// build fills b's resources, operations (defOp when none given) and pattern.
func (f *aclFlags) build(b *kadm.ACLBuilder, defOp kadm.ACLOperation) error {
	if !f.hasResource() {
		b.AnyResource()
	} else {
		b.MaybeTopics(f.topics...).MaybeGroups(f.groups...).MaybeTransactionalIDs(f.txnIDs...).MaybeClusters(f.cluster)
	}
	ops := []kadm.ACLOperation{defOp}
	if len(f.ops) > 0 {
		ops = ops[:0]
	}
	for _, s := range f.ops {
		op, ok := acl.ParseOperation(s)
		if !ok || op == acl.OpUnknown {
			return usageErr("unknown --operation %q — use e.g. Read, Write, Describe or All", s)
		}
		ops = append(ops, kadm.ACLOperation(op))
	}
	pt, ok := acl.ParsePatternType(f.pattern)
	if !ok || pt == acl.PatternUnknown {
		return usageErr("unknown --resource-pattern-type %q — use literal, prefixed, match or any", f.pattern)
	}
	b.Operations(ops...).ResourcePatternType(kadm.ACLPattern(pt))
	return nil
}

func checkPrincipals(ps ...[]string) error {
	for _, list := range ps {
		for _, p := range list {
			if err := acl.ValidatePrincipal(p); err != nil {
				return usageErr("principal %q must be Type:Name, e.g. User:alice", p)
			}
		}
	}
	return nil
}

// aclLine is one ACL as printed and as JSON.
type aclLine struct {
	ResourceType string `json:"resource_type"`
	Name         string `json:"name"`
	PatternType  string `json:"pattern_type"`
	Principal    string `json:"principal"`
	Host         string `json:"host"`
	Operation    string `json:"operation"`
	Permission   string `json:"permission"`
}

func newACLLine(rt kmsg.ACLResourceType, name string, pt kadm.ACLPattern, principal, host string, op kadm.ACLOperation, perm kmsg.ACLPermissionType) aclLine {
	return aclLine{
		ResourceType: acl.ResourceType(rt).String(), Name: name, PatternType: acl.PatternType(pt).String(),
		Principal: principal, Host: host, Operation: acl.Operation(op).String(), Permission: acl.Permission(perm).String(),
	}
}

func (l aclLine) String() string {
	return fmt.Sprintf("%s %s %s:%s:%s from host %s", l.Principal, strings.ToLower(l.Permission), l.Operation, l.ResourceType, l.Name+patternSuffix(l.PatternType), l.Host)
}

func patternSuffix(pt string) string {
	if pt == "PREFIXED" {
		return "* (prefixed)"
	}
	return ""
}

// printACLs writes lines as JSON or one per line after a verb ("added").
func printACLs(e *env, o *common, verb string, lines []aclLine) error {
	if o.json {
		if lines == nil {
			lines = []aclLine{}
		}
		return writeJSON(e.stdout, lines)
	}
	for _, l := range lines {
		fmt.Fprintf(e.stdout, "%s%s\n", verb, l)
	}
	return nil
}

func aclAdd(e *env, args []string) error {
	fs, o := newFlags(e, "acl add", "acl add --allow-principal User:alice --operation Read --topic orders [--resource-pattern-type literal|prefixed] ...", adminTimeout, "request timeout")
	f := newACLFlags(fs, "literal")
	if err := parseNoArgs(fs, args, "acl add"); err != nil {
		return err
	}
	if len(f.allow)+len(f.deny) == 0 || !f.hasResource() {
		return usageErr("acl add needs --allow-principal or --deny-principal and a resource (--topic, --group, --cluster or --transactional-id)")
	}
	if err := checkPrincipals(f.allow, f.deny); err != nil {
		return err
	}
	b := kadm.NewACLs().MaybeAllow(f.allow...).MaybeAllowHosts(f.allowHosts...).MaybeDeny(f.deny...).MaybeDenyHosts(f.denyHosts...)
	if err := f.build(b, kadm.OpAll); err != nil {
		return err
	}
	if err := b.ValidateCreate(); err != nil {
		return usageErr("%v", err)
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	res, err := adm.CreateACLs(ctx, b)
	if err != nil {
		return o.wrap(err)
	}
	var lines []aclLine
	var firstErr error
	for _, r := range res {
		if r.Err != nil {
			if firstErr == nil {
				firstErr = withMessage(r.Err, r.ErrMessage)
			}
			continue
		}
		lines = append(lines, newACLLine(r.Type, r.Name, r.Pattern, r.Principal, r.Host, r.Operation, r.Permission))
	}
	if err := printACLs(e, o, "added ", lines); err != nil {
		return err
	}
	return firstErr
}

func aclList(e *env, args []string) error {
	fs, o := newFlags(e, "acl list", "acl list [--topic T|--group G|--cluster|--transactional-id X] [--principal User:alice] [--resource-pattern-type any|match|literal|prefixed]", adminTimeout, "request timeout")
	f := newACLFlags(fs, "any")
	fs.Var(&f.principals, "principal", "only ACLs of this principal (repeatable)")
	if err := parseNoArgs(fs, args, "acl list"); err != nil {
		return err
	}
	b := kadm.NewACLs()
	if len(f.principals) > 0 {
		b.MaybeAllow(f.principals...).AllowHosts().MaybeDeny(f.principals...).DenyHosts()
	} else {
		b.Allow().AllowHosts().Deny().DenyHosts()
	}
	if err := f.build(b, kadm.OpAny); err != nil {
		return err
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	res, err := adm.DescribeACLs(ctx, b)
	if err != nil {
		return o.wrap(err)
	}
	var lines []aclLine
	seen := map[aclLine]bool{}
	for _, r := range res {
		if r.Err != nil {
			return withMessage(r.Err, r.ErrMessage)
		}
		for _, d := range r.Described {
			l := newACLLine(d.Type, d.Name, d.Pattern, d.Principal, d.Host, d.Operation, d.Permission)
			if !seen[l] {
				seen[l] = true
				lines = append(lines, l)
			}
		}
	}
	return printACLs(e, o, "", lines)
}

func aclRemove(e *env, args []string) error {
	fs, o := newFlags(e, "acl remove", "acl remove --topic orders [--allow-principal User:alice] [--operation Read] [--resource-pattern-type literal|prefixed|match|any]", adminTimeout, "request timeout")
	f := newACLFlags(fs, "literal")
	if err := parseNoArgs(fs, args, "acl remove"); err != nil {
		return err
	}
	if !f.hasResource() {
		return usageErr("acl remove needs a resource (--topic, --group, --cluster or --transactional-id); see them with `strom acl list`")
	}
	b := kadm.NewACLs()
	switch {
	case len(f.allow)+len(f.deny) == 0:
		b.Allow().AllowHosts(f.allowHosts...).Deny().DenyHosts(f.denyHosts...)
	default:
		b.MaybeAllow(f.allow...).AllowHosts(f.allowHosts...).MaybeDeny(f.deny...).DenyHosts(f.denyHosts...)
	}
	if err := f.build(b, kadm.OpAny); err != nil {
		return err
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	res, err := adm.DeleteACLs(ctx, b)
	if err != nil {
		return o.wrap(err)
	}
	var lines []aclLine
	for _, r := range res {
		if r.Err != nil {
			return withMessage(r.Err, r.ErrMessage)
		}
		for _, d := range r.Deleted {
			lines = append(lines, newACLLine(d.Type, d.Name, d.Pattern, d.Principal, d.Host, d.Operation, d.Permission))
		}
	}
	return printACLs(e, o, "removed ", lines)
}

// parseNoArgs parses flags and refuses positional arguments.
func parseNoArgs(fs *flag.FlagSet, args []string, name string) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("%s takes flags only, not %q", name, strings.Join(pos, " "))
	}
	return nil
}
