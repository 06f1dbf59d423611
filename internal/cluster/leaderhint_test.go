package cluster

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

// oneRecordProduce is an acks=all Produce of one record to topic/0.
func oneRecordProduce(topic string, version int16) *kmsg.ProduceRequest {
	now := time.Now().UnixMilli()
	rec := kmsg.Record{Value: []byte("x")}
	rec.Length = int32(len(rec.AppendTo(nil)) - 1)
	b := kmsg.RecordBatch{Magic: 2, FirstTimestamp: now, MaxTimestamp: now, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 1, Records: rec.AppendTo(nil)}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	req := kmsg.NewPtrProduceRequest()
	req.Version = version
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = raw
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// consumerFetch is a consumer's (replica id -1) Fetch v16 of topic/0 from
// offset 0, at the client's idea of the leader epoch (-1: none).
func consumerFetch(topicID [16]byte, leaderEpoch int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(16)
	req.ReplicaID, req.ReplicaState.ID = -1, -1
	req.MaxBytes, req.SessionEpoch = 1<<20, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = topicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LastFetchedEpoch = 1<<20, leaderEpoch, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// rawRequest sends req to addr on a fresh connection.
func rawRequest(ctx context.Context, t *testing.T, addr string, req kmsg.Request) kmsg.Response {
	t.Helper()
	cl, err := wire.Dial(ctx, addr, "leader-hint-test")
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer cl.Close()
	resp, err := cl.Request(ctx, req)
	if err != nil {
		t.Fatalf("%s to %s: %v", kmsg.NameForKey(req.Key()), addr, err)
	}
	return resp
}

// hintEndpoint returns the address the hint's endpoints give for node id.
func hintEndpoint(t *testing.T, id int32, nodes []struct {
	id   int32
	addr string
}) string {
	t.Helper()
	for _, n := range nodes {
		if n.id == id {
			return n.addr
		}
	}
	t.Fatalf("NodeEndpoints %v do not list the leader %d", nodes, id)
	return ""
}

// TestClusterLeaderHint (KIP-951): a Produce v10 and a Fetch v16 sent to a
// broker that does not lead the partition are answered
// NOT_LEADER_OR_FOLLOWER naming the real leader and its epoch, with that
// leader's endpoint, at which the same produce and fetch then succeed; a
// Produce v9, which has no such fields, gets none.
func TestClusterLeaderHint(t *testing.T) {
	c := New(t, 3)
	const topic = "hint"
	createAssigned(t, c, topic, []int32{1, 2, 3})
	var leader, epoch int32
	var topicID [16]byte
	c.WaitFor("broker 1 leading with a full ISR seen by every broker", 20*time.Second, func() bool {
		for _, b := range c.Brokers {
			p := b.Srv.Metadata().Topics[topic]
			if p == nil || p.Partitions[0].Leader != 1 || len(p.Partitions[0].ISR) != 3 {
				return false
			}
			leader, epoch, topicID = p.Partitions[0].Leader, p.Partitions[0].LeaderEpoch, p.ID
		}
		info, ok := c.Broker(1).Srv.LocalReplica(topic, 0)
		return ok && info.Leader
	})
	ctx := ctxFor(t, 30*time.Second)
	type node = struct {
		id   int32
		addr string
	}
	produceNodes := func(r *kmsg.ProduceResponse) (out []node) {
		for _, b := range r.Brokers {
			out = append(out, node{b.NodeID, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))})
		}
		return out
	}
	fetchNodes := func(r *kmsg.FetchResponse) (out []node) {
		for _, b := range r.Brokers {
			out = append(out, node{b.NodeID, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))})
		}
		return out
	}

	for _, other := range []int32{2, 3} {
		addr := c.Broker(other).Addr()

		pr := rawRequest(ctx, t, addr, oneRecordProduce(topic, 10)).(*kmsg.ProduceResponse)
		pp := pr.Topics[0].Partitions[0]
		if pp.ErrorCode != kerr.NotLeaderForPartition.Code {
			t.Fatalf("produce v10 to broker %d: %v, want NOT_LEADER_OR_FOLLOWER", other, kerr.ErrorForCode(pp.ErrorCode))
		}
		if pp.CurrentLeader.LeaderID != leader || pp.CurrentLeader.LeaderEpoch != epoch {
			t.Fatalf("produce v10 to broker %d: CurrentLeader %d@%d, want %d@%d", other, pp.CurrentLeader.LeaderID, pp.CurrentLeader.LeaderEpoch, leader, epoch)
		}
		at := hintEndpoint(t, leader, produceNodes(pr))
		if at != c.Broker(leader).Addr() {
			t.Fatalf("produce v10 to broker %d: leader endpoint %s, want %s", other, at, c.Broker(leader).Addr())
		}
		if len(pr.Brokers) != 1 {
			t.Errorf("produce v10 to broker %d: NodeEndpoints %v, want the leader only", other, produceNodes(pr))
		}
		pr = rawRequest(ctx, t, at, oneRecordProduce(topic, 10)).(*kmsg.ProduceResponse)
		if code := pr.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("produce v10 at the hinted leader %s: %v", at, kerr.ErrorForCode(code))
		}

		fr := rawRequest(ctx, t, addr, consumerFetch(topicID, epoch)).(*kmsg.FetchResponse)
		fp := fr.Topics[0].Partitions[0]
		if fp.ErrorCode != kerr.NotLeaderForPartition.Code {
			t.Fatalf("fetch v16 to broker %d: %v, want NOT_LEADER_OR_FOLLOWER", other, kerr.ErrorForCode(fp.ErrorCode))
		}
		if fp.CurrentLeader.LeaderID != leader || fp.CurrentLeader.LeaderEpoch != epoch {
			t.Fatalf("fetch v16 to broker %d: CurrentLeader %d@%d, want %d@%d", other, fp.CurrentLeader.LeaderID, fp.CurrentLeader.LeaderEpoch, leader, epoch)
		}
		at = hintEndpoint(t, leader, fetchNodes(fr))
		if at != c.Broker(leader).Addr() {
			t.Fatalf("fetch v16 to broker %d: leader endpoint %s, want %s", other, at, c.Broker(leader).Addr())
		}
		fr = rawRequest(ctx, t, at, consumerFetch(topicID, epoch)).(*kmsg.FetchResponse)
		if fp := fr.Topics[0].Partitions[0]; fp.ErrorCode != 0 || len(fp.RecordBatches) == 0 {
			t.Fatalf("fetch v16 at the hinted leader %s: %v, %d bytes of records", at, kerr.ErrorForCode(fp.ErrorCode), len(fp.RecordBatches))
		}

		pr = rawRequest(ctx, t, addr, oneRecordProduce(topic, 9)).(*kmsg.ProduceResponse)
		pp = pr.Topics[0].Partitions[0]
		if pp.ErrorCode != kerr.NotLeaderForPartition.Code || len(pr.Brokers) != 0 || pp.CurrentLeader.LeaderID != -1 {
			t.Fatalf("produce v9 to broker %d: %v, CurrentLeader %d, NodeEndpoints %v; want NOT_LEADER_OR_FOLLOWER without hints",
				other, kerr.ErrorForCode(pp.ErrorCode), pp.CurrentLeader.LeaderID, produceNodes(pr))
		}
	}
}

// checkFencedHint: a Fetch v16 to the leader of topic/0 at an epoch below
// its current one is FENCED_LEADER_EPOCH naming the leader and its endpoint.
func checkFencedHint(ctx context.Context, t *testing.T, c *Cluster, topic string, leader, epoch int32) {
	t.Helper()
	if epoch < 1 {
		t.Fatalf("leader epoch %d: no older epoch to fetch at", epoch)
	}
	topicID := c.Broker(leader).Srv.Metadata().Topics[topic].ID
	fr := rawRequest(ctx, t, c.Broker(leader).Addr(), consumerFetch(topicID, epoch-1)).(*kmsg.FetchResponse)
	fp := fr.Topics[0].Partitions[0]
	if fp.ErrorCode != kerr.FencedLeaderEpoch.Code || fp.CurrentLeader.LeaderID != leader || fp.CurrentLeader.LeaderEpoch != epoch {
		t.Fatalf("fetch v16 at epoch %d to the leader: %v, CurrentLeader %d@%d; want FENCED_LEADER_EPOCH naming %d@%d",
			epoch-1, kerr.ErrorForCode(fp.ErrorCode), fp.CurrentLeader.LeaderID, fp.CurrentLeader.LeaderEpoch, leader, epoch)
	}
	if len(fr.Brokers) != 1 || fr.Brokers[0].NodeID != leader ||
		net.JoinHostPort(fr.Brokers[0].Host, strconv.Itoa(int(fr.Brokers[0].Port))) != c.Broker(leader).Addr() {
		t.Fatalf("fenced fetch: NodeEndpoints %+v, want broker %d at %s", fr.Brokers, leader, c.Broker(leader).Addr())
	}
}

// requestCounter is a kgo hook counting the requests written to brokers, by
// key and by (key, broker).
type requestCounter struct {
	mu     sync.Mutex
	byKey  map[int16]int
	byNode map[[2]int32]int
}

func (h *requestCounter) OnBrokerWrite(meta kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.byKey == nil {
		h.byKey, h.byNode = map[int16]int{}, map[[2]int32]int{}
	}
	h.byKey[key]++
	h.byNode[[2]int32{int32(key), meta.NodeID}]++
}

// reset zeroes the counts and returns the ones before.
func (h *requestCounter) reset() (byKey map[int16]int, byNode map[[2]int32]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	byKey, byNode = h.byKey, h.byNode
	h.byKey, h.byNode = map[int16]int{}, map[[2]int32]int{}
	return byKey, byNode
}

// waitLeaderEverywhere waits until every running broker's metadata names
// want as the leader of topic/0, and want acts as leader; it returns the
// leader epoch.
func (c *Cluster) waitLeaderEverywhere(topic string, want int32, full bool) int32 {
	var epoch int32
	c.WaitFor("broker "+strconv.Itoa(int(want))+" leading topic "+topic+" in every broker's metadata", 30*time.Second, func() bool {
		for _, b := range c.Brokers {
			if b.Srv == nil {
				continue
			}
			var p *raftmeta.Partition
			if t := b.Srv.Metadata().Topics[topic]; t != nil {
				p = &t.Partitions[0]
			}
			if p == nil || p.Leader != want || (full && len(p.ISR) != len(p.Replicas)) {
				return false
			}
			epoch = p.LeaderEpoch
		}
		info, ok := c.Broker(want).Srv.LocalReplica(topic, 0)
		return ok && info.Leader
	})
	return epoch
}

// TestClusterLeaderHintMovesFranzGo: a franz-go producer (metadata refresh
// only every hour, so only an error could make it ask) whose partition's
// leadership moved while the old leader stays up follows the KIP-951 hint
// of the old leader's NOT_LEADER_OR_FOLLOWER to the new leader and has its
// record acknowledged there without a single Metadata request. A fetch at
// the epoch before is then FENCED_LEADER_EPOCH with the same hint.
func TestClusterLeaderHintMovesFranzGo(t *testing.T) {
	c := New(t, 3)
	const topic = "hint-move"
	createAssigned(t, c, topic, []int32{1, 2, 3})
	c.waitLeaderEverywhere(topic, 1, true)

	// Broker 1 leaves; 2 or 3 takes over; a fresh client learns that.
	c.Stop(1)
	c.WaitFor("a new leader", 20*time.Second, func() bool {
		l := c.leaderSeenBy(2, topic, 0)
		return l == 2 || l == 3
	})
	interim := c.leaderSeenBy(2, topic, 0)
	c.waitLeaderEverywhere(topic, interim, false)
	hook := &requestCounter{}
	cl := c.Client(kgo.WithHooks(hook), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MetadataMaxAge(time.Hour),
		kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := ctxFor(t, 60*time.Second)
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatalf("produce to broker %d: %v", interim, err)
	}
	if _, byNode := hook.reset(); byNode[[2]int32{0, interim}] == 0 {
		t.Fatalf("first produce not written to leader %d: %v", interim, byNode)
	}

	// Broker 1 returns and, as preferred replica, takes leadership back;
	// the interim leader stays up and now answers NOT_LEADER_OR_FOLLOWER.
	c.Restart(1)
	epoch := c.waitLeaderEverywhere(topic, 1, true)
	hook.reset()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatalf("produce after the leader moved back to broker 1: %v", err)
	}
	byKey, byNode := hook.reset()
	if byNode[[2]int32{0, interim}] == 0 || byNode[[2]int32{0, 1}] == 0 {
		t.Errorf("produce requests by (key, broker) %v: want the old leader %d asked first, then broker 1", byNode, interim)
	}
	if n := byKey[3]; n != 0 {
		t.Errorf("client sent %d Metadata requests to find the new leader; want none (KIP-951 hint)", n)
	}
	checkFencedHint(ctx, t, c, topic, 1, epoch)
}
