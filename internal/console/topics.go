package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicRow is one line of the topics page.
type topicRow struct {
	Name            string
	Internal        bool
	Partitions      int
	Replication     int
	UnderReplicated int
	Offline         int
	Records         int64 // sum of high watermarks minus log starts
	Err             string
}

// partitionRow is one partition on a topic page.
type partitionRow struct {
	Partition     int32
	Leader        int32
	LeaderEpoch   int32
	Replicas      []int32
	ISR           []int32
	Offline       []int32
	StartOffset   int64
	HighWatermark int64
	Size          string // bytes on the leader, "–" when DescribeLogDirs is unavailable
	UnderRepl     bool
	// Adding and Removing are the replicas a reassignment in progress
	// adds and removes (ListPartitionReassignments); empty when none runs.
	Adding, Removing []int32
	Err              string
}

// configRow is one topic config.
type configRow struct {
	Key, Value, Source string
	Sensitive          bool
}

// topicPage is the topic page's data.
type topicPage struct {
	Name       string
	ID         string
	Partitions []partitionRow
	Configs    []configRow
	SizeNote   string
	// Reassigning counts the partitions with a reassignment in progress.
	Reassigning int
}

// topicsData lists every topic with its partition count and health.
func (c *Console) topicsData(ctx context.Context, _ *http.Request) (string, any, error) {
	tds, err := c.adm.ListTopicsWithInternal(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("list topics: %w", err)
	}
	starts, _ := c.adm.ListStartOffsets(ctx, tds.Names()...)
	ends, _ := c.adm.ListEndOffsets(ctx, tds.Names()...)
	var rows []topicRow
	for _, td := range tds.Sorted() {
		r := topicRow{Name: td.Topic, Internal: td.IsInternal, Partitions: len(td.Partitions)}
		if td.Err != nil {
			r.Err = td.Err.Error()
		}
		for _, p := range td.Partitions {
			r.Replication = max(r.Replication, len(p.Replicas))
			if len(p.ISR) < len(p.Replicas) {
				r.UnderReplicated++
			}
			if p.Leader < 0 {
				r.Offline++
			}
			s, okS := starts.Lookup(td.Topic, p.Partition)
			e, okE := ends.Lookup(td.Topic, p.Partition)
			if okS && okE && s.Err == nil && e.Err == nil {
				r.Records += e.Offset - s.Offset
			}
		}
		rows = append(rows, r)
	}
	return "Topics", rows, nil
}

// topicData describes one topic: partitions with leader, replicas, ISR,
// offsets and sizes, and its configs.
func (c *Console) topicData(ctx context.Context, r *http.Request) (string, any, error) {
	name := r.PathValue("topic")
	if err := checkTopicName(name); err != nil {
		return "", nil, err
	}
	tds, err := c.adm.ListTopicsWithInternal(ctx, name)
	if err != nil {
		return "", nil, fmt.Errorf("describe topic: %w", err)
	}
	td, ok := tds[name]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return "", nil, fmt.Errorf("%w: %q", ErrUnknownTopic, name)
	}
	if td.Err != nil {
		return "", nil, fmt.Errorf("describe topic %q: %w", name, td.Err)
	}
	p := topicPage{Name: name, ID: td.ID.String()}
	starts, _ := c.adm.ListStartOffsets(ctx, name)
	ends, _ := c.adm.ListEndOffsets(ctx, name)
	sizes, sizeErr := c.leaderSizes(ctx, name)
	if sizeErr != nil {
		p.SizeNote = "sizes unavailable: " + sizeErr.Error()
	}
	moving, _ := c.adm.ListPartitionReassignments(ctx, kadm.TopicsSet{name: nil}) // none shown if refused
	for _, pd := range td.Partitions.Sorted() {
		row := partitionRowOf(pd, starts, ends, sizes)
		if m, ok := moving[name][pd.Partition]; ok {
			row.Adding, row.Removing = m.AddingReplicas, m.RemovingReplicas
			p.Reassigning++
		}
		p.Partitions = append(p.Partitions, row)
	}
	p.Configs = c.topicConfigs(ctx, name)
	return "Topic " + name, p, nil
}

// partitionRowOf fills one partition line from metadata and offsets.
func partitionRowOf(pd kadm.PartitionDetail, starts, ends kadm.ListedOffsets, sizes map[[2]int32]int64) partitionRow {
	row := partitionRow{
		Partition: pd.Partition, Leader: pd.Leader, LeaderEpoch: pd.LeaderEpoch,
		Replicas: pd.Replicas, ISR: slices.Sorted(slices.Values(pd.ISR)), Offline: pd.OfflineReplicas,
		StartOffset: -1, HighWatermark: -1, Size: "–",
		UnderRepl: len(pd.ISR) < len(pd.Replicas),
	}
	if pd.Err != nil {
		row.Err = pd.Err.Error()
	}
	if s, ok := starts.Lookup(pd.Topic, pd.Partition); ok && s.Err == nil {
		row.StartOffset = s.Offset
	}
	if e, ok := ends.Lookup(pd.Topic, pd.Partition); ok && e.Err == nil {
		row.HighWatermark = e.Offset
	}
	if n, ok := sizes[[2]int32{pd.Leader, pd.Partition}]; ok {
		row.Size = humanBytes(n)
	}
	return row
}

// leaderSizes asks every broker for its log dirs (DescribeLogDirs) and
// keys the sizes by (broker, partition).
func (c *Console) leaderSizes(ctx context.Context, topic string) (map[[2]int32]int64, error) {
	set := kadm.TopicsSet{}
	set.Add(topic)
	dirs, err := c.adm.DescribeAllLogDirs(ctx, set)
	if err != nil && len(dirs) == 0 {
		return nil, err
	}
	sizes := map[[2]int32]int64{}
	dirs.Each(func(d kadm.DescribedLogDir) {
		for _, p := range d.Topics[topic] {
			sizes[[2]int32{d.Broker, p.Partition}] += p.Size
		}
	})
	return sizes, nil
}

// topicConfigs describes a topic's configs; a failure shows as one line
// rather than failing the page.
func (c *Console) topicConfigs(ctx context.Context, name string) []configRow {
	rcs, err := c.adm.DescribeTopicConfigs(ctx, name)
	if err == nil && len(rcs) == 1 && rcs[0].Err != nil {
		err = rcs[0].Err
	}
	if err != nil {
		return []configRow{{Key: "(configs unavailable)", Value: err.Error()}}
	}
	var rows []configRow
	for _, rc := range rcs {
		for _, cf := range rc.Configs {
			rows = append(rows, configRow{Key: cf.Key, Value: cf.MaybeValue(), Source: configSource(cf.Source), Sensitive: cf.Sensitive})
		}
	}
	slices.SortFunc(rows, func(a, b configRow) int { return cmpString(a.Key, b.Key) })
	return rows
}

// configSource names where a config value comes from, as kafka-configs does.
func configSource(s kmsg.ConfigSource) string {
	switch s {
	case kmsg.ConfigSourceDynamicTopicConfig:
		return "topic"
	case kmsg.ConfigSourceStaticBrokerConfig, kmsg.ConfigSourceDynamicBrokerConfig, kmsg.ConfigSourceDynamicDefaultBrokerConfig:
		return "broker"
	case kmsg.ConfigSourceDefaultConfig:
		return "default"
	}
	return s.String()
}

// checkTopicName refuses names Kafka could never have created (legal
// characters [a-zA-Z0-9._-], at most 249 of them), before any request is
// sent for them.
func checkTopicName(name string) error {
	if name == "" || len(name) > 249 {
		return fmt.Errorf("%w: topic name must be 1 to 249 characters", ErrBadParam)
	}
	for _, r := range name {
		ok := r == '.' || r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return fmt.Errorf("%w: topic name %q has characters outside [a-zA-Z0-9._-]", ErrBadParam, name)
		}
	}
	return nil
}
