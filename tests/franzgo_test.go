package tests

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestInteropFranzGoProduceConsume produces keyed records with headers to a
// 3-partition topic and reads them back: every record once, offsets dense
// from 0 per partition, keys, values and headers unchanged.
func TestInteropFranzGoProduceConsume(t *testing.T) {
	b := startBroker(t)
	const topic, n = "franz", 300
	createTopic(t, b.Addr(), topic, 3, nil)
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{
			Topic:   topic,
			Key:     fmt.Appendf(nil, "key-%d", i),
			Value:   fmt.Appendf(nil, "value-%d", i),
			Headers: []kgo.RecordHeader{{Key: "i", Value: fmt.Appendf(nil, "%d", i)}},
		})
	}
	produceSync(t, b.Addr(), recs...)

	got := consumeAll(t, b.Addr(), topic, n)
	if len(got) != n {
		t.Fatalf("read %d records, want %d", len(got), n)
	}
	seen := map[string]bool{}
	next := map[int32]int64{}
	for _, r := range got {
		k := string(r.Key)
		if seen[k] {
			t.Fatalf("record %s read twice", k)
		}
		seen[k] = true
		if want := "value-" + k[len("key-"):]; string(r.Value) != want {
			t.Errorf("record %s: value %q, want %q", k, r.Value, want)
		}
		if len(r.Headers) != 1 || r.Headers[0].Key != "i" || string(r.Headers[0].Value) != k[len("key-"):] {
			t.Errorf("record %s: headers %+v", k, r.Headers)
		}
		if r.Offset != next[r.Partition] {
			t.Errorf("record %s: offset %d in partition %d, want %d", k, r.Offset, r.Partition, next[r.Partition])
		}
		next[r.Partition] = r.Offset + 1
	}
}

// TestInteropFranzGoTwoGroups checks that two consumer groups on one topic
// each receive every record.
func TestInteropFranzGoTwoGroups(t *testing.T) {
	b := startBroker(t)
	const topic, n = "shared", 60
	createTopic(t, b.Addr(), topic, 3, nil)
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "%d", i)})
	}
	produceSync(t, b.Addr(), recs...)

	for _, group := range []string{"billing", "audit"} {
		got := groupRead(t, b.Addr(), group, topic, n)
		var vals []string
		for _, r := range got {
			vals = append(vals, string(r.Value))
		}
		slices.Sort(vals)
		vals = slices.Compact(vals)
		if len(vals) != n {
			t.Fatalf("group %s read %d distinct records, want %d", group, len(vals), n)
		}
	}
}

// TestInteropFranzGoGroupIdleMember joins 3 consumers to one group on a
// 2-partition topic: once stable, exactly two members own one partition each
// and one is idle — as seen by each client's assignment callbacks and by
// DescribeGroups.
func TestInteropFranzGoGroupIdleMember(t *testing.T) {
	b := startBroker(t)
	const topic, group = "pairs", "trio"
	createTopic(t, b.Addr(), topic, 2, nil)

	type member struct {
		mu       sync.Mutex
		assigned map[int32]bool
		cl       *kgo.Client
	}
	members := make([]*member, 3)
	for i := range members {
		m := &member{assigned: map[int32]bool{}}
		update := func(add bool) func(context.Context, *kgo.Client, map[string][]int32) {
			return func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
				m.mu.Lock()
				defer m.mu.Unlock()
				for _, p := range ps[topic] {
					if add {
						m.assigned[p] = true
					} else {
						delete(m.assigned, p)
					}
				}
			}
		}
		m.cl = newKgo(t, b.Addr(),
			kgo.ClientID(fmt.Sprintf("member-%d", i)),
			kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.OnPartitionsAssigned(update(true)),
			kgo.OnPartitionsRevoked(update(false)),
			kgo.OnPartitionsLost(update(false)),
		)
		members[i] = m
	}
	adm := newAdmin(t, b.Addr())

	waitFor(t, 60*time.Second, "3 members, 2 partitions, one idle member", func() error {
		// Client-side view.
		var owned []int32
		idle := 0
		for _, m := range members {
			m.mu.Lock()
			if len(m.assigned) == 0 {
				idle++
			}
			for p := range m.assigned {
				owned = append(owned, p)
			}
			m.mu.Unlock()
		}
		slices.Sort(owned)
		if idle != 1 || !slices.Equal(owned, []int32{0, 1}) {
			return fmt.Errorf("callbacks: %d idle members, partitions owned %v", idle, owned)
		}
		// Coordinator's view.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		groups, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return err
		}
		g, ok := groups[group]
		if !ok || g.Err != nil {
			return fmt.Errorf("describe %s: %+v", group, g)
		}
		if g.State != "Stable" || len(g.Members) != 3 {
			return fmt.Errorf("describe: state %s with %d members", g.State, len(g.Members))
		}
		owned, idle = nil, 0
		for _, mem := range g.Members {
			a, ok := mem.Assigned.AsConsumer()
			if !ok {
				return fmt.Errorf("member %s has no consumer assignment", mem.MemberID)
			}
			n := 0
			for _, tp := range a.Topics {
				n += len(tp.Partitions)
				owned = append(owned, tp.Partitions...)
			}
			if n == 0 {
				idle++
			}
		}
		slices.Sort(owned)
		if idle != 1 || !slices.Equal(owned, []int32{0, 1}) {
			return fmt.Errorf("describe: %d idle members, partitions assigned %v", idle, owned)
		}
		return nil
	})
}

// TestInteropFranzGoCommitSurvivesRestart commits offsets, reads on from
// them with new consumers, and checks that the commits survive a graceful
// broker restart and a SIGKILL.
func TestInteropFranzGoCommitSurvivesRestart(t *testing.T) {
	commitSurvivesRestart(t)
}

// TestInteropFranzGoCommitSurvivesRestart848 is the same with franz-go
// speaking the KIP-848 consumer protocol (ConsumerGroupHeartbeat, commits
// with the member epoch): the group's records and offsets are replayed
// after a restart and after kill -9.
func TestInteropFranzGoCommitSurvivesRestart848(t *testing.T) {
	commitSurvivesRestart(t, kgo.ServerSideBalancer(), kgo.Balancers(kgo.CooperativeStickyBalancer()))
}

// commitSurvivesRestart runs TestInteropFranzGoCommitSurvivesRestart with
// groupOpts for every consumer.
func commitSurvivesRestart(t *testing.T, groupOpts ...kgo.Opt) {
	b := startBroker(t)
	const topic, group = "orders", "billing"
	createTopic(t, b.Addr(), topic, 1, nil)
	var recs []*kgo.Record
	for i := range 20 {
		recs = append(recs, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "%d", i)})
	}
	produceSync(t, b.Addr(), recs...)

	expectRead := func(n int, from int64) {
		t.Helper()
		got := groupRead(t, b.Addr(), group, topic, n, groupOpts...)
		for i, r := range got {
			if r.Offset != from+int64(i) {
				t.Fatalf("consumer in %s: record %d at offset %d, want %d (committed offset not honoured)", group, i, r.Offset, from+int64(i))
			}
		}
	}
	expectCommitted := func(want int64) {
		t.Helper()
		ctx := testCtx(t, 30*time.Second)
		offs, err := newAdmin(t, b.Addr()).FetchOffsets(ctx, group)
		if err != nil {
			t.Fatalf("fetch offsets of %s: %v", group, err)
		}
		if o, ok := offs.Lookup(topic, 0); !ok || o.Err != nil || o.At != want {
			t.Fatalf("committed offset of %s on %s/0: %+v (found %v), want %d", group, topic, o, ok, want)
		}
	}

	expectRead(10, 0)
	expectCommitted(10)
	expectRead(5, 10) // a new consumer resumes at the commit
	expectCommitted(15)

	b.Restart()
	expectCommitted(15)
	expectRead(3, 15)
	expectCommitted(18)

	b.Kill()
	b.Start()
	expectCommitted(18)
	expectRead(2, 18)
}

// groupRead joins group with a fresh franz-go consumer (auto-commit off),
// reads n records of topic, commits exactly those and leaves the group.
func groupRead(t *testing.T, addr, group, topic string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit()}, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	defer cl.Close()
	ctx := testCtx(t, 60*time.Second)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("group %s: read %d of %d records before timeout", group, len(out), n)
		}
		fs.EachError(func(tp string, p int32, err error) {
			t.Errorf("group %s: fetch %s/%d: %v", group, tp, p, err)
		})
		out = append(out, fs.Records()...)
	}
	out = out[:n]
	if err := cl.CommitRecords(ctx, out...); err != nil {
		t.Fatalf("group %s: commit: %v", group, err)
	}
	return out
}

// TestInteropFranzGoListOffsets checks ListOffsets: earliest, latest, and by
// timestamp (the first record at or after a millisecond, inside one batch).
func TestInteropFranzGoListOffsets(t *testing.T) {
	b := startBroker(t)
	const topic, n = "timed", 10
	createTopic(t, b.Addr(), topic, 1, nil)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "%d", i), Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	produceSync(t, b.Addr(), recs...)
	adm := newAdmin(t, b.Addr())
	ctx := testCtx(t, 30*time.Second)

	lookup := func(lo kadm.ListedOffsets, err error) kadm.ListedOffset {
		t.Helper()
		if err != nil {
			t.Fatalf("list offsets: %v", err)
		}
		o, ok := lo.Lookup(topic, 0)
		if !ok || o.Err != nil {
			t.Fatalf("list offsets: %+v (found %v)", o, ok)
		}
		return o
	}
	if o := lookup(adm.ListStartOffsets(ctx, topic)); o.Offset != 0 {
		t.Errorf("start offset %d, want 0", o.Offset)
	}
	if o := lookup(adm.ListEndOffsets(ctx, topic)); o.Offset != n {
		t.Errorf("end offset %d, want %d", o.Offset, n)
	}
	for _, c := range []struct {
		at   time.Time
		want int64
	}{
		{base.Add(-time.Minute), 0},
		{base, 0},
		{base.Add(3 * time.Second), 3},
		{base.Add(3500 * time.Millisecond), 4},
		{base.Add(9 * time.Second), 9},
		{base.Add(time.Minute), n}, // nothing after it: kadm reports the end offset
	} {
		o := lookup(adm.ListOffsetsAfterMilli(ctx, c.at.UnixMilli(), topic))
		if o.Offset != c.want {
			t.Errorf("offset after %v: %d, want %d", c.at.Sub(base), o.Offset, c.want)
		}
		if c.want < n && o.Timestamp != base.Add(time.Duration(c.want)*time.Second).UnixMilli() {
			t.Errorf("offset after %v: timestamp %d, want that of record %d", c.at.Sub(base), o.Timestamp, c.want)
		}
	}
}

// TestInteropFranzGoTopicAdmin covers topic administration with kadm: create
// with configs, describe and alter configs, refuse duplicates and
// unsupported configs, add partitions (and use them), delete.
func TestInteropFranzGoTopicAdmin(t *testing.T) {
	b := startBroker(t)
	adm := newAdmin(t, b.Addr())
	ctx := testCtx(t, 60*time.Second)
	const topic = "managed"

	resp, err := adm.CreateTopic(ctx, 2, 1, map[string]*string{
		"retention.ms":  kadm.StringPtr("3600000"),
		"segment.bytes": kadm.StringPtr("1048576"),
	}, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create %s: %v / %v (%s)", topic, err, resp.Err, resp.ErrMessage)
	}
	if resp.NumPartitions != 2 {
		t.Errorf("create response: %d partitions, want 2", resp.NumPartitions)
	}

	configValue := func(key string) (string, kadm.Config) {
		t.Helper()
		rcs, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			t.Fatalf("describe configs: %v", err)
		}
		rc, err := rcs.On(topic, nil)
		if err != nil || rc.Err != nil {
			t.Fatalf("describe configs of %s: %v / %v", topic, err, rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Key == key {
				return c.MaybeValue(), c
			}
		}
		t.Fatalf("describe configs of %s: no %s among %d configs", topic, key, len(rc.Configs))
		return "", kadm.Config{}
	}
	if v, c := configValue("retention.ms"); v != "3600000" || c.Source.String() != "DYNAMIC_TOPIC_CONFIG" {
		t.Errorf("retention.ms = %q (source %s), want 3600000 from DYNAMIC_TOPIC_CONFIG", v, c.Source)
	}
	if v, _ := configValue("segment.bytes"); v != "1048576" {
		t.Errorf("segment.bytes = %q, want 1048576", v)
	}
	if v, _ := configValue("cleanup.policy"); v != "delete" {
		t.Errorf("cleanup.policy = %q, want the default delete", v)
	}

	alter, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("7200000")}}, topic)
	if err == nil {
		for _, a := range alter {
			err = errors.Join(err, a.Err)
		}
	}
	if err != nil {
		t.Fatalf("incremental alter retention.ms: %v", err)
	}
	if v, _ := configValue("retention.ms"); v != "7200000" {
		t.Errorf("after alter: retention.ms = %q, want 7200000", v)
	}

	// kadm returns the topic's error both as err and in the response.
	dup, err := adm.CreateTopic(ctx, 1, 1, nil, topic)
	if !errors.Is(err, kerr.TopicAlreadyExists) || !errors.Is(dup.Err, kerr.TopicAlreadyExists) {
		t.Errorf("create existing topic: %v / %v, want TOPIC_ALREADY_EXISTS", err, dup.Err)
	}
	bad, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("shred")}, "shredded")
	if !errors.Is(err, kerr.InvalidConfig) || !errors.Is(bad.Err, kerr.InvalidConfig) {
		t.Errorf("create with cleanup.policy=shred: %v / %v, want INVALID_CONFIG", err, bad.Err)
	}

	cps, err := adm.CreatePartitions(ctx, 2, topic)
	if err == nil {
		var cp kadm.CreatePartitionsResponse
		cp, err = cps.On(topic, nil)
		err = errors.Join(err, cp.Err)
	}
	if err != nil {
		t.Fatalf("create partitions (+2): %v", err)
	}
	waitFor(t, 20*time.Second, "4 partitions in metadata", func() error {
		td, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return err
		}
		if got := len(td[topic].Partitions); got != 4 {
			return fmt.Errorf("%d partitions", got)
		}
		return nil
	})
	manual := newKgo(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := manual.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 3, Value: []byte("in a new partition")}).FirstErr(); err != nil {
		t.Fatalf("produce to new partition 3: %v", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if o, ok := ends.Lookup(topic, 3); err != nil || !ok || o.Offset != 1 {
		t.Errorf("end offset of new partition 3: %+v (%v), want 1", o, err)
	}

	dels, err := adm.DeleteTopics(ctx, topic)
	if err == nil {
		var d kadm.DeleteTopicResponse
		d, err = dels.On(topic, nil)
		err = errors.Join(err, d.Err)
	}
	if err != nil {
		t.Fatalf("delete %s: %v", topic, err)
	}
	waitFor(t, 20*time.Second, "deleted topic gone from metadata", func() error {
		td, err := adm.ListTopics(ctx)
		if err != nil {
			return err
		}
		if td.Has(topic) {
			return fmt.Errorf("%s still listed", topic)
		}
		return nil
	})
}
