package cli

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const adminTimeout = 10 * time.Second

func runTopic(e *env, args []string) error {
	return subcommands(e, "topic", args, map[string]func(*env, []string) error{
		"create":   topicCreate,
		"list":     topicList,
		"describe": topicDescribe,
		"delete":   topicDelete,
		"alter":    topicAlter,
		"reassign": topicReassignCmd,
	})
}

// parseConfigs turns k=v pairs into the map kadm wants.
func parseConfigs(kvs []string) (map[string]*string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := make(map[string]*string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageErr("--config %q is not key=value — e.g. --config retention.ms=86400000", kv)
		}
		out[k] = &v
	}
	return out, nil
}

type topicCreated struct {
	Topic             string `json:"topic"`
	ID                string `json:"id,omitempty"`
	Partitions        int32  `json:"partitions"`
	ReplicationFactor int16  `json:"replication_factor"`
}

func topicCreate(e *env, args []string) error {
	fs, o := newFlags(e, "topic create", "topic create NAME... [--partitions N] [--replication-factor N] [--config k=v ...]", adminTimeout, "request timeout")
	partitions := fs.Int("partitions", -1, "number of partitions (-1: the broker's num.partitions)")
	rf := fs.Int("replication-factor", -1, "replicas per partition (-1: the broker's default.replication.factor)")
	var cfgs stringList
	fs.Var(&cfgs, "config", "topic config key=value (repeatable)")
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return usageErr("topic create needs a topic name — e.g. `strom topic create orders --partitions 3`")
	}
	if *partitions == 0 || *partitions < -1 || *rf == 0 || *rf < -1 || *rf > 1<<15-1 {
		return usageErr("--partitions and --replication-factor must be positive (or -1 for the broker default)")
	}
	configs, err := parseConfigs(cfgs)
	if err != nil {
		return err
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	resps, err := adm.CreateTopics(ctx, int32(*partitions), int16(*rf), configs, names...)
	if err != nil {
		return o.wrap(err)
	}
	var out []topicCreated
	var firstErr error
	for _, name := range names {
		r, ok := resps[name]
		if !ok {
			continue
		}
		if r.Err != nil {
			if firstErr == nil {
				firstErr = explainTopic(withMessage(r.Err, r.ErrMessage), name)
			}
			continue
		}
		out = append(out, topicCreated{Topic: name, ID: idString(r.ID), Partitions: r.NumPartitions, ReplicationFactor: r.ReplicationFactor})
	}
	if o.json {
		if err := writeJSON(e.stdout, out); err != nil {
			return err
		}
	} else {
		for _, t := range out {
			fmt.Fprintf(e.stdout, "created topic %s (partitions %d, replication factor %d)\n", t.Topic, t.Partitions, t.ReplicationFactor)
		}
	}
	return firstErr
}

type topicListed struct {
	Topic             string `json:"topic"`
	ID                string `json:"id,omitempty"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replication_factor"`
	Internal          bool   `json:"internal,omitempty"`
}

func topicList(e *env, args []string) error {
	fs, o := newFlags(e, "topic list", "topic list [--internal]", adminTimeout, "request timeout")
	internal := fs.Bool("internal", false, "include internal topics such as __consumer_offsets")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("topic list takes no arguments — use `strom topic describe %s` for details", strings.Join(pos, " "))
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	var tds kadm.TopicDetails
	if *internal {
		tds, err = adm.ListTopicsWithInternal(ctx)
	} else {
		tds, err = adm.ListTopics(ctx)
	}
	if err != nil {
		return o.wrap(err)
	}
	out := []topicListed{}
	for _, td := range tds.Sorted() {
		out = append(out, topicListed{Topic: td.Topic, ID: idString(td.ID), Partitions: len(td.Partitions), ReplicationFactor: td.Partitions.NumReplicas(), Internal: td.IsInternal})
	}
	if o.json {
		return writeJSON(e.stdout, out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITIONS\tREPLICATION-FACTOR")
	for _, t := range out {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", t.Topic, t.Partitions, t.ReplicationFactor)
	}
	return tw.Flush()
}

type partitionDescribed struct {
	Partition      int32   `json:"partition"`
	Leader         int32   `json:"leader"`
	LeaderEpoch    int32   `json:"leader_epoch"`
	Replicas       []int32 `json:"replicas"`
	ISR            []int32 `json:"isr"`
	LogStartOffset int64   `json:"log_start_offset"`
	LogEndOffset   int64   `json:"log_end_offset"`
	Error          string  `json:"error,omitempty"`
}

type topicDescribed struct {
	Topic             string               `json:"topic"`
	ID                string               `json:"id,omitempty"`
	Internal          bool                 `json:"internal,omitempty"`
	ReplicationFactor int                  `json:"replication_factor"`
	Configs           map[string]string    `json:"configs"`
	Partitions        []partitionDescribed `json:"partitions"`
}

func topicDescribe(e *env, args []string) error {
	fs, o := newFlags(e, "topic describe", "topic describe [NAME...]  (all topics if none named)", adminTimeout, "request timeout")
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	tds, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return o.wrap(err)
	}
	if err := requireTopics(tds, names); err != nil {
		return err
	}
	if len(names) == 0 {
		names = tds.Names()
	}
	if len(names) == 0 {
		if o.json {
			return writeJSON(e.stdout, []topicDescribed{})
		}
		fmt.Fprintln(e.stdout, "no topics — create one with `strom topic create NAME`")
		return nil
	}
	starts, ends, err := listOffsetBounds(ctx, adm, names)
	if err != nil {
		return o.wrap(err)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return o.wrap(err)
	}
	out := make([]topicDescribed, 0, len(names))
	for _, n := range names {
		out = append(out, describeTopic(n, tds[n], rcs, starts, ends))
	}
	if o.json {
		return writeJSON(e.stdout, out)
	}
	for i, d := range out {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		if err := printTopic(e.stdout, d); err != nil {
			return err
		}
	}
	return nil
}

// requireTopics fails, explained, on the first of names that tds (a
// ListTopics answer) does not hold or holds with an error, so that a command
// naming a missing topic says so before it sends any other request.
func requireTopics(tds kadm.TopicDetails, names []string) error {
	for _, n := range names {
		td, ok := tds[n]
		if !ok {
			return explainTopic(kerr.UnknownTopicOrPartition, n)
		}
		if td.Err != nil {
			return explainTopic(td.Err, n)
		}
	}
	return nil
}

// listOffsetBounds lists the log start and log end offsets of every
// partition of topics: the two bounds that describe, offset reset and bench
// consume all need together. The error is kadm's, for the caller to explain.
func listOffsetBounds(ctx context.Context, adm *kadm.Client, topics []string) (starts, ends kadm.ListedOffsets, err error) {
	starts, err = adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, nil, err
	}
	ends, err = adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, nil, err
	}
	return starts, ends, nil
}

// describeTopic assembles one topic's description from the metadata, config
// and offset answers. Only dynamic topic configs (overrides set with
// `topic create/alter --config`) are shown: broker defaults would drown them.
// A partition whose offsets could not be listed shows -1 ("-").
func describeTopic(n string, td kadm.TopicDetail, rcs kadm.ResourceConfigs, starts, ends kadm.ListedOffsets) topicDescribed {
	d := topicDescribed{Topic: n, ID: idString(td.ID), Internal: td.IsInternal, ReplicationFactor: td.Partitions.NumReplicas(), Configs: map[string]string{}}
	if rc, err := rcs.On(n, nil); err == nil && rc.Err == nil {
		for _, c := range rc.Configs {
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
				d.Configs[c.Key] = c.MaybeValue()
			}
		}
	}
	for _, p := range td.Partitions.Sorted() {
		pd := partitionDescribed{Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, Replicas: nonNil(p.Replicas), ISR: nonNil(p.ISR), LogStartOffset: -1, LogEndOffset: -1}
		if p.Err != nil {
			pd.Error = p.Err.Error()
		}
		if lo, ok := starts.Lookup(n, p.Partition); ok && lo.Err == nil {
			pd.LogStartOffset = lo.Offset
		}
		if lo, ok := ends.Lookup(n, p.Partition); ok && lo.Err == nil {
			pd.LogEndOffset = lo.Offset
		}
		d.Partitions = append(d.Partitions, pd)
	}
	return d
}

// printTopic writes one described topic for people: a summary line, its
// config overrides, then a table of partitions.
func printTopic(w io.Writer, d topicDescribed) error {
	fmt.Fprintf(w, "Topic: %s\tID: %s\tPartitions: %d\tReplicationFactor: %d\n", d.Topic, orDash(d.ID), len(d.Partitions), d.ReplicationFactor)
	kvs := make([]string, 0, len(d.Configs))
	for _, k := range slices.Sorted(maps.Keys(d.Configs)) {
		kvs = append(kvs, k+"="+d.Configs[k])
	}
	fmt.Fprintf(w, "Configs: %s\n", orDash(strings.Join(kvs, ",")))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tLEADER\tREPLICAS\tISR\tLOG-START\tLOG-END")
	for _, p := range d.Partitions {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\n", p.Partition, p.Leader, joinInt32(p.Replicas), joinInt32(p.ISR), offsetString(p.LogStartOffset), offsetString(p.LogEndOffset))
	}
	return tw.Flush()
}

func topicDelete(e *env, args []string) error {
	return deleteNamed(e, args, "topic", kerr.UnknownTopicOrPartition, explainTopic,
		func(ctx context.Context, adm *kadm.Client, names []string) (map[string]deleteResult, error) {
			resps, err := adm.DeleteTopics(ctx, names...)
			out := make(map[string]deleteResult, len(resps))
			for n, r := range resps {
				out[n] = deleteResult{r.Err, r.ErrMessage}
			}
			return out, err
		})
}

// topicAltered is what `topic alter` changed on one topic (and its --json
// shape).
type topicAltered struct {
	Topic         string            `json:"topic"`
	Partitions    int               `json:"partitions,omitempty"`
	SetConfigs    map[string]string `json:"set_configs,omitempty"`
	DeleteConfigs []string          `json:"delete_configs,omitempty"`
}

func topicAlter(e *env, args []string) error {
	fs, o := newFlags(e, "topic alter", "topic alter NAME... [--partitions N] [--config k=v ...] [--delete-config k ...]", adminTimeout, "request timeout")
	partitions := fs.Int("partitions", 0, "grow the topic to N partitions in total")
	var sets, dels stringList
	fs.Var(&sets, "config", "set topic config key=value (repeatable)")
	fs.Var(&dels, "delete-config", "remove a topic config override, back to the broker default (repeatable)")
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return usageErr("topic alter needs a topic name — e.g. `strom topic alter orders --partitions 6`")
	}
	if *partitions < 0 {
		return usageErr("--partitions must be positive")
	}
	if *partitions == 0 && len(sets) == 0 && len(dels) == 0 {
		return usageErr("topic alter needs --partitions N, --config k=v or --delete-config k")
	}
	configs, err := parseConfigs(sets)
	if err != nil {
		return err
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()

	var done []topicAltered
	for _, n := range names {
		a := topicAltered{Topic: n}
		if *partitions > 0 {
			if err := growPartitions(ctx, adm, o, n, *partitions); err != nil {
				return err
			}
			a.Partitions = *partitions
		}
		if len(configs) > 0 || len(dels) > 0 {
			if err := alterTopicConfigs(ctx, adm, o, n, configs, dels); err != nil {
				return err
			}
			a.SetConfigs = map[string]string{}
			for k, v := range configs {
				a.SetConfigs[k] = *v
			}
			a.DeleteConfigs = dels
		}
		done = append(done, a)
	}
	if o.json {
		return writeJSON(e.stdout, done)
	}
	for _, a := range done {
		fmt.Fprintf(e.stdout, "altered topic %s: %s\n", a.Topic, a.summary())
	}
	return nil
}

// growPartitions asks for topic to have partitions partitions in total
// (Kafka can only add partitions, never remove them).
func growPartitions(ctx context.Context, adm *kadm.Client, o *common, topic string, partitions int) error {
	resps, err := adm.UpdatePartitions(ctx, partitions, topic)
	if err != nil {
		return o.wrap(err)
	}
	if r, ok := resps[topic]; ok && r.Err != nil {
		return explainTopic(withMessage(r.Err, r.ErrMessage), topic)
	}
	return nil
}

// alterTopicConfigs sets configs and deletes the overrides named in dels on
// topic, in one incremental request, so keys not named keep their values.
func alterTopicConfigs(ctx context.Context, adm *kadm.Client, o *common, topic string, configs map[string]*string, dels []string) error {
	var ops []kadm.AlterConfig
	for k, v := range configs {
		ops = append(ops, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: v})
	}
	for _, k := range dels {
		ops = append(ops, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	resps, err := adm.AlterTopicConfigs(ctx, ops, topic)
	if err != nil {
		return o.wrap(err)
	}
	for _, r := range resps {
		if r.Err != nil {
			return explainTopic(withMessage(r.Err, r.ErrMessage), topic)
		}
	}
	return nil
}

// summary lists the changes for people, set configs in key order.
func (a topicAltered) summary() string {
	var parts []string
	if a.Partitions > 0 {
		parts = append(parts, fmt.Sprintf("partitions=%d", a.Partitions))
	}
	for _, k := range slices.Sorted(maps.Keys(a.SetConfigs)) {
		parts = append(parts, "set "+k+"="+a.SetConfigs[k])
	}
	for _, k := range a.DeleteConfigs {
		parts = append(parts, "deleted "+k)
	}
	return strings.Join(parts, ", ")
}

// withMessage appends the broker's optional error message to a kerr error,
// keeping it matchable with errors.Is.
func withMessage(err error, msg string) error {
	if err == nil || msg == "" || strings.Contains(err.Error(), msg) {
		return err
	}
	return fmt.Errorf("%w (%s)", err, msg)
}

// idString prints a topic ID the way Kafka's own tools do (URL-safe base64
// without padding), so IDs can be compared across tools.
func idString(id kadm.TopicID) string {
	if id == (kadm.TopicID{}) {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(id[:])
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func offsetString(o int64) string {
	if o < 0 {
		return "-"
	}
	return fmt.Sprint(o)
}

func joinInt32(xs []int32) string {
	if len(xs) == 0 {
		return "-"
	}
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}

func nonNil(xs []int32) []int32 {
	if xs == nil {
		return []int32{}
	}
	return xs
}
