package cluster

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/chaoscheck"
)

// createAssigned creates topic with one partition on replicas (the first
// preferred leader), retrying retriable errors until the deadline.
func createAssigned(t *testing.T, c *Cluster, topic string, replicas []int32) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	cl := c.Client()
	for tries := 1; ; tries++ {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 10_000
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
		ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		ra.Partition, ra.Replicas = 0, replicas
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
		}
		if err == nil || errors.Is(err, kerr.TopicAlreadyExists) {
			// Already there: an earlier try created it after all, or
			// kgo's own retry of this one did (a first attempt that
			// created the topic and then failed, e.g. on a controller
			// change). Each test uses its own topic names.
			return
		}
		if ctx.Err() != nil || !kerr.IsRetriable(err) {
			t.Fatalf("create %s on %v: %v", topic, replicas, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// produceValues writes values to topic/0 with acks=all, uncompressed (so
// the test can look for them in segment files).
func produceValues(t *testing.T, c *Cluster, topic string, values []string) {
	t.Helper()
	cl := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordRetries(1000), kgo.UnknownTopicRetries(-1))
	ctx := ctxFor(t, 30*time.Second)
	for _, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", v, err)
		}
	}
}

func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return out
}

// TestClusterRecreatedTopicNeverServesOldRecords: an RF3 topic is deleted
// and recreated under the same name while one replica is down. When that
// broker returns, its log of the deleted topic is moved aside (stray): it
// catches up with the new topic from scratch and rejoins the ISR; led by
// it, the partition serves only the new records, and no replica's partition
// directory keeps an old one.
//
// Both incarnations have the same replica order and write at leader epoch
// 0, so truncation by leader epoch alone would keep the old log's first
// records (the epochs and offsets agree, only the bytes differ): the topic
// id is what tells the two logs apart.
func TestClusterRecreatedTopicNeverServesOldRecords(t *testing.T) {
	c := New(t, 3)
	const topic = "reborn"
	var ctl int32
	for _, b := range c.Brokers {
		if b.Srv.IsController() {
			ctl = b.ID
		}
	}
	// The victim and the first leader are not the controller, so stopping
	// them costs no controller election.
	var plain []int32
	for id := int32(1); id <= 3; id++ {
		if id != ctl {
			plain = append(plain, id)
		}
	}
	first, victim := plain[0], plain[1]
	replicas := []int32{first, victim, ctl}

	createAssigned(t, c, topic, replicas)
	oldValues := numbered("OLD-VALUE", 40)
	produceValues(t, c, topic, oldValues)
	c.WaitFor("old records on every replica", 20*time.Second, func() bool {
		ok, _ := c.replicasIdentical(topic, 0)
		info, _ := c.Broker(victim).Srv.LocalReplica(topic, 0)
		return ok && info.HighWatermark == int64(len(oldValues))
	})

	c.Stop(victim)
	ctx := ctxFor(t, 30*time.Second)
	if resp, err := c.Admin().DeleteTopics(ctx, topic); err != nil || resp[topic].Err != nil {
		t.Fatalf("delete: %v %v", err, resp[topic].Err)
	}
	createAssigned(t, c, topic, replicas)
	newValues := numbered("NEW-VALUE", 15)
	produceValues(t, c, topic, newValues)

	c.Restart(victim)
	c.WaitFor("the returning broker back in the ISR", 40*time.Second, func() bool {
		return len(c.isrOf(topic, 0)) == 3
	})
	// Make the returning broker lead (next in replica order), and read the
	// whole partition through it.
	c.Stop(first)
	c.WaitFor("the returning broker leading", 20*time.Second, func() bool { return c.leaderOf(topic, 0) == victim })
	if got := consumeAll(t, c, topic, len(newValues)); !slices.Equal(got, newValues) {
		t.Fatalf("consumed %v, want %v", got, newValues)
	}
	c.Restart(first)
	c.WaitFor("every replica in the ISR", 40*time.Second, func() bool { return len(c.isrOf(topic, 0)) == 3 })
	c.WaitFor("replicas identical", 20*time.Second, func() bool {
		ok, _ := c.replicasIdentical(topic, 0)
		return ok
	})
	for _, b := range c.Brokers {
		checkNoOldRecords(t, b, topic, len(newValues))
	}
	strays, _ := filepath.Glob(filepath.Join(c.Broker(victim).Cfg.DataDir, topic+"-0.*-stray"))
	if len(strays) != 1 {
		t.Fatalf("stray directories on broker %d: %v", victim, strays)
	}
}

// checkNoOldRecords reads b's segment files of topic/0: no record of the
// deleted topic, exactly the new ones.
func checkNoOldRecords(t *testing.T, b *Broker, topic string, wantNew int) {
	t.Helper()
	dir := filepath.Join(b.Cfg.DataDir, topic+"-0")
	log, _, err := chaoscheck.SegmentLog(dir)
	if err != nil {
		t.Fatalf("broker %d: %v", b.ID, err)
	}
	if bytes.Contains(log, []byte("OLD-VALUE")) {
		t.Fatalf("broker %d keeps records of the deleted topic in %s", b.ID, dir)
	}
	if n := bytes.Count(log, []byte("NEW-VALUE")); n != wantNew {
		t.Fatalf("broker %d has %d new records, want %d", b.ID, n, wantNew)
	}
	id := b.Srv.Metadata().Topics[topic].ID
	want := "version: 0\ntopic_id: " + base64.RawURLEncoding.EncodeToString(id[:]) + "\n"
	if meta, err := os.ReadFile(filepath.Join(dir, "partition.metadata")); err != nil || string(meta) != want {
		t.Fatalf("broker %d partition.metadata: %q, %v; want %q", b.ID, meta, err, want)
	}
}
