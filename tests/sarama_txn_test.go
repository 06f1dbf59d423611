package tests

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestInteropSaramaTransactions runs sarama's transactional producer
// (protocol version 2.8): commit, abort, commit. read_committed readers see
// only the committed records; read_uncommitted ones all of them.
func TestInteropSaramaTransactions(t *testing.T) {
	b := startBroker(t, "--transaction-state-log-num-partitions", "4")
	const topic = "sarama-txn"
	createTopic(t, b.Addr(), topic, 1, nil)
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.ClientID = "strom-interop-txn"
	cfg.Producer.Idempotent = true
	cfg.Producer.Transaction.ID = "sarama-txn-id"
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Net.MaxOpenRequests = 1
	p, err := sarama.NewSyncProducer([]string{b.Addr()}, cfg)
	if err != nil {
		t.Fatalf("sarama transactional producer: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	txn := func(commit bool, values ...string) {
		t.Helper()
		if err := p.BeginTxn(); err != nil {
			t.Fatalf("begin: %v", err)
		}
		for _, v := range values {
			if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(v)}); err != nil {
				t.Fatalf("send %s: %v", v, err)
			}
		}
		end := p.CommitTxn
		if !commit {
			end = p.AbortTxn
		}
		if err := end(); err != nil {
			t.Fatalf("end transaction (commit=%v): %v", commit, err)
		}
	}
	txn(true, "c0", "c1")
	txn(false, "a0", "a1", "a2")
	txn(true, "c2")

	read := func(iso kgo.IsolationLevel) string {
		cl := newKgo(t, b.Addr(), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(iso),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		ctx := testCtx(t, 30*time.Second)
		var got []string
		for len(got) == 0 || got[len(got)-1] != "c2" {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("read %v, never c2", got)
			}
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		}
		return fmt.Sprint(got)
	}
	if got, want := read(kgo.ReadCommitted()), "[c0 c1 c2]"; got != want {
		t.Errorf("read_committed: %s, want %s", got, want)
	}
	if got, want := read(kgo.ReadUncommitted()), "[c0 c1 a0 a1 a2 c2]"; got != want {
		t.Errorf("read_uncommitted: %s, want %s", got, want)
	}
}

// TestStromTxnListDescribe checks `strom txn list`, `strom txn producers`
// and `strom txn describe` against a transaction sarama left open.
func TestStromTxnListDescribe(t *testing.T) {
	b := startBroker(t, "--transaction-state-log-num-partitions", "4")
	createTopic(t, b.Addr(), "cli-txn", 1, nil)
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Producer.Idempotent = true
	cfg.Producer.Transaction.ID = "cli-txn-id"
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Net.MaxOpenRequests = 1
	p, err := sarama.NewSyncProducer([]string{b.Addr()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.BeginTxn(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "cli-txn", Value: sarama.StringEncoder("v")}); err != nil {
		t.Fatal(err)
	}
	var listed []struct {
		ID    string `json:"transactional_id"`
		State string `json:"state"`
	}
	decodeJSON(t, runTool(t, 30*time.Second, nil, stromBin, "txn", "list", "--json", "--brokers", b.Addr()), &listed)
	if len(listed) != 1 || listed[0].ID != "cli-txn-id" || listed[0].State != "Ongoing" {
		t.Fatalf("strom txn list: %+v, want cli-txn-id Ongoing", listed)
	}
	var producers []struct {
		Partition int32 `json:"partition"`
		Start     int64 `json:"current_transaction_start_offset"`
	}
	decodeJSON(t, runTool(t, 30*time.Second, nil, stromBin, "txn", "producers", "cli-txn", "--json", "--brokers", b.Addr()), &producers)
	if len(producers) != 1 || producers[0].Partition != 0 || producers[0].Start != 0 {
		t.Fatalf("strom txn producers: %+v, want one producer on partition 0 in a transaction from offset 0", producers)
	}
	out := string(runTool(t, 30*time.Second, nil, stromBin, "txn", "describe", "cli-txn-id", "--brokers", b.Addr()))
	for _, want := range []string{"TRANSACTIONAL-ID", "cli-txn-id", "Ongoing", "cli-txn:[0]"} {
		if !strings.Contains(out, want) {
			t.Errorf("strom txn describe lacks %q:\n%s", want, out)
		}
	}
}
