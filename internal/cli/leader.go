package cli

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
)

// runLeader is `strom leader elect` (like kafka-leader-election.sh).
func runLeader(e *env, args []string) error {
	return subcommands(e, "leader", args, map[string]func(*env, []string) error{
		"elect": leaderElectCmd,
	})
}

// leaderElected is one partition's election outcome.
type leaderElected struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Error     string `json:"error,omitempty"`
}

// leaderElectCmd runs a preferred (default) or unclean election for one
// topic, some of its partitions, or (no --topic) every partition.
func leaderElectCmd(e *env, args []string) error {
	fs, o := newFlags(e, "leader elect", "leader elect [--preferred | --unclean] [--topic T [--partition N ...]]", adminTimeout, "request timeout")
	unclean := fs.Bool("unclean", false, "elect a leader for partitions without one, even out of the ISR (may lose acknowledged records)")
	fs.Bool("preferred", true, "move leadership back to the preferred (first) replica (the default)")
	topic := fs.String("topic", "", "only this topic (default: every partition of every topic)")
	var parts stringList
	fs.Var(&parts, "partition", "with --topic: only this partition (repeatable)")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 || (len(parts) > 0 && *topic == "") {
		return usageErr("leader elect takes no arguments; --partition needs --topic")
	}
	set := kadm.TopicsSet{}
	if *topic != "" {
		set.Add(*topic)
		for _, p := range parts {
			n, err := strconv.ParseInt(p, 10, 32)
			if err != nil || n < 0 {
				return usageErr("--partition %q is not a partition number", p)
			}
			set.Add(*topic, int32(n))
		}
	}
	how := kadm.ElectPreferredReplica
	if *unclean {
		how = kadm.ElectLiveReplica
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	if *topic != "" && len(parts) == 0 { // every partition of the topic
		md, err := adm.Metadata(ctx, *topic)
		if err != nil {
			return o.wrap(err)
		}
		td := md.Topics[*topic]
		if td.Err != nil {
			return explainTopic(td.Err, *topic)
		}
		for p := range td.Partitions {
			set.Add(*topic, p)
		}
	}
	res, err := adm.ElectLeaders(ctx, how, set)
	if err != nil {
		return o.wrap(err)
	}
	var out []leaderElected
	for _, ps := range res {
		for _, r := range ps {
			le := leaderElected{Topic: r.Topic, Partition: r.Partition}
			if r.Err != nil {
				le.Error = withMessage(r.Err, r.ErrMessage).Error()
			}
			out = append(out, le)
		}
	}
	sortElected(out)
	if o.json {
		if out == nil {
			out = []leaderElected{}
		}
		return writeJSON(e.stdout, out)
	}
	for _, le := range out {
		if le.Error != "" {
			fmt.Fprintf(e.stdout, "%s-%d: %s\n", le.Topic, le.Partition, le.Error)
		} else {
			fmt.Fprintf(e.stdout, "%s-%d: elected\n", le.Topic, le.Partition)
		}
	}
	if len(out) == 0 {
		fmt.Fprintln(e.stdout, "no election needed")
	}
	return nil
}

func sortElected(out []leaderElected) {
	slices.SortFunc(out, func(a, b leaderElected) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
}
