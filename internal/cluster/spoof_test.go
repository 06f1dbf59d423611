package cluster

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/server"
	"github.com/strombroker/strom/wire"
)

// spoofFetch sends, from a plain client connection to addr, a Fetch that
// claims to come from replica id at fetchOffset, and returns the partition
// answer.
func spoofFetch(ctx context.Context, t *testing.T, addr, topic string, id int32, fetchOffset int64, leaderEpoch int32) kmsg.FetchResponseTopicPartition {
	t.Helper()
	fp, err := trySpoofFetch(ctx, addr, topic, id, fetchOffset, leaderEpoch)
	if err != nil {
		t.Fatalf("spoofed fetch to %s: %v", addr, err)
	}
	return fp
}

// followerFetch is one Fetch sent in a replica's name from a plain client
// connection: what a spoofer, a poser or a stale follower would send.
type followerFetch struct {
	version            int16
	topic              string
	topicID            [16]byte // v13+
	id                 int32
	brokerEpoch        int64 // ReplicaState.Epoch, v15+
	fetchOffset        int64
	currentLeaderEpoch int32
	lastFetchedEpoch   int32
}

// send dials addr, sends the fetch and returns the one partition answered.
func (f followerFetch) send(ctx context.Context, addr string) (kmsg.FetchResponseTopicPartition, error) {
	cl, err := wire.Dial(ctx, addr, "follower-fetch-test")
	if err != nil {
		return kmsg.FetchResponseTopicPartition{}, err
	}
	defer cl.Close()
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(f.version)
	req.ReplicaID, req.ReplicaState.ID, req.ReplicaState.Epoch = f.id, f.id, f.brokerEpoch
	req.MaxBytes, req.SessionEpoch = 1<<20, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = f.topic, f.topicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes = f.fetchOffset, 1<<20
	rp.CurrentLeaderEpoch, rp.LastFetchedEpoch = f.currentLeaderEpoch, f.lastFetchedEpoch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := cl.Request(ctx, req)
	if err != nil {
		return kmsg.FetchResponseTopicPartition{}, err
	}
	fr := resp.(*kmsg.FetchResponse)
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
		return kmsg.FetchResponseTopicPartition{}, fmt.Errorf("answer with %d topics", len(fr.Topics))
	}
	return fr.Topics[0].Partitions[0], nil
}

// trySpoofFetch is spoofFetch returning its error, for other goroutines: a
// v12 fetch (replica id, no broker epoch).
func trySpoofFetch(ctx context.Context, addr, topic string, id int32, fetchOffset int64, leaderEpoch int32) (kmsg.FetchResponseTopicPartition, error) {
	return followerFetch{version: 12, topic: topic, id: id, brokerEpoch: -1, fetchOffset: fetchOffset,
		currentLeaderEpoch: leaderEpoch, lastFetchedEpoch: -1}.send(ctx, addr)
}

// TestClusterSpoofedFollowerFetch: a client claiming a replica id that is not
// a live assigned replica (99, the leader's own id, a stopped and fenced
// follower) gets Kafka's error for an unknown follower (KAFKA-13837), no
// records, and moves nothing: the stopped follower does not come back into
// the ISR, and acks=all with min.insync.replicas=3 stays refused.
func TestClusterSpoofedFollowerFetch(t *testing.T) {
	c := New(t, 3, func(c *server.Config) { c.ReplicaLagTimeMax = time.Minute })
	ctx := ctxFor(t, 90*time.Second)
	if _, err := c.Admin().CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": kmsg.StringPtr("3")}, "spoof"); err != nil {
		t.Fatal(err)
	}
	prod := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()))
	produceN(t, prod, "spoof", 0, 10)
	leader := c.leaderOf("spoof", 0)
	addr := c.Broker(leader).Addr()
	info, _ := c.Broker(leader).Srv.LocalReplica("spoof", 0)

	for _, id := range []int32{99, leader} {
		fp := spoofFetch(ctx, t, addr, "spoof", id, info.LogEndOffset, -1)
		if fp.ErrorCode != kerr.NotLeaderForPartition.Code || len(fp.RecordBatches) != 0 {
			t.Fatalf("replica id %d, no epoch: error %d with %d record bytes, want NOT_LEADER_OR_FOLLOWER and none", id, fp.ErrorCode, len(fp.RecordBatches))
		}
		fp = spoofFetch(ctx, t, addr, "spoof", id, 0, info.LeaderEpoch)
		if fp.ErrorCode != kerr.UnknownLeaderEpoch.Code || len(fp.RecordBatches) != 0 {
			t.Fatalf("replica id %d, current epoch: error %d with %d record bytes, want UNKNOWN_LEADER_EPOCH and none", id, fp.ErrorCode, len(fp.RecordBatches))
		}
	}

	// Stop a follower; once it is fenced and out of the ISR, fetches in its
	// name must not bring it back, nor let acks=all through on two copies.
	var victim int32
	for _, id := range []int32{1, 2, 3} {
		if id != leader {
			victim = id
			break
		}
	}
	c.Stop(victim)
	// Wait for the leader's own metadata to see the follower fenced (these
	// v12 fetches carry no broker epoch and would be refused anyway;
	// TestClusterSpoofedLiveFollowerFetch covers a live follower).
	c.WaitFor("the leader to see the stopped follower fenced and out of the ISR", 20*time.Second, func() bool {
		st := c.Broker(leader).Srv.Metadata()
		t := st.Topics["spoof"]
		return st.Brokers[victim].Fenced && t != nil && !slices.Contains(t.Partitions[0].ISR, victim)
	})
	stop := make(chan struct{})
	spoofed := make(chan int16, 1024)
	go func() {
		defer close(spoofed)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			info, _ := c.Broker(leader).Srv.LocalReplica("spoof", 0)
			fp, err := trySpoofFetch(ctx, addr, "spoof", victim, info.LogEndOffset, -1)
			if err != nil {
				continue
			}
			select {
			case spoofed <- fp.ErrorCode:
			default:
			}
		}
	}()
	err := tryProduce(ctx, c, "spoof")
	time.Sleep(time.Second)
	isr := c.isrOf("spoof", 0)
	close(stop)
	if err == nil {
		t.Fatal("acks=all with min.insync.replicas=3 succeeded with one of three replicas stopped")
	}
	if slices.Contains(isr, victim) {
		t.Fatalf("stopped follower %d back in the ISR %v through spoofed fetches", victim, isr)
	}
	for code := range spoofed {
		if code != kerr.NotLeaderForPartition.Code {
			t.Fatalf("fetch in the stopped follower's name answered error %d, want NOT_LEADER_OR_FOLLOWER", code)
		}
	}
}

// TestClusterFollowerFetchOnlyOnInterBrokerListener: with a separate
// inter-broker listener, a client on the client listener claiming a live
// follower's id is refused (TOPIC_AUTHORIZATION_FAILED, Kafka's answer to a
// follower fetch without ClusterAction) while replication carries on. On a
// single listener the broker epoch tells it apart instead
// (TestClusterSpoofedLiveFollowerFetch).
func TestClusterFollowerFetchOnlyOnInterBrokerListener(t *testing.T) {
	c := New(t, 3, func(cfg *server.Config) {
		cfg.Listeners = append(cfg.Listeners, server.Listener{Name: "INTERNAL", Host: "127.0.0.1", Port: freePort(t)})
		cfg.InterBrokerListenerName = "INTERNAL"
	})
	ctx := ctxFor(t, 60*time.Second)
	if _, err := c.Admin().CreateTopic(ctx, 1, 3, nil, "ib"); err != nil {
		t.Fatal(err)
	}
	prod := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()))
	produceN(t, prod, "ib", 0, 20)
	leader := c.leaderOf("ib", 0)
	follower := leader%3 + 1
	info, _ := c.Broker(leader).Srv.LocalReplica("ib", 0)
	fp := spoofFetch(ctx, t, c.Broker(leader).Addr(), "ib", follower, info.LogEndOffset, -1)
	if fp.ErrorCode != kerr.TopicAuthorizationFailed.Code || len(fp.RecordBatches) != 0 {
		t.Fatalf("follower fetch on the client listener: error %d, %d record bytes; want TOPIC_AUTHORIZATION_FAILED", fp.ErrorCode, len(fp.RecordBatches))
	}
	c.WaitFor("replicas identical over the inter-broker listener", 15*time.Second, func() bool {
		ok, _ := c.replicasIdentical("ib", 0)
		return ok && len(c.isrOf("ib", 0)) == 3
	})
}
