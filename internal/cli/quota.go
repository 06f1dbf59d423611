package cli

import (
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

// runQuota is `strom quota set|list|delete` (like kafka-configs.sh
// --entity-type users/clients/ips for quotas).
func runQuota(e *env, args []string) error {
	return subcommands(e, "quota", args, map[string]func(*env, []string) error{
		"set":    func(e *env, a []string) error { return quotaAlter(e, "set", a) },
		"delete": func(e *env, a []string) error { return quotaAlter(e, "delete", a) },
		"list":   quotaList,
	})
}

// quotaEntityFlags are the flags naming a quota entity.
type quotaEntityFlags struct {
	user, client, ip                      *string
	defaultUser, defaultClient, defaultIP *bool
}

// newQuotaEntityFlags defines the entity flags; what prefixes their help.
func newQuotaEntityFlags(fs *flag.FlagSet, what string) quotaEntityFlags {
	return quotaEntityFlags{
		user: fs.String("user", "", what+"the user (principal name)"), client: fs.String("client-id", "", what+"the client id"),
		ip:          fs.String("ip", "", what+"the client IP address (connection_creation_rate only)"),
		defaultUser: fs.Bool("default-user", false, what+"the default user"), defaultClient: fs.Bool("default-client-id", false, what+"the default client id"),
		defaultIP: fs.Bool("default-ip", false, what+"the default IP address"),
	}
}

func (q quotaEntityFlags) entity() (kadm.ClientQuotaEntity, error) {
	var ent kadm.ClientQuotaEntity
	for _, f := range []struct {
		typ, flag string
		name      *string
		def       *bool
	}{{"user", "user", q.user, q.defaultUser}, {"client-id", "client-id", q.client, q.defaultClient}, {"ip", "ip", q.ip, q.defaultIP}} {
		switch {
		case *f.name != "" && *f.def:
			return nil, usageErr("--%s and --default-%s exclude each other", f.flag, f.flag)
		case *f.name != "":
			ent = append(ent, kadm.ClientQuotaEntityComponent{Type: f.typ, Name: f.name})
		case *f.def:
			ent = append(ent, kadm.ClientQuotaEntityComponent{Type: f.typ})
		}
	}
	if isIPEntity(ent) && len(ent) > 1 {
		return nil, usageErr("an IP quota (--ip, --default-ip) names no user or client id")
	}
	return ent, nil
}

// isIPEntity reports whether ent names an IP (connection_creation_rate).
func isIPEntity(ent kadm.ClientQuotaEntity) bool {
	return slices.ContainsFunc(ent, func(c kadm.ClientQuotaEntityComponent) bool { return c.Type == "ip" })
}

// The quota keys and their flags: the client quotas of users and client
// ids, and the connection rate of IP addresses (KIP-612).
var (
	clientQuotaKeys = []string{"producer_byte_rate", "consumer_byte_rate", "request_percentage"}
	ipQuotaKeys     = []string{"connection_creation_rate"}
)

// quotaAlter sets (the rates given) or deletes (the rates given, or all
// of the entity's) the quotas of one entity.
func quotaAlter(e *env, verb string, args []string) error {
	fs, o := newFlags(e, "quota "+verb, "quota "+verb+" ((--user U | --default-user) and/or (--client-id C | --default-client-id) | --ip A | --default-ip) [--producer-byte-rate N] [--consumer-byte-rate N] [--request-percentage P] [--connection-creation-rate N]", adminTimeout, "request timeout")
	q := newQuotaEntityFlags(fs, "")
	vals := map[string]*float64{
		"producer_byte_rate":       fs.Float64("producer-byte-rate", -1, "producer_byte_rate, bytes per second"),
		"consumer_byte_rate":       fs.Float64("consumer-byte-rate", -1, "consumer_byte_rate, bytes per second"),
		"request_percentage":       fs.Float64("request-percentage", -1, "request_percentage, percent of one request handling thread"),
		"connection_creation_rate": fs.Float64("connection-creation-rate", -1, "connection_creation_rate of an IP, new connections per second"),
	}
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageErr("quota %s takes no arguments", verb)
	}
	ent, err := q.entity()
	if err != nil {
		return err
	}
	if len(ent) == 0 {
		return usageErr("quota %s needs a user and/or a client id, or an IP", verb)
	}
	ops, err := quotaOps(verb, ent, vals)
	if err != nil {
		return err
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: ent, Ops: ops}})
	if err != nil {
		return o.wrap(err)
	}
	for _, r := range res {
		if r.Err != nil {
			return withMessage(r.Err, r.ErrMessage)
		}
	}
	fmt.Fprintf(e.stdout, "%s: %s\n", ent, map[string]string{"set": "quotas set", "delete": "quotas deleted"}[verb])
	return nil
}

// quotaOps turns the rate flags into operations: set those given, or
// delete those given (every key of the entity's kind when none is).
func quotaOps(verb string, ent kadm.ClientQuotaEntity, vals map[string]*float64) ([]kadm.AlterClientQuotaOp, error) {
	keys, other := clientQuotaKeys, ipQuotaKeys
	if isIPEntity(ent) {
		keys, other = other, keys
	}
	for _, k := range other {
		if *vals[k] != -1 {
			return nil, usageErr("%s does not apply to %s", strings.ReplaceAll(k, "_", "-"), ent)
		}
	}
	var ops []kadm.AlterClientQuotaOp
	for _, k := range keys {
		switch v := *vals[k]; {
		case verb == "set" && v >= 0:
			ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Value: v})
		case verb == "delete" && v != -1:
			ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Remove: true})
		}
	}
	if verb == "delete" && len(ops) == 0 {
		for _, k := range keys {
			ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Remove: true})
		}
	}
	if len(ops) == 0 {
		return nil, usageErr("quota set needs a rate: --%s", strings.ReplaceAll(strings.Join(keys, ", --"), "_", "-"))
	}
	return ops, nil
}

// quotaLine is one entity's quotas in `quota list --json`.
type quotaLine struct {
	Entity map[string]*string `json:"entity"` // type → name; null is the default
	Values map[string]float64 `json:"values"`
}

// quotaList lists the quotas whose entity has the names given (every
// quota without flags).
func quotaList(e *env, args []string) error {
	fs, o := newFlags(e, "quota list", "quota list [--user U | --default-user] [--client-id C | --default-client-id] | [--ip A | --default-ip]", adminTimeout, "request timeout")
	q := newQuotaEntityFlags(fs, "only quotas of ")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageErr("quota list takes no arguments")
	}
	ent, err := q.entity()
	if err != nil {
		return err
	}
	var comps []kadm.DescribeClientQuotaComponent
	for _, c := range ent {
		dc := kadm.DescribeClientQuotaComponent{Type: c.Type, MatchName: c.Name}
		if c.Name == nil {
			dc.MatchType = 1
		}
		comps = append(comps, dc)
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	res, err := adm.DescribeClientQuotas(ctx, false, comps)
	if err != nil {
		return o.wrap(err)
	}
	out := []quotaLine{}
	for _, d := range res {
		l := quotaLine{Entity: map[string]*string{}, Values: map[string]float64{}}
		for _, c := range d.Entity {
			l.Entity[c.Type] = c.Name
		}
		for _, v := range d.Values {
			l.Values[v.Key] = v.Value
		}
		out = append(out, l)
		if !o.json {
			var vs []string
			for _, v := range d.Values {
				vs = append(vs, fmt.Sprintf("%s=%g", v.Key, v.Value))
			}
			fmt.Fprintf(e.stdout, "%s %s\n", d.Entity, strings.Join(vs, " "))
		}
	}
	if o.json {
		return writeJSON(e.stdout, out)
	}
	return nil
}
