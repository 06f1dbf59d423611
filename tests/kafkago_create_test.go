package tests

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestInteropKafkaGoCreateThenUse: with segmentio/kafka-go, a topic is usable
// the moment CreateTopics answers, on any broker, with no retry loop: Conn's
// ReadPartitions on another broker, then Client.Produce and Client.Fetch
// (one kafka.Client, whose transport caches metadata for seconds, so one
// stale answer would stick), while 8 goroutines keep creating and deleting
// other topics. On 1 and on 3 brokers.
func TestInteropKafkaGoCreateThenUse(t *testing.T) {
	t.Run("1-broker", func(t *testing.T) {
		b := startBroker(t)
		kafkaGoCreateThenUse(t, []string{b.Addr()}, 1)
	})
	t.Run("3-brokers", func(t *testing.T) {
		c := startCluster(t, 3)
		defer c.stopAll()
		kafkaGoCreateThenUse(t, c.addrs(), 3)
	})
}

func kafkaGoCreateThenUse(t *testing.T, addrs []string, rf int) {
	ctx := testCtx(t, 2*time.Minute)
	conns := make([]*kafka.Conn, len(addrs))
	for i, a := range addrs {
		conn, err := kafka.DialContext(ctx, "tcp", a)
		if err != nil {
			t.Fatalf("kafka-go dial %s: %v", a, err)
		}
		t.Cleanup(func() { conn.Close() })
		conns[i] = conn
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var churnMu sync.Mutex
	var churnErrs []error
	for g := range 8 {
		wg.Go(func() {
			conn, err := kafka.DialContext(ctx, "tcp", addrs[g%len(addrs)])
			if err != nil {
				churnMu.Lock()
				churnErrs = append(churnErrs, err)
				churnMu.Unlock()
				return
			}
			defer conn.Close()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("churn-%d-%d", g, i)
				// Background load only. A write forwarded to the controller
				// that is retried across a controller election may report
				// what its first attempt did (raftmeta's "Ambiguity"): the
				// topic exists, or is already gone. Those are tolerated.
				if err := conn.CreateTopics(kafka.TopicConfig{Topic: name, NumPartitions: 2, ReplicationFactor: rf}); err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
					churnMu.Lock()
					churnErrs = append(churnErrs, fmt.Errorf("create %s: %w", name, err))
					churnMu.Unlock()
					return
				}
				if err := conn.DeleteTopics(name); err != nil && !errors.Is(err, kafka.UnknownTopicOrPartition) {
					churnMu.Lock()
					churnErrs = append(churnErrs, fmt.Errorf("delete %s: %w", name, err))
					churnMu.Unlock()
					return
				}
			}
		})
	}
	defer func() {
		close(stop)
		wg.Wait()
		for _, err := range churnErrs {
			t.Errorf("churn: %v", err)
		}
	}()

	// Odd topics are created through the shared kafka.Client (its transport
	// then refreshes its metadata cache until the topic shows), even ones
	// through a kafka.Conn and used through a new Client, whose first
	// metadata request is what the cache keeps for 6 s.
	shared := newKafkaGoClient(t, addrs)
	for k := range 12 {
		topic := fmt.Sprintf("use-%d", k)
		creator, reader := conns[k%len(conns)], conns[(k+1)%len(conns)]
		client := shared
		if k%2 == 0 {
			err := creator.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: 1, ReplicationFactor: rf})
			if errors.Is(err, kafka.TopicAlreadyExists) {
				t.Logf("Conn.CreateTopics(%s): %v (a retried forward across a controller election)", topic, err)
				err = nil
			}
			if err != nil {
				t.Fatalf("Conn.CreateTopics(%s): %v", topic, err)
			}
			client = newKafkaGoClient(t, addrs)
		} else {
			res, err := shared.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: rf}}})
			if err == nil {
				err = res.Errors[topic]
			}
			if errors.Is(err, kafka.TopicAlreadyExists) {
				// Only this call creates the name: the controller changed
				// mid-call and the forwarded retry found its own topic.
				t.Logf("Client.CreateTopics(%s): %v (a retried forward across a controller election)", topic, err)
				err = nil
			}
			if err != nil {
				t.Fatalf("Client.CreateTopics(%s): %v", topic, err)
			}
		}
		parts, err := reader.ReadPartitions(topic)
		if err != nil || len(parts) != 1 || parts[0].Leader.ID <= 0 {
			t.Fatalf("ReadPartitions(%s) right after CreateTopics, on another broker: %+v, %v", topic, parts, err)
		}
		kafkaGoProduceFetch(ctx, t, client, topic, fmt.Sprintf("v-%d", k))
	}
}

// newKafkaGoClient is a kafka.Client with a transport of its own (the default
// one is shared by every Client of the process), closed at test end.
func newKafkaGoClient(t *testing.T, addrs []string) *kafka.Client {
	tr := &kafka.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &kafka.Client{Addr: kafka.TCP(addrs...), Timeout: 20 * time.Second, Transport: tr}
}

// kafkaGoProduceFetch produces value to topic/0 and fetches it back, each
// call once, no retries.
func kafkaGoProduceFetch(ctx context.Context, t *testing.T, client *kafka.Client, topic, value string) {
	t.Helper()
	pres, err := client.Produce(ctx, &kafka.ProduceRequest{Topic: topic, Partition: 0, RequiredAcks: kafka.RequireAll,
		Records: kafka.NewRecordReader(kafka.Record{Value: kafka.NewBytes([]byte(value))})})
	if err != nil || pres.Error != nil {
		t.Fatalf("Client.Produce to %s right after CreateTopics: %v, %v", topic, err, errOf(pres))
	}
	fres, err := client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: 0, Offset: 0, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 2 * time.Second})
	if err != nil || fres.Error != nil {
		t.Fatalf("Client.Fetch from %s right after CreateTopics: %v, %v", topic, err, fetchErrOf(fres))
	}
	rec, err := fres.Records.ReadRecord()
	if err != nil {
		t.Fatalf("Client.Fetch from %s: no record: %v", topic, err)
	}
	got, _ := io.ReadAll(rec.Value)
	if string(got) != value {
		t.Fatalf("Client.Fetch from %s: %q, want %q", topic, got, value)
	}
}

func errOf(r *kafka.ProduceResponse) error {
	if r == nil {
		return nil
	}
	return r.Error
}

func fetchErrOf(r *kafka.FetchResponse) error {
	if r == nil {
		return nil
	}
	return r.Error
}
