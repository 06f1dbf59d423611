package cluster

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestClusterKafkaGoReassignAndElect: segmentio/kafka-go's admin calls for
// AlterPartitionReassignments, ListPartitionReassignments and ElectLeaders
// get real answers, and the data moves.
func TestClusterKafkaGoReassignAndElect(t *testing.T) {
	c := New(t, 3)
	createAssigned(t, c, "kgo-move", []int32{1, 2})
	produceN(t, c.Client(kgo.RequiredAcks(kgo.AllISRAcks())), "kgo-move", 0, 20)
	cl := &kafka.Client{Addr: kafka.TCP(c.Seeds()...), Timeout: 20 * time.Second}
	ctx := ctxFor(t, 60*time.Second)
	resp, err := cl.AlterPartitionReassignments(ctx, &kafka.AlterPartitionReassignmentsRequest{
		Topic:       "kgo-move",
		Assignments: []kafka.AlterPartitionReassignmentsRequestAssignment{{PartitionID: 0, BrokerIDs: []int{2, 3}}},
	})
	if err != nil || resp.Error != nil || len(resp.PartitionResults) != 1 || resp.PartitionResults[0].Error != nil {
		t.Fatalf("alter: %v %+v", err, resp)
	}
	c.WaitFor("kafka-go lists no running reassignment", 30*time.Second, func() bool {
		ls, err := cl.ListPartitionReassignments(ctx, &kafka.ListPartitionReassignmentsRequest{
			Topics: map[string]kafka.ListPartitionReassignmentsRequestTopic{"kgo-move": {PartitionIndexes: []int{0}}}})
		if err != nil || ls.Error != nil {
			t.Fatalf("list: %v %+v", err, ls)
		}
		return len(ls.Topics["kgo-move"].Partitions) == 0
	})
	c.WaitFor("replicas [2 3], broker 1's copy gone, copies identical", 20*time.Second, func() bool {
		p := c.runningMeta().Topics["kgo-move"].Partitions[0]
		_, on1 := c.Broker(1).Srv.LocalReplica("kgo-move", 0)
		ok, _ := c.replicasIdentical("kgo-move", 0)
		return slices.Equal(p.Replicas, []int32{2, 3}) && !on1 && ok
	})
	if got := consumeAll(t, c, "kgo-move", 20); len(got) != 20 {
		t.Fatalf("read back %d records, want 20", len(got))
	}
	el, err := cl.ElectLeaders(ctx, &kafka.ElectLeadersRequest{Topic: "kgo-move", Partitions: []int{0}})
	if err != nil || el.Error != nil || len(el.PartitionResults) != 1 {
		t.Fatalf("elect: %v %+v", err, el)
	}
	// Completion already gave leadership to broker 2, the new preferred
	// replica: the election was not needed.
	if err := el.PartitionResults[0].Error; err == nil || !errors.Is(err, kafka.ElectionNotNeeded) {
		t.Fatalf("elect result %v, want ELECTION_NOT_NEEDED", err)
	}
}

// TestClusterDescribeLogDirs: kadm's DescribeAllLogDirs asks every broker;
// each reports its data directory with the replicas it hosts and their
// sizes.
func TestClusterDescribeLogDirs(t *testing.T) {
	c := New(t, 3)
	createAssigned(t, c, "sized", []int32{2, 3})
	produceN(t, c.Client(kgo.RequiredAcks(kgo.AllISRAcks())), "sized", 0, 50)
	adm := c.Admin()
	ctx := ctxFor(t, 30*time.Second)
	c.WaitFor("both copies the same size", 20*time.Second, func() bool {
		ok, _ := c.replicasIdentical("sized", 0)
		return ok
	})
	all, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[int32]int64{}
	for _, id := range []int32{1, 2, 3} {
		dirs, ok := all[id]
		if !ok || len(dirs) != 1 {
			t.Fatalf("broker %d: dirs %+v", id, dirs)
		}
		dirs.Each(func(d kadm.DescribedLogDir) {
			if d.Err != nil || d.Dir != c.Broker(id).Cfg.DataDir || d.TotalBytes <= 0 {
				t.Errorf("broker %d dir %+v, want %s", id, d, c.Broker(id).Cfg.DataDir)
			}
			if p, ok := d.Topics["sized"][0]; ok {
				sizes[id] = p.Size
				if p.OffsetLag != 0 {
					t.Errorf("broker %d: offset lag %d", id, p.OffsetLag)
				}
			}
		})
	}
	if _, on1 := sizes[1]; on1 || sizes[2] <= 0 || sizes[2] != sizes[3] {
		t.Fatalf("sizes of sized-0 per broker %v, want equal on 2 and 3 only", sizes)
	}
	one, err := adm.DescribeBrokerLogDirs(ctx, 2, kadm.TopicsSet{"sized": {0: {}}})
	if err != nil || one.Size() != sizes[2] {
		t.Fatalf("broker 2 on sized-0: %v size %d, want %d", err, one.Size(), sizes[2])
	}
}

// TestClusterDescribeTopicPartitionsPaging: DescribeTopicPartitions pages
// through every partition with its cursor, ResponsePartitionLimit at a time.
func TestClusterDescribeTopicPartitionsPaging(t *testing.T) {
	c := New(t, 3)
	adm := c.Admin()
	ctx := ctxFor(t, 30*time.Second)
	for name, n := range map[string]int32{"pa": 5, "pb": 2} {
		if r, err := adm.CreateTopic(ctx, n, 2, nil, name); err != nil || r.Err != nil {
			t.Fatalf("create %s: %v %v", name, err, r.Err)
		}
	}
	// Like Kafka's, the API answers from the broker's own metadata, which
	// follows the controller's commit: wait until every broker has both.
	c.WaitFor("every broker knows pa and pb", 15*time.Second, func() bool {
		for _, b := range c.Brokers {
			st := b.Srv.Metadata()
			if st.Topics["pa"] == nil || st.Topics["pb"] == nil {
				return false
			}
		}
		return true
	})
	cl := c.Client()
	var pages []string
	var cursor *kmsg.DescribeTopicPartitionsRequestCursor
	for range 10 {
		req := kmsg.NewPtrDescribeTopicPartitionsRequest()
		req.ResponsePartitionLimit = 3
		for _, n := range []string{"pa", "pb"} {
			rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
			rt.Topic = n
			req.Topics = append(req.Topics, rt)
		}
		req.Cursor = cursor
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		page := ""
		for _, rt := range resp.Topics {
			if rt.ErrorCode != 0 || len(rt.Partitions) == 0 {
				t.Fatalf("topic %v: error %d, %d partitions", rt.Topic, rt.ErrorCode, len(rt.Partitions))
			}
			for _, p := range rt.Partitions {
				if len(p.Replicas) != 2 || len(p.ISR) == 0 || p.LeaderID < 0 {
					t.Fatalf("%s-%d: %+v", *rt.Topic, p.Partition, p)
				}
				page += fmt.Sprintf("%s-%d ", *rt.Topic, p.Partition)
			}
		}
		pages = append(pages, page)
		if resp.NextCursor == nil {
			break
		}
		cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: resp.NextCursor.Topic, Partition: resp.NextCursor.Partition}
	}
	want := []string{"pa-0 pa-1 pa-2 ", "pa-3 pa-4 pb-0 ", "pb-1 "}
	if !slices.Equal(pages, want) {
		t.Fatalf("pages %q, want %q", pages, want)
	}
}

// TestClusterSaramaReassignElectLogDirs: sarama's ClusterAdmin calls for
// AlterPartitionReassignments, ListPartitionReassignments, ElectLeaders and
// DescribeLogDirs get real answers.
func TestClusterSaramaReassignElectLogDirs(t *testing.T) {
	c := New(t, 3)
	createAssigned(t, c, "sar", []int32{1, 2})
	produceN(t, c.Client(kgo.RequiredAcks(kgo.AllISRAcks())), "sar", 0, 10)
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	adm, err := sarama.NewClusterAdmin(c.Seeds(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = adm.Close() })
	if err := adm.AlterPartitionReassignments("sar", [][]int32{{2, 3}}); err != nil {
		t.Fatalf("alter: %v", err)
	}
	c.WaitFor("sarama lists no running reassignment", 30*time.Second, func() bool {
		st, err := adm.ListPartitionReassignments("sar", []int32{0})
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		return len(st["sar"]) == 0
	})
	c.WaitFor("replicas [2 3]", 10*time.Second, func() bool {
		return slices.Equal(c.runningMeta().Topics["sar"].Partitions[0].Replicas, []int32{2, 3})
	})
	res, err := adm.ElectLeaders(sarama.PreferredElection, map[string][]int32{"sar": {0}})
	if err != nil || res["sar"][0] == nil || !errors.Is(res["sar"][0].ErrorCode, sarama.ErrElectionNotNeeded) {
		t.Fatalf("elect: %v %+v", err, res)
	}
	dirs, err := adm.DescribeLogDirs([]int32{2, 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int32{2, 3} {
		found := false
		for _, d := range dirs[id] {
			for _, tp := range d.Topics {
				for _, p := range tp.Partitions {
					found = found || (tp.Topic == "sar" && p.PartitionID == 0 && p.Size > 0)
				}
			}
		}
		if !found {
			t.Errorf("broker %d: no size for sar-0 in %+v", id, dirs[id])
		}
	}
}
