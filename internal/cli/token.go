package cli

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// runToken is `strom token create|renew|expire|describe` (like
// kafka-delegation-tokens.sh): delegation tokens through
// Create/Renew/Expire/DescribeDelegationToken. Brokers refuse these on
// PLAINTEXT connections: pass a SASL or SSL client config with
// --command-config. HMACs are shown and taken base64-encoded, as Kafka's
// tool does; a client logs in with the token id as user name and that
// base64 HMAC as password (SCRAM with tokenauth=true).
func runToken(e *env, args []string) error {
	return subcommands(e, "token", args, map[string]func(*env, []string) error{
		"create":   tokenCreate,
		"renew":    func(e *env, a []string) error { return tokenExpiry(e, "renew", a) },
		"expire":   func(e *env, a []string) error { return tokenExpiry(e, "expire", a) },
		"describe": tokenDescribe,
	})
}

// parsePrincipal reads "User:name" (a bare name is a User).
func parsePrincipal(v string) kadm.Principal {
	if typ, name, ok := strings.Cut(v, ":"); ok {
		return kadm.Principal{Type: typ, Name: name}
	}
	return kadm.Principal{Type: "User", Name: v}
}

// tokenLine is one token in the output.
type tokenLine struct {
	TokenID   string    `json:"token_id"`
	HMAC      string    `json:"hmac"`
	Owner     string    `json:"owner"`
	Requester string    `json:"requester"`
	Renewers  []string  `json:"renewers"`
	Issue     time.Time `json:"issue_timestamp"`
	Expiry    time.Time `json:"expiry_timestamp"`
	Max       time.Time `json:"max_timestamp"`
}

func toTokenLine(t kadm.DelegationToken) tokenLine {
	l := tokenLine{TokenID: t.TokenID, HMAC: base64.StdEncoding.EncodeToString(t.HMAC),
		Owner: t.Owner.Type + ":" + t.Owner.Name, Requester: t.TokenRequesterPrincipal.Type + ":" + t.TokenRequesterPrincipal.Name,
		Renewers: []string{}, Issue: t.IssueTimestamp, Expiry: t.ExpiryTimestamp, Max: t.MaxTimestamp}
	for _, r := range t.Renewers {
		l.Renewers = append(l.Renewers, r.Type+":"+r.Name)
	}
	return l
}

func printTokens(e *env, o *common, ts []tokenLine) error {
	if o.json {
		return writeJSON(e.stdout, ts)
	}
	for _, t := range ts {
		fmt.Fprintf(e.stdout, "TOKENID: %s\tHMAC: %s\tOWNER: %s\tREQUESTER: %s\tRENEWERS: [%s]\tISSUEDATE: %s\tEXPIRYDATE: %s\tMAXDATE: %s\n",
			t.TokenID, t.HMAC, t.Owner, t.Requester, strings.Join(t.Renewers, ","), t.Issue.Format(time.RFC3339), t.Expiry.Format(time.RFC3339), t.Max.Format(time.RFC3339))
	}
	return nil
}

func tokenCreate(e *env, args []string) error {
	fs, o := newFlags(e, "token create", "token create [--max-life-time-period MS] [--renewer-principal User:x ...] [--owner-principal User:y]", adminTimeout, "request timeout")
	life := fs.Int64("max-life-time-period", -1, "maximum lifetime in ms (-1: the broker's delegation.token.max.lifetime.ms)")
	owner := fs.String("owner-principal", "", "create the token for this principal (needs CREATE_TOKENS on it)")
	var renewers stringList
	fs.Var(&renewers, "renewer-principal", "a principal allowed to renew the token, repeatable")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageErr("token create takes no arguments")
	}
	req := kadm.CreateDelegationToken{MaxLifetime: time.Duration(*life) * time.Millisecond}
	if *owner != "" {
		p := parsePrincipal(*owner)
		req.Owner = &p
	}
	for _, r := range renewers {
		req.Renewers = append(req.Renewers, parsePrincipal(r))
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	t, err := adm.CreateDelegationToken(ctx, req)
	if err != nil {
		return o.wrap(err)
	}
	return printTokens(e, o, []tokenLine{toTokenLine(t)})
}

// tokenExpiry renews or expires the token given by --hmac.
func tokenExpiry(e *env, verb string, args []string) error {
	flag := map[string]string{"renew": "renew-time-period", "expire": "expiry-time-period"}[verb]
	fs, o := newFlags(e, "token "+verb, "token "+verb+" --hmac BASE64 [--"+flag+" MS]", adminTimeout, "request timeout")
	mac := fs.String("hmac", "", "the token's HMAC, base64")
	period := fs.Int64(flag, -1, map[string]string{"renew": "new lifetime from now in ms (-1: the broker's delegation.token.expiry.time.ms)", "expire": "ms until the token expires (-1: now)"}[verb])
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 || *mac == "" {
		return usageErr("token %s needs --hmac and no arguments", verb)
	}
	raw, err := base64.StdEncoding.DecodeString(*mac)
	if err != nil {
		return usageErr("--hmac: %v", err)
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	d := time.Duration(*period) * time.Millisecond
	var at time.Time
	if verb == "renew" {
		at, err = adm.RenewDelegationToken(ctx, raw, d)
	} else {
		at, err = adm.ExpireDelegationToken(ctx, raw, d)
	}
	if err != nil {
		return o.wrap(err)
	}
	fmt.Fprintf(e.stdout, "token %s; expiry timestamp %s\n", map[string]string{"renew": "renewed", "expire": "expiry set"}[verb], at.Format(time.RFC3339))
	return nil
}

func tokenDescribe(e *env, args []string) error {
	fs, o := newFlags(e, "token describe", "token describe [--owner-principal User:x ...]", adminTimeout, "request timeout")
	var owners stringList
	fs.Var(&owners, "owner-principal", "only tokens of this owner, repeatable (default: every token you may see)")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageErr("token describe takes no arguments")
	}
	var ps []kadm.Principal
	for _, ow := range owners {
		ps = append(ps, parsePrincipal(ow))
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	ts, err := adm.DescribeDelegationTokens(ctx, ps...)
	if err != nil {
		return o.wrap(err)
	}
	out := []tokenLine{}
	for _, t := range ts {
		out = append(out, toTokenLine(t))
	}
	return printTokens(e, o, out)
}
