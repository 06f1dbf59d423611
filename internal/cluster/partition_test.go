package cluster

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/internal/netfault"
)

// clientNode is the network pseudo node of clients a test partitions.
const clientNode int32 = 100

// leaderSeenBy is the leader of topic/partition in broker id's metadata.
func (c *Cluster) leaderSeenBy(id int32, topic string, p int32) int32 {
	if t := c.Broker(id).Srv.Metadata().Topics[topic]; t != nil && int(p) < len(t.Partitions) {
		return t.Partitions[p].Leader
	}
	return -1
}

// preferredLeads reports whether every broker sees the first replica of
// topic/partition as its leader, and that broker acts as leader.
func (c *Cluster) preferredLeads(topic string, p int32) bool {
	var pref int32 = -1
	for _, b := range c.Brokers {
		t := b.Srv.Metadata().Topics[topic]
		if t == nil || int(p) >= len(t.Partitions) || len(t.Partitions[p].Replicas) == 0 {
			return false
		}
		pp := t.Partitions[p]
		if pref = pp.Replicas[0]; pp.Leader != pref {
			return false
		}
	}
	info, ok := c.Broker(pref).Srv.LocalReplica(topic, p)
	return ok && info.Leader
}

// others lists the broker ids but id.
func (c *Cluster) others(id int32) []int32 {
	var out []int32
	for _, b := range c.Brokers {
		if b.ID != id {
			out = append(out, b.ID)
		}
	}
	return out
}

// controllers lists the brokers that think they are the controller.
func (c *Cluster) controllers() []int32 {
	var out []int32
	for _, b := range c.Brokers {
		if b.Srv != nil && b.Srv.IsController() {
			out = append(out, b.ID)
		}
	}
	return out
}

// The leader of an RF3 partition is cut off from the other two brokers but
// not from clients. The majority elects a new leader; acks=all writes to
// the old leader land in its log but are never acknowledged, writes go on
// through the new leader; after the heal the old leader truncates its
// divergent tail and all three logs end identical.
func TestClusterPartitionIsolatedLeader(t *testing.T) {
	c := New(t, 3)
	createTopic(t, c.Admin(), 1, 3, "split")
	prod := c.ClientAt(clientNode, kgo.RequiredAcks(kgo.AllISRAcks()))
	produceN(t, prod, "split", 0, 20)
	// Isolate a leader that leader rebalancing will not move meanwhile.
	c.WaitFor("three identical replicas in sync, led by the preferred replica", 30*time.Second, func() bool {
		ok, _ := c.replicasIdentical("split", 0)
		return ok && len(c.isrOf("split", 0)) == 3 && c.preferredLeads("split", 0)
	})
	old := c.leaderOf("split", 0)
	majority := c.others(old)
	c.Isolate(old)
	// The producer stands for clients that follow the majority's metadata.
	c.Net.Cut(netfault.Refuse, []int32{old}, []int32{clientNode})

	// Written to the old leader's log, never acknowledged.
	for range 2 {
		switch code := rawProduce(t, c, old, "split"); code {
		case kerr.RequestTimedOut.Code, kerr.NotEnoughReplicas.Code, kerr.NotEnoughReplicasAfterAppend.Code, kerr.NotLeaderForPartition.Code:
		default:
			t.Fatalf("acks=all produce to the isolated leader: error code %d, want it refused or timed out", code)
		}
	}
	c.WaitFor("a new leader elected by the majority", 30*time.Second, func() bool {
		for _, id := range majority {
			if l := c.leaderSeenBy(id, "split", 0); l < 0 || l == old {
				return false
			}
		}
		return true
	})
	if info, _ := c.Broker(old).Srv.LocalReplica("split", 0); info.LogEndOffset <= 20 {
		t.Fatalf("isolated leader's log ends at %d: the unacknowledged writes are not in it", info.LogEndOffset)
	}
	produceN(t, prod, "split", 20, 20)

	c.Heal()
	c.WaitFor("the old leader following, all three in sync and identical", 60*time.Second, func() bool {
		if c.leaderSeenBy(old, "split", 0) < 0 || !slices.Equal(sorted(c.isrOf("split", 0)), []int32{1, 2, 3}) {
			return false
		}
		ok, _ := c.replicasIdentical("split", 0)
		return ok
	})
	var ends []int64
	for _, b := range c.Brokers {
		info, _ := b.Srv.LocalReplica("split", 0)
		ends = append(ends, info.LogEndOffset)
	}
	if ends[0] != 40 || ends[1] != 40 || ends[2] != 40 {
		t.Fatalf("log end offsets %v, want 40 on every replica", ends)
	}
	got := consumeAll(t, c, "split", 40)
	for i, v := range got {
		if v != fmt.Sprint(i) {
			t.Fatalf("record %d = %q: the divergent tail survived or a write was lost (%q)", i, v, got)
		}
	}
}

// createTopic creates a topic, accepting TOPIC_ALREADY_EXISTS: the admin
// client retries a request whose answer was lost, and its first attempt may
// have succeeded.
func createTopic(t *testing.T, adm *kadm.Client, partitions int32, rf int16, topic string) {
	t.Helper()
	resp, err := adm.CreateTopic(ctxFor(t, 30*time.Second), partitions, rf, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

func sorted(ids []int32) []int32 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// The Raft controller is cut off from the other brokers: the majority
// elects a new controller that serves metadata writes, the old one steps
// down, and after the heal every broker agrees again.
func TestClusterPartitionIsolatedController(t *testing.T) {
	c := New(t, 3)
	var ctrl int32 = -1
	c.WaitFor("one controller", 30*time.Second, func() bool {
		cs := c.controllers()
		if len(cs) == 1 {
			ctrl = cs[0]
		}
		return len(cs) == 1
	})
	c.Isolate(ctrl)
	c.Net.Cut(netfault.Refuse, []int32{ctrl}, []int32{clientNode})
	c.WaitFor("a new controller among the majority, the old one stepped down", 30*time.Second, func() bool {
		cs := c.controllers()
		return len(cs) == 1 && cs[0] != ctrl
	})
	// The new controller takes metadata writes (the old one cannot: it
	// has no quorum).
	createTopic(t, kadm.NewClient(c.ClientAt(clientNode)), 1, 2, "during-split")

	c.Heal()
	c.WaitFor("one controller, every broker unfenced and seeing the new topic", 60*time.Second, func() bool {
		cs := c.controllers()
		if len(cs) != 1 {
			return false
		}
		st := c.Broker(cs[0]).Srv.Metadata()
		for _, b := range c.Brokers {
			if reg, ok := st.Brokers[b.ID]; !ok || reg.Fenced || b.Srv.Metadata().Topics["during-split"] == nil {
				return false
			}
		}
		return true
	})
}
