package server

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/txn"
)

// txnRawBatch is makeBatch with the transactional attribute.
func txnRawBatch(pid int64, epoch int16, seq int32, values ...string) []byte {
	b := makeBatch(pid, epoch, seq, values...)
	binary.BigEndian.PutUint16(b[21:23], binary.BigEndian.Uint16(b[21:23])|0x10)
	binary.BigEndian.PutUint32(b[17:21], crc32.Checksum(b[21:], castagnoli))
	return b
}

// TestTxnProduceVerified: a transactional batch is appended only for a
// partition in the producer's open transaction (KIP-890 verification),
// which refuses a write to a partition never added and a delayed write
// that arrives after its transaction committed (Jepsen's "torn
// transaction" on Kafka without verification).
func TestTxnProduceVerified(t *testing.T) {
	s, addr := startTestServer(t, txnTestConfig)
	ctx := testCtx(t, 30*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "txn-verify", 1); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, addr)
	const id = "tx-verify"
	tid := id
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey, fc.CoordinatorType = id, 1
	if _, err := fc.RequestWith(ctx, cl); err != nil { // creates __transaction_state
		t.Fatal(err)
	}
	pid, epoch, err := s.txns.InitProducerID(ctx, id, 10*time.Second, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	raw := dialRaw(t, addr) // sends exactly the version set
	produce := func(seq int32, value string) int16 {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis, req.TransactionID = 11, -1, 5000, &tid
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "txn-verify"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = txnRawBatch(pid, epoch, seq, value)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := raw.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
	}
	if code := produce(0, "not added"); code != kerr.InvalidTxnState.Code {
		t.Fatalf("produce to a partition not in the transaction: %v, want INVALID_TXN_STATE", kerr.ErrorForCode(code))
	}
	if err := s.txns.AddPartitions(ctx, id, pid, epoch, []txn.TP{{Topic: "txn-verify", Partition: 0}}); err != nil {
		t.Fatal(err)
	}
	if code := produce(0, "added"); code != 0 {
		t.Fatalf("produce after AddPartitionsToTxn: %v", kerr.ErrorForCode(code))
	}
	if _, _, err := s.txns.EndTxn(ctx, id, pid, epoch, true, false); err != nil {
		t.Fatal(err)
	}
	if code := produce(1, "late"); code != kerr.InvalidTxnState.Code {
		t.Fatalf("delayed produce after the commit: %v, want INVALID_TXN_STATE", kerr.ErrorForCode(code))
	}
	if lso, hw := s.replicas.Get("txn-verify", 0).LastStableOffset(), s.replicas.Get("txn-verify", 0).HighWatermark(); lso != hw {
		t.Fatalf("last stable %d behind high watermark %d: a refused write opened a transaction", lso, hw)
	}
}
