package cli

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

// runQuota is `strom quota set|list|delete` (like kafka-configs.sh
// --entity-type users/clients for quotas).
func runQuota(e *env, args []string) error {
	return subcommands(e, "quota", args, map[string]func(*env, []string) error{
		"set":    func(e *env, a []string) error { return quotaAlter(e, "set", a) },
		"delete": func(e *env, a []string) error { return quotaAlter(e, "delete", a) },
		"list":   quotaList,
	})
}

// quotaEntityFlags are the flags naming a quota entity.
type quotaEntityFlags struct {
	user, client               *string
	defaultUser, defaultClient *bool
}

func (q quotaEntityFlags) entity() (kadm.ClientQuotaEntity, error) {
	var ent kadm.ClientQuotaEntity
	switch {
	case *q.user != "" && *q.defaultUser:
		return nil, usageErr("--user and --default-user exclude each other")
	case *q.user != "":
		ent = append(ent, kadm.ClientQuotaEntityComponent{Type: "user", Name: q.user})
	case *q.defaultUser:
		ent = append(ent, kadm.ClientQuotaEntityComponent{Type: "user"})
	}
	switch {
	case *q.client != "" && *q.defaultClient:
		return nil, usageErr("--client-id and --default-client-id exclude each other")
	case *q.client != "":
		ent = append(ent, kadm.ClientQuotaEntityComponent{Type: "client-id", Name: q.client})
	case *q.defaultClient:
		ent = append(ent, kadm.ClientQuotaEntityComponent{Type: "client-id"})
	}
	return ent, nil
}

// quotaAlter sets (the rates given) or deletes (the rates given, or all
// three) the quotas of one entity.
func quotaAlter(e *env, verb string, args []string) error {
	fs, o := newFlags(e, "quota "+verb, "quota "+verb+" (--user U | --default-user) and/or (--client-id C | --default-client-id) [--producer-byte-rate N] [--consumer-byte-rate N] [--request-percentage P]", adminTimeout, "request timeout")
	q := quotaEntityFlags{
		user: fs.String("user", "", "the user (principal name)"), client: fs.String("client-id", "", "the client id"),
		defaultUser: fs.Bool("default-user", false, "the default user"), defaultClient: fs.Bool("default-client-id", false, "the default client id"),
	}
	keys := []string{"producer_byte_rate", "consumer_byte_rate", "request_percentage"}
	vals := []*float64{
		fs.Float64("producer-byte-rate", -1, "producer_byte_rate, bytes per second"),
		fs.Float64("consumer-byte-rate", -1, "consumer_byte_rate, bytes per second"),
		fs.Float64("request-percentage", -1, "request_percentage"),
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
		return usageErr("quota %s needs a user and/or a client id", verb)
	}
	var ops []kadm.AlterClientQuotaOp
	for i, v := range vals {
		switch {
		case verb == "set" && *v >= 0:
			ops = append(ops, kadm.AlterClientQuotaOp{Key: keys[i], Value: *v})
		case verb == "delete" && *v != -1:
			ops = append(ops, kadm.AlterClientQuotaOp{Key: keys[i], Remove: true})
		}
	}
	if verb == "delete" && len(ops) == 0 {
		for _, k := range keys {
			ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Remove: true})
		}
	}
	if len(ops) == 0 {
		return usageErr("quota set needs --producer-byte-rate, --consumer-byte-rate or --request-percentage")
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

// quotaLine is one entity's quotas in `quota list --json`.
type quotaLine struct {
	Entity map[string]*string `json:"entity"` // type → name; null is the default
	Values map[string]float64 `json:"values"`
}

// quotaList lists the quotas whose entity has the names given (every
// quota without flags).
func quotaList(e *env, args []string) error {
	fs, o := newFlags(e, "quota list", "quota list [--user U | --default-user] [--client-id C | --default-client-id]", adminTimeout, "request timeout")
	q := quotaEntityFlags{
		user: fs.String("user", "", "only this user's quotas"), client: fs.String("client-id", "", "only this client id's quotas"),
		defaultUser: fs.Bool("default-user", false, "only default-user quotas"), defaultClient: fs.Bool("default-client-id", false, "only default-client-id quotas"),
	}
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
