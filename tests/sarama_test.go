package tests

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestInteropSaramaProduceGroupAdmin drives sarama at protocol version 2.8:
// ClusterAdmin creates and lists a topic, a SyncProducer with acks=all
// produces, and a ConsumerGroup reads everything and commits.
func TestInteropSaramaProduceGroupAdmin(t *testing.T) {
	saramaRoundTrip(t, sarama.V2_8_0_0)
}

// TestInteropSaramaOldVersion is the same with sarama pinned to Kafka 0.11,
// which makes it use the oldest request versions the broker still accepts
// (Produce v3, record batch v2) and old group protocol versions.
func TestInteropSaramaOldVersion(t *testing.T) {
	saramaRoundTrip(t, sarama.V0_11_0_0)
}

func saramaRoundTrip(t *testing.T, version sarama.KafkaVersion) {
	t.Helper()
	b := startBroker(t)
	const topic, group, n = "sarama-topic", "sarama-group", 40
	addrs := []string{b.Addr()}
	cfg := sarama.NewConfig()
	cfg.Version = version
	cfg.ClientID = "strom-interop"
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest

	admin, err := sarama.NewClusterAdmin(addrs, cfg)
	if err != nil {
		t.Fatalf("sarama %s: cluster admin: %v", version, err)
	}
	t.Cleanup(func() { admin.Close() })
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("sarama %s: create topic: %v", version, err)
	}
	var topics map[string]sarama.TopicDetail
	waitFor(t, 20*time.Second, "topic listed by ClusterAdmin.ListTopics", func() error {
		var err error
		if topics, err = admin.ListTopics(); err != nil {
			return err
		}
		if _, ok := topics[topic]; !ok {
			return fmt.Errorf("%s not among %d topics", topic, len(topics))
		}
		return nil
	})
	if d := topics[topic]; d.NumPartitions != 2 {
		t.Errorf("ListTopics: %s has %d partitions, want 2", topic, d.NumPartitions)
	}

	producer, err := sarama.NewSyncProducer(addrs, cfg)
	if err != nil {
		t.Fatalf("sarama %s: sync producer: %v", version, err)
	}
	ends := map[int32]int64{}
	for i := range n {
		p, off, err := producer.SendMessage(&sarama.ProducerMessage{
			Topic: topic,
			Key:   sarama.StringEncoder(fmt.Sprintf("k%d", i)),
			Value: sarama.StringEncoder(fmt.Sprintf("v%d", i)),
		})
		if err != nil {
			t.Fatalf("sarama %s: send %d: %v", version, i, err)
		}
		if off != ends[p] {
			t.Fatalf("sarama %s: send %d: offset %d in partition %d, want %d", version, i, off, p, ends[p])
		}
		ends[p] = off + 1
	}
	if err := producer.Close(); err != nil {
		t.Errorf("close producer: %v", err)
	}

	cg, err := sarama.NewConsumerGroup(addrs, group, cfg)
	if err != nil {
		t.Fatalf("sarama %s: consumer group: %v", version, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := &saramaHandler{want: n, done: cancel, seen: map[string]int{}}
	for ctx.Err() == nil {
		if err := cg.Consume(ctx, []string{topic}, h); err != nil && ctx.Err() == nil {
			t.Fatalf("sarama %s: consume: %v", version, err)
		}
	}
	if err := cg.Close(); err != nil {
		t.Errorf("close consumer group: %v", err)
	}
	h.mu.Lock()
	got, dups := len(h.seen), h.dups
	h.mu.Unlock()
	if got != n || dups != 0 {
		t.Fatalf("sarama %s: consumer group read %d distinct records (%d duplicates), want %d", version, got, dups, n)
	}

	parts := []int32{}
	for p := range ends {
		parts = append(parts, p)
	}
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	if err != nil {
		t.Fatalf("sarama %s: list group offsets: %v", version, err)
	}
	for p, end := range ends {
		blk := resp.GetBlock(topic, p)
		if blk == nil || !errors.Is(blk.Err, sarama.ErrNoError) || blk.Offset != end {
			t.Errorf("sarama %s: committed offset of %s/%d: %+v, want %d", version, topic, p, blk, end)
		}
	}
}

// saramaHandler collects records in a sarama consumer group session. Its
// ConsumeClaim runs in one goroutine per partition, so state is locked.
type saramaHandler struct {
	want int
	done context.CancelFunc

	mu   sync.Mutex
	seen map[string]int // key -> times read
	dups int
}

func (h *saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *saramaHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			// Mark before counting, so that when the count is complete every
			// record is marked and one Commit covers all partitions.
			sess.MarkMessage(msg, "")
			h.mu.Lock()
			k := string(msg.Key)
			h.seen[k]++
			if h.seen[k] > 1 {
				h.dups++
			}
			complete := len(h.seen) >= h.want
			h.mu.Unlock()
			if complete {
				sess.Commit()
				h.done()
			}
		case <-sess.Context().Done():
			return nil
		}
	}
}
