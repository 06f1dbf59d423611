package cli

import (
	"bufio"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// strom user: SCRAM credentials through the Kafka APIs
// AlterUserScramCredentials / DescribeUserScramCredentials (kadm), so it
// works against Kafka too. Passwords are salted and hashed here, by kadm;
// the broker never receives them.

func runUser(e *env, args []string) error {
	return subcommands(e, "user", args, map[string]func(*env, []string) error{
		"create": userCreate,
		"delete": userDelete,
		"list":   userList,
	})
}

// parseMechanisms reads --mechanism (comma-separated SCRAM mechanisms).
func parseMechanisms(v string) ([]kadm.ScramMechanism, error) {
	var out []kadm.ScramMechanism
	for _, m := range strings.Split(v, ",") {
		switch strings.ToUpper(strings.TrimSpace(m)) {
		case "SCRAM-SHA-256":
			out = append(out, kadm.ScramSha256)
		case "SCRAM-SHA-512":
			out = append(out, kadm.ScramSha512)
		case "":
		default:
			return nil, usageErr("--mechanism %q: want SCRAM-SHA-256 and/or SCRAM-SHA-512", m)
		}
	}
	if len(out) == 0 {
		return nil, usageErr("--mechanism is empty")
	}
	return out, nil
}

func userCreate(e *env, args []string) error {
	fs, o := newFlags(e, "user create", "user create NAME [--mechanism SCRAM-SHA-256,SCRAM-SHA-512] [--iterations 4096] [--password P]  (password from --password, else env STROM_PASSWORD, else stdin)", adminTimeout, "request timeout")
	mechs := fs.String("mechanism", "SCRAM-SHA-256,SCRAM-SHA-512", "SCRAM mechanism(s) to create the credential for")
	iters := fs.Int("iterations", 4096, "SCRAM iterations (4096..16384)")
	password := fs.String("password", "", "the password (visible in ps; prefer env STROM_PASSWORD or stdin)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("user create needs exactly one user name")
	}
	ms, err := parseMechanisms(*mechs)
	if err != nil {
		return err
	}
	if *iters < 4096 || *iters > 16384 {
		return usageErr("--iterations %d: must be 4096..16384", *iters)
	}
	pass, err := userPassword(e, *password)
	if err != nil {
		return err
	}
	if pass == "" {
		return usageErr("the password is empty")
	}
	var ups []kadm.UpsertSCRAM
	for _, m := range ms {
		ups = append(ups, kadm.UpsertSCRAM{User: pos[0], Mechanism: m, Iterations: int32(*iters), Password: pass})
	}
	return alterUsers(e, o, nil, ups, "created")
}

// userPassword is the new user's password: --password, else the
// environment variable STROM_PASSWORD, else the first line of stdin. The
// variable serves containers (docker-compose.secure.yml's users service):
// a flag shows in ps and a FROM-scratch image has no shell to pipe stdin.
func userPassword(e *env, flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if v := e.getenv("STROM_PASSWORD"); v != "" {
		return v, nil
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", usageErr("no password: set STROM_PASSWORD, write it to stdin or pass --password")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func userDelete(e *env, args []string) error {
	fs, o := newFlags(e, "user delete", "user delete NAME... [--mechanism M]  (every mechanism the user has if not given)", adminTimeout, "request timeout")
	mechs := fs.String("mechanism", "", "only delete the credential of these SCRAM mechanism(s)")
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return usageErr("user delete needs at least one user name")
	}
	var only []kadm.ScramMechanism
	if *mechs != "" {
		if only, err = parseMechanisms(*mechs); err != nil {
			return err
		}
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	var dels []kadm.DeleteSCRAM
	for _, n := range names {
		ms := only
		if ms == nil {
			d, err := adm.DescribeUserSCRAMs(ctx, n)
			if err != nil {
				return o.wrap(err)
			}
			if err := d[n].Err; err != nil {
				return fmt.Errorf("user %s: %w", n, err)
			}
			for _, ci := range d[n].CredInfos {
				ms = append(ms, ci.Mechanism)
			}
		}
		for _, m := range ms {
			dels = append(dels, kadm.DeleteSCRAM{User: n, Mechanism: m})
		}
	}
	return alterUsers(e, o, dels, nil, "deleted")
}

// alterUsers sends one AlterUserScramCredentials and reports per user.
func alterUsers(e *env, o *common, dels []kadm.DeleteSCRAM, ups []kadm.UpsertSCRAM, verb string) error {
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	res, err := adm.AlterUserSCRAMs(ctx, dels, ups)
	if err != nil {
		return o.wrap(err)
	}
	done := []string{}
	var firstErr error
	for _, r := range res.Sorted() {
		if r.Err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("user %s: %w", r.User, withMessage(r.Err, r.ErrMessage))
			}
			continue
		}
		done = append(done, r.User)
	}
	if o.json {
		if err := writeJSON(e.stdout, map[string][]string{verb: done}); err != nil {
			return err
		}
		return firstErr
	}
	for _, u := range done {
		fmt.Fprintf(e.stdout, "%s user %s\n", verb, u)
	}
	return firstErr
}

type userListed struct {
	User       string `json:"user"`
	Mechanism  string `json:"mechanism"`
	Iterations int32  `json:"iterations"`
}

func userList(e *env, args []string) error {
	fs, o := newFlags(e, "user list", "user list [NAME...]  (every SCRAM user if none named)", adminTimeout, "request timeout")
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	d, err := adm.DescribeUserSCRAMs(ctx, names...)
	if err != nil {
		return o.wrap(err)
	}
	out := []userListed{}
	var firstErr error
	for _, u := range d.Sorted() {
		if u.Err != nil {
			if firstErr == nil && !(len(names) == 0 && errors.Is(u.Err, kerr.ResourceNotFound)) {
				firstErr = fmt.Errorf("user %s: %w", u.User, withMessage(u.Err, u.ErrMessage))
			}
			continue
		}
		for _, ci := range u.CredInfos {
			out = append(out, userListed{User: u.User, Mechanism: ci.Mechanism.String(), Iterations: ci.Iterations})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].User < out[j].User })
	if o.json {
		if err := writeJSON(e.stdout, out); err != nil {
			return err
		}
		return firstErr
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tMECHANISM\tITERATIONS")
	for _, u := range out {
		fmt.Fprintf(tw, "%s\t%s\t%d\n", u.User, u.Mechanism, u.Iterations)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return firstErr
}
