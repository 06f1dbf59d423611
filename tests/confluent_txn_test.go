package tests

import (
	"fmt"
	"testing"
	"time"
)

// TestInteropConfluentTransactions runs librdkafka's transactional producer
// (confluent-kafka-python): a committed, an aborted and a committed
// transaction. A read_committed consumer sees only the committed records,
// a read_uncommitted one all of them, in order.
func TestInteropConfluentTransactions(t *testing.T) {
	requireTool(t, "python:confluent_kafka")
	b := startBroker(t, "--transaction-state-log-num-partitions", "4")
	const topic = "confluent-txn"
	createTopic(t, b.Addr(), topic, 1, nil)
	var got struct {
		Committed   []string `json:"read_committed"`
		Uncommitted []string `json:"read_uncommitted"`
	}
	decodeJSON(t, runPython(t, 120*time.Second, "confluent_txn.py", "run", b.Addr(), topic, "confluent-txn-id"), &got)
	if want := "[c0 c1 c2 c3 c4 c5]"; fmt.Sprint(got.Committed) != want {
		t.Errorf("read_committed consumer saw %v, want %s", got.Committed, want)
	}
	if want := "[c0 c1 c2 c3 c4 a0 a1 a2 c5]"; fmt.Sprint(got.Uncommitted) != want {
		t.Errorf("read_uncommitted consumer saw %v, want %s", got.Uncommitted, want)
	}
}
