package cli

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
)

// deleteResult is one name's outcome of an admin delete call.
type deleteResult struct {
	err error
	msg string
}

// deleteNamed runs `strom <kind> delete NAME...`: one admin call for all the
// names, a line (or JSON list) of what was deleted, and the first failure,
// explained, as the command's error. missing is the cause reported for a
// name the broker did not answer for.
func deleteNamed(e *env, args []string, kind string, missing error, explain func(error, string) error,
	del func(context.Context, *kadm.Client, []string) (map[string]deleteResult, error)) error {
	fs, o := newFlags(e, kind+" delete", kind+" delete NAME...", adminTimeout, "request timeout")
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return usageErr("%s delete needs at least one %s name", kind, kind)
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	resps, err := del(ctx, adm, names)
	if err != nil {
		return o.wrap(err)
	}
	deleted := []string{}
	var firstErr error
	for _, n := range names {
		r, ok := resps[n]
		if !ok || r.err != nil {
			if firstErr == nil {
				cause := missing
				if ok {
					cause = withMessage(r.err, r.msg)
				}
				firstErr = explain(cause, n)
			}
			continue
		}
		deleted = append(deleted, n)
	}
	if o.json {
		if err := writeJSON(e.stdout, map[string][]string{"deleted": deleted}); err != nil {
			return err
		}
		return firstErr
	}
	for _, n := range deleted {
		fmt.Fprintf(e.stdout, "deleted %s %s\n", kind, n)
	}
	return firstErr
}
