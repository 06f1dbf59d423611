package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Partition reassignment commands: `strom cluster rebalance`, `strom cluster
// drain`, `strom topic reassign` and `strom leader elect`. They speak plain
// Kafka (Metadata, AlterPartitionReassignments, ListPartitionReassignments,
// ElectLeaders), so they work against Kafka too.

// reassignPoll is how often an executing plan checks its progress.
const reassignPoll = 500 * time.Millisecond

// clusterRebalanceCmd plans (and with --execute runs) an even spread.
func clusterRebalanceCmd(e *env, args []string) error {
	fs, o := newFlags(e, "cluster rebalance", "cluster rebalance [--execute] [--wait DURATION] [--topic T ...]", adminTimeout, "request timeout")
	execute := fs.Bool("execute", false, "submit the plan and wait until every partition has moved (default: only print it)")
	wait := fs.Duration("wait", 30*time.Minute, "with --execute: how long to wait for the data to move")
	var topics stringList
	fs.Var(&topics, "topic", "only rebalance this topic (repeatable; default all topics)")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageErr("cluster rebalance takes no arguments")
	}
	return rebalance(e, o, topics, -1, *execute, *wait)
}

// clusterDrainCmd moves every replica off one broker (before removing it).
func clusterDrainCmd(e *env, args []string) error {
	fs, o := newFlags(e, "cluster drain", "cluster drain BROKER_ID [--dry-run] [--wait DURATION]", adminTimeout, "request timeout")
	dry := fs.Bool("dry-run", false, "only print the plan")
	wait := fs.Duration("wait", 30*time.Minute, "how long to wait for the data to move")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("cluster drain needs one broker id — e.g. `strom cluster drain 4`")
	}
	id, err := strconv.ParseInt(pos[0], 10, 32)
	if err != nil || id < 0 {
		return usageErr("broker id %q is not a non-negative integer", pos[0])
	}
	return rebalance(e, o, nil, int32(id), !*dry, *wait)
}

// rebalance plans over the live brokers minus drain (-1: none) and prints
// or executes the plan.
func rebalance(e *env, o *common, topics []string, drain int32, execute bool, wait time.Duration) error {
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	md, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return o.wrap(err)
	}
	racks := map[int32]string{}
	var targets []int32
	for _, b := range md.Brokers {
		if b.Rack != nil {
			racks[b.NodeID] = *b.Rack
		}
		if b.NodeID != drain {
			targets = append(targets, b.NodeID)
		}
	}
	parts, err := plannable(e, md, targets, drain)
	if err != nil {
		return err
	}
	moves := planRebalance(parts, targets, racks)
	if !execute || len(moves) == 0 {
		return printPlan(e.stdout, o.json, moves)
	}
	req := kadm.AlterPartitionAssignmentsReq{}
	for _, m := range moves {
		req.Assign(m.Topic, m.Partition, m.To)
	}
	if err := submitAndWait(e, o, adm, req, wait); err != nil {
		return err
	}
	return printPlan(e.stdout, o.json, moves)
}

// plannable lists the partitions to plan. A partition with a replica on a
// broker that is neither alive nor being drained is left alone (and said
// so on stderr): a reassignment keeping that replica could not complete
// until the broker returns, and a rebalance must not evacuate a broker
// that is only restarting.
func plannable(e *env, md kadm.Metadata, live []int32, drain int32) ([]planPartition, error) {
	var parts []planPartition
	skipped := 0
	for _, td := range md.Topics.Sorted() {
		if td.Err != nil {
			return nil, explainTopic(td.Err, td.Topic)
		}
		for _, pd := range td.Partitions.Sorted() {
			if slices.ContainsFunc(pd.Replicas, func(id int32) bool { return id != drain && !slices.Contains(live, id) }) {
				skipped++
				continue
			}
			parts = append(parts, planPartition{Topic: td.Topic, Partition: pd.Partition, Replicas: slices.Clone(pd.Replicas)})
		}
	}
	if skipped > 0 {
		fmt.Fprintf(e.stderr, "left %d partitions alone: they have a replica on a broker that is not alive\n", skipped)
	}
	return parts, nil
}

// printPlan writes the moves, as JSON or one line each.
func printPlan(w io.Writer, asJSON bool, moves []planMove) error {
	if asJSON {
		return writeJSON(w, nonNilMoves(moves))
	}
	if len(moves) == 0 {
		fmt.Fprintln(w, "balanced: nothing to move")
		return nil
	}
	for _, m := range moves {
		fmt.Fprintf(w, "%s-%d: [%s] -> [%s]\n", m.Topic, m.Partition, joinInt32(m.From), joinInt32(m.To))
	}
	return nil
}

func nonNilMoves(m []planMove) []planMove {
	if m == nil {
		return []planMove{}
	}
	return m
}

// submitAndWait submits req, waits (printing progress to stderr) until no
// reassignment of its partitions is running, then moves leadership to the
// new preferred replicas.
func submitAndWait(e *env, o *common, adm *kadm.Client, req kadm.AlterPartitionAssignmentsReq, wait time.Duration) error {
	ctx, cancel := o.reqCtx(e.ctx)
	resps, err := adm.AlterPartitionAssignments(ctx, req)
	cancel()
	if err != nil {
		return o.wrap(err)
	}
	set := kadm.TopicsSet{}
	for _, r := range resps.Sorted() {
		if r.Err != nil {
			return fmt.Errorf("reassign %s-%d: %w", r.Topic, r.Partition, withMessage(r.Err, r.ErrMessage))
		}
		set.Add(r.Topic, r.Partition)
	}
	wctx, wcancel := context.WithTimeout(e.ctx, wait)
	defer wcancel()
	tick := time.NewTicker(reassignPoll)
	defer tick.Stop()
	last := -1
	for {
		ls, err := adm.ListPartitionReassignments(wctx, set)
		if err != nil {
			return o.wrap(err)
		}
		running := 0
		for _, ps := range ls {
			running += len(ps)
		}
		if running != last {
			fmt.Fprintf(e.stderr, "reassignment: %d of %d partitions still moving\n", running, len(resps.Sorted()))
			last = running
		}
		if running == 0 {
			break
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("%d partitions still moving after %v: %w", running, wait, wctx.Err())
		case <-tick.C:
		}
	}
	return electPreferred(e, o, adm, set)
}

// electPreferred moves leadership to the preferred replicas of set;
// "already leads" is no error.
func electPreferred(e *env, o *common, adm *kadm.Client, set kadm.TopicsSet) error {
	ctx, cancel := o.reqCtx(e.ctx)
	defer cancel()
	res, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, set)
	if err != nil {
		return o.wrap(err)
	}
	for _, ps := range res {
		for _, r := range ps {
			if r.Err != nil && !errors.Is(r.Err, kerr.ElectionNotNeeded) {
				fmt.Fprintf(e.stderr, "preferred leader of %s-%d: %v\n", r.Topic, r.Partition, r.Err)
			}
		}
	}
	return nil
}

// topicReassignCmd assigns explicit replicas to partitions of one topic.
func topicReassignCmd(e *env, args []string) error {
	fs, o := newFlags(e, "topic reassign", "topic reassign TOPIC --partition N (--replicas 1,2,3 | --cancel) [--no-wait]", adminTimeout, "request timeout")
	var parts stringList
	fs.Var(&parts, "partition", "partition to reassign (repeatable)")
	replicas := fs.String("replicas", "", "comma-separated broker ids, preferred leader first")
	cancelIt := fs.Bool("cancel", false, "cancel the running reassignment (the original replicas stay)")
	noWait := fs.Bool("no-wait", false, "return once submitted instead of waiting for the data to move")
	wait := fs.Duration("wait", 30*time.Minute, "how long to wait for the data to move")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || len(parts) == 0 || (*replicas == "") == !*cancelIt {
		return usageErr("topic reassign needs TOPIC, --partition N and either --replicas or --cancel — e.g. `strom topic reassign orders --partition 0 --replicas 2,3,4`")
	}
	var target []int32
	if !*cancelIt {
		if target, err = parseIDs(*replicas); err != nil {
			return err
		}
	}
	req := kadm.AlterPartitionAssignmentsReq{}
	for _, p := range parts {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n < 0 {
			return usageErr("--partition %q is not a partition number", p)
		}
		req.Assign(pos[0], int32(n), target)
	}
	adm, _, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	if *noWait || *cancelIt {
		ctx, cancel := o.reqCtx(e.ctx)
		defer cancel()
		resps, err := adm.AlterPartitionAssignments(ctx, req)
		if err != nil {
			return o.wrap(err)
		}
		for _, r := range resps.Sorted() {
			if r.Err != nil {
				return fmt.Errorf("reassign %s-%d: %w", r.Topic, r.Partition, withMessage(r.Err, r.ErrMessage))
			}
		}
		fmt.Fprintln(e.stdout, "submitted")
		return nil
	}
	if err := submitAndWait(e, o, adm, req, *wait); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "reassigned")
	return nil
}

// parseIDs reads a comma-separated list of broker ids.
func parseIDs(s string) ([]int32, error) {
	var out []int32
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil || n < 0 {
			return nil, usageErr("broker id %q is not a non-negative integer", f)
		}
		out = append(out, int32(n))
	}
	return out, nil
}
