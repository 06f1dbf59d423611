package tests

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestInteropKafkaGoConnWriterReader uses segmentio/kafka-go the way its
// README does: kafka.Conn creates a topic on the controller and reads its
// partitions, a Writer produces with RequiredAcks=all, and a Reader with a
// GroupID consumes (committing as it reads). kadm checks the commits.
func TestInteropKafkaGoConnWriterReader(t *testing.T) {
	b := startBroker(t)
	const topic, group, n = "kafka-go", "kafka-go-readers", 30
	ctx := testCtx(t, 90*time.Second)

	conn, err := kafka.DialContext(ctx, "tcp", b.Addr())
	if err != nil {
		t.Fatalf("kafka-go dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	ctrl, err := conn.Controller()
	if err != nil {
		t.Fatalf("kafka-go controller: %v", err)
	}
	if ctrl.ID != 1 || net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)) != b.Addr() {
		t.Errorf("controller is %+v, want broker 1 at %s", ctrl, b.Addr())
	}
	cconn, err := kafka.DialContext(ctx, "tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
	if err != nil {
		t.Fatalf("kafka-go dial controller: %v", err)
	}
	t.Cleanup(func() { cconn.Close() })
	if err := cconn.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: 3, ReplicationFactor: 1}); err != nil {
		t.Fatalf("kafka-go create topic: %v", err)
	}
	waitFor(t, 20*time.Second, "3 partitions from ReadPartitions", func() error {
		parts, err := conn.ReadPartitions(topic)
		if err != nil {
			return err
		}
		if len(parts) != 3 {
			return fmt.Errorf("%d partitions: %+v", len(parts), parts)
		}
		for _, p := range parts {
			if p.Leader.ID != 1 {
				return fmt.Errorf("partition %d led by %d", p.ID, p.Leader.ID)
			}
		}
		return nil
	})

	w := &kafka.Writer{
		Addr:         kafka.TCP(b.Addr()),
		Topic:        topic,
		RequiredAcks: kafka.RequireAll,
		Balancer:     &kafka.Hash{},
		BatchTimeout: 10 * time.Millisecond,
	}
	var msgs []kafka.Message
	for i := range n {
		msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("kafka-go write: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("kafka-go writer close: %v", err)
	}

	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:     []string{b.Addr()},
		GroupID:     group,
		Topic:       topic,
		StartOffset: kafka.FirstOffset,
		MaxWait:     200 * time.Millisecond,
	})
	seen := map[string]bool{}
	ends := map[int]int64{}
	for len(seen) < n {
		m, err := r.ReadMessage(ctx) // commits synchronously with a GroupID
		if err != nil {
			r.Close()
			t.Fatalf("kafka-go read after %d records: %v", len(seen), err)
		}
		k := string(m.Key)
		if seen[k] {
			t.Errorf("record %s read twice", k)
		}
		seen[k] = true
		if "v"+k[1:] != string(m.Value) {
			t.Errorf("record %s has value %q", k, m.Value)
		}
		ends[m.Partition] = max(ends[m.Partition], m.Offset+1)
	}
	if err := r.Close(); err != nil {
		t.Errorf("kafka-go reader close: %v", err)
	}

	offs, err := newAdmin(t, b.Addr()).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("kadm fetch offsets of %s: %v", group, err)
	}
	for p, end := range ends {
		if o, ok := offs.Lookup(topic, int32(p)); !ok || o.Err != nil || o.At != end {
			t.Errorf("committed offset of %s/%d: %+v (found %v), want %d", topic, p, o, ok, end)
		}
	}
}
