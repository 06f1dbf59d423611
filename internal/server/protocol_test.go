package server

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// makeBatch encodes a v2 record batch of values, with an optional producer
// id/epoch/sequence (pid < 0 for none).
func makeBatch(pid int64, epoch int16, seq int32, values ...string) []byte {
	var recs []byte
	now := time.Now().UnixMilli()
	for i, v := range values {
		r := kmsg.Record{OffsetDelta: int32(i), Value: []byte(v)}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // body size; Length 0 took one varint byte
		recs = r.AppendTo(recs)
	}
	b := kmsg.RecordBatch{
		Magic:           2,
		LastOffsetDelta: int32(len(values) - 1),
		FirstTimestamp:  now,
		MaxTimestamp:    now,
		ProducerID:      pid,
		ProducerEpoch:   epoch,
		FirstSequence:   seq,
		NumRecords:      int32(len(values)),
		Records:         recs,
	}
	raw := b.AppendTo(nil)
	// Length is everything after the 12-byte offset+length prefix; the CRC
	// covers attributes (byte 21) to the end.
	binary.BigEndian.PutUint32(raw[8:12], uint32(len(raw)-12))
	crc := crc32.Checksum(raw[21:], castagnoli)
	raw[17], raw[18], raw[19], raw[20] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
	return raw
}

func produceRaw(t *testing.T, cl *kgo.Client, version int16, acks int16, topic string, partition int32, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version = version
	req.Acks = acks
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	// kgo would send its own (highest) version: send exactly this one on a
	// raw connection to the client's seed broker.
	seeds, _ := cl.OptValue(kgo.SeedBrokers).([]string)
	if len(seeds) == 0 {
		t.Fatal("produce request: client without seed brokers")
	}
	resp := mustRequest[*kmsg.ProduceResponse](t, dialRaw(t, seeds[0]), req)
	return resp.Topics[0].Partitions[0]
}

func TestMetadataV1AutoCreates(t *testing.T) {
	_, addr := startTestServer(t)
	// kgo picks the highest version itself; a raw connection pins v1, the
	// version kafka-python 2.0.2 sends.
	raw := dialRaw(t, addr)
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 1
	name := "auto-v1"
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = &name
	req.Topics = append(req.Topics, rt)
	kresp, err := raw.Request(testCtx(t, 10*time.Second), req)
	if err != nil {
		t.Fatal(err)
	}
	resp := kresp.(*kmsg.MetadataResponse)
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("v1 metadata should auto-create the topic, got %+v", resp.Topics)
	}
	if len(resp.Brokers) != 1 || resp.Brokers[0].Host != "127.0.0.1" {
		t.Fatalf("brokers = %+v", resp.Brokers)
	}

	// v4+ only auto-creates when asked.
	cl := newClient(t, addr)
	req = kmsg.NewPtrMetadataRequest()
	req.Version = 9
	other := "no-auto"
	rt = kmsg.NewMetadataRequestTopic()
	rt.Topic = &other
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = false
	resp, err = req.RequestWith(testCtx(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Topics[0].ErrorCode; got != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("v9 without auto-create: error %d, want UNKNOWN_TOPIC_OR_PARTITION", got)
	}
}

func TestMetadataInvalidTopicName(t *testing.T) {
	_, addr := startTestServer(t)
	cl := newClient(t, addr)
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 1
	for _, bad := range []string{"bad name", "..", "x/y"} {
		n := bad
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = &n
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(testCtx(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range resp.Topics {
		if tp.ErrorCode != kerr.InvalidTopicException.Code {
			t.Errorf("%s: error %d, want INVALID_TOPIC_EXCEPTION", *tp.Topic, tp.ErrorCode)
		}
	}
}

func TestProduceRejectsBadInput(t *testing.T) {
	_, addr := startTestServer(t, func(c *Config) { c.MessageMaxBytes = 2048; c.Log.MaxMessageBytes = 2048 })
	ctx := testCtx(t, 20*time.Second)
	cl := newClient(t, addr)
	if _, err := kadmCreate(ctx, t, addr, "bad-input", 1); err != nil {
		t.Fatal(err)
	}
	good := makeBatch(-1, -1, -1, "a", "b")
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)-1] ^= 0xff
	if got := produceRaw(t, cl, 9, 1, "bad-input", 0, corrupt); got.ErrorCode != kerr.CorruptMessage.Code {
		t.Fatalf("bad CRC: error %d, want CORRUPT_MESSAGE", got.ErrorCode)
	}
	big := makeBatch(-1, -1, -1, string(make([]byte, 4096)))
	if got := produceRaw(t, cl, 9, 1, "bad-input", 0, big); got.ErrorCode != kerr.MessageTooLarge.Code {
		t.Fatalf("big batch: error %d, want MESSAGE_TOO_LARGE", got.ErrorCode)
	}
	if got := produceRaw(t, cl, 9, 1, "no-such-topic", 0, good); got.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: error %d", got.ErrorCode)
	}
	if got := produceRaw(t, cl, 9, 1, "bad-input", 7, good); got.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown partition: error %d", got.ErrorCode)
	}
	// Nothing was appended by the failures: the good batch lands at offset 0.
	if got := produceRaw(t, cl, 9, 1, "bad-input", 0, good); got.ErrorCode != 0 || got.BaseOffset != 0 {
		t.Fatalf("good batch: error %d base %d, want 0/0", got.ErrorCode, got.BaseOffset)
	}
}

func TestIdempotentRetryIsNotAppendedTwice(t *testing.T) {
	_, addr := startTestServer(t)
	ctx := testCtx(t, 20*time.Second)
	cl := newClient(t, addr)
	if _, err := kadmCreate(ctx, t, addr, "idem", 1); err != nil {
		t.Fatal(err)
	}
	ipr := kmsg.NewPtrInitProducerIDRequest()
	ipr.Version = 4
	ipr.TransactionTimeoutMillis = 60000
	idResp, err := ipr.RequestWith(ctx, cl)
	if err != nil || idResp.ErrorCode != 0 {
		t.Fatalf("init producer id: %v %v", err, idResp)
	}
	pid, epoch := idResp.ProducerID, idResp.ProducerEpoch

	first := produceRaw(t, cl, 9, -1, "idem", 0, makeBatch(pid, epoch, 0, "a", "b"))
	if first.ErrorCode != 0 || first.BaseOffset != 0 {
		t.Fatalf("first: %+v", first)
	}
	retry := produceRaw(t, cl, 9, -1, "idem", 0, makeBatch(pid, epoch, 0, "a", "b"))
	if retry.ErrorCode != 0 || retry.BaseOffset != 0 {
		t.Fatalf("retry should be acknowledged with the original offset: %+v", retry)
	}
	gap := produceRaw(t, cl, 9, -1, "idem", 0, makeBatch(pid, epoch, 5, "x"))
	if gap.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("gap: error %d, want OUT_OF_ORDER_SEQUENCE_NUMBER", gap.ErrorCode)
	}
	next := produceRaw(t, cl, 9, -1, "idem", 0, makeBatch(pid, epoch, 2, "c"))
	if next.ErrorCode != 0 || next.BaseOffset != 2 {
		t.Fatalf("next: %+v", next)
	}
}

func TestFetchLongPollWakesOnProduce(t *testing.T) {
	_, addr := startTestServer(t)
	ctx := testCtx(t, 20*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "poll", 1); err != nil {
		t.Fatal(err)
	}
	cons := newClient(t, addr, kgo.ConsumeTopics("poll"), kgo.FetchMaxWait(5*time.Second))
	prod := newClient(t, addr)
	done := make(chan []*kgo.Record, 1)
	go func() { done <- cons.PollFetches(ctx).Records() }()
	time.Sleep(200 * time.Millisecond) // let the consumer park in a long poll
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "poll", Value: []byte("wake")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	select {
	case recs := <-done:
		if len(recs) != 1 || string(recs[0].Value) != "wake" {
			t.Fatalf("got %v", recs)
		}
	case <-ctx.Done():
		t.Fatal("fetch never woke")
	}
}

func TestRecordsSurviveRestart(t *testing.T) {
	c := testConfig(t)
	s, addr := startWithConfig(t, c)
	ctx := testCtx(t, 30*time.Second)
	prod := newClient(t, addr, kgo.DefaultProduceTopic("durable"), kgo.AllowAutoTopicCreation())
	for i := 0; i < 50; i++ {
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	prod.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Same data dir, same port.
	c.Listeners = []Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: portOf(t, addr)}}
	_, addr2 := startWithConfig(t, c)
	cons := newClient(t, addr2, kgo.ConsumeTopics("durable"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []byte
	for len(got) < 50 && ctx.Err() == nil {
		cons.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, r.Value[0]) })
	}
	for i, b := range got {
		if int(b) != i {
			t.Fatalf("record %d = %d", i, b)
		}
	}
	if len(got) != 50 {
		t.Fatalf("read %d records after restart, want 50", len(got))
	}
}
