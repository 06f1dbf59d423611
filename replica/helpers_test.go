package replica

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/strombroker/strom/storage"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(snapshotCrashChildEnv); dir != "" {
		os.Exit(runSnapshotCrashChild(dir))
	}
	goleak.VerifyTestMain(m)
}

const self int32 = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batch encodes a v2 record batch of values as a producer sends it. pid < 0
// means not idempotent (epoch and seq are then ignored).
func batch(pid int64, epoch int16, seq int32, values ...string) []byte {
	if pid < 0 {
		epoch, seq = -1, -1
	}
	var recs []byte
	for i, v := range values {
		r := kmsg.Record{OffsetDelta: int32(i), TimestampDelta64: int64(i), Value: []byte(v)}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // Length 0 took one varint byte
		recs = r.AppendTo(recs)
	}
	ts := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(values) - 1),
		FirstTimestamp:       ts,
		MaxTimestamp:         ts + int64(len(values)-1),
		ProducerID:           pid,
		ProducerEpoch:        epoch,
		FirstSequence:        seq,
		NumRecords:           int32(len(values)),
		Records:              recs,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:12], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:21], crc32.Checksum(raw[21:], castagnoli))
	return raw
}

// plain is a non-idempotent batch.
func plain(values ...string) []byte { return batch(-1, 0, 0, values...) }

// record is one record read back, with its absolute offset.
type record struct {
	offset int64
	value  string
}

// decode parses fetched bytes with franz-go's decoder, so what the
// partition serves is proven readable by a client library.
func decode(t *testing.T, data []byte) []record {
	t.Helper()
	var out []record
	for len(data) > 0 {
		if len(data) < 12 {
			t.Fatalf("%d trailing bytes", len(data))
		}
		size := int(binary.BigEndian.Uint32(data[8:12])) + 12
		if size > len(data) {
			t.Fatalf("batch of %d bytes with %d left", size, len(data))
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(data[:size]); err != nil {
			t.Fatalf("decode batch: %v", err)
		}
		recs := rb.Records
		for range rb.NumRecords {
			l, n := binary.Varint(recs)
			if n <= 0 || int(l)+n > len(recs) {
				t.Fatalf("bad record length in batch at %d", rb.FirstOffset)
			}
			var r kmsg.Record
			if err := r.ReadFrom(recs[:n+int(l)]); err != nil {
				t.Fatalf("decode record: %v", err)
			}
			out = append(out, record{rb.FirstOffset + int64(r.OffsetDelta), string(r.Value)})
			recs = recs[n+int(l):]
		}
		data = data[size:]
	}
	return out
}

// values returns the values of recs.
func values(recs []record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.value
	}
	return out
}

// newManager opens a Manager on dir (a fresh temp dir when empty) and closes
// it when the test ends.
func newManager(t *testing.T, dir string) *Manager {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	m, err := NewManager(Config{NodeID: self, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close manager: %v", err)
		}
	})
	return m
}

// testSettings are the settings used unless a test needs others: small
// segments so that tests cross segment boundaries.
func testSettings() Settings {
	c := storage.DefaultConfig()
	c.SegmentBytes = 4096
	return Settings{Log: c, MinInsyncReplicas: 1}
}

// openLeader opens topic/0 on m and makes it leader at epoch 1 with isr.
func openLeader(t *testing.T, m *Manager, topic string, s Settings, isr ...int32) *Partition {
	t.Helper()
	p, err := m.Open(topic, 0, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(isr) == 0 {
		isr = []int32{self}
	}
	p.BecomeLeader(1, isr)
	return p
}

// produce appends b and fails the test on error.
func produce(t *testing.T, p *Partition, acks int16, b []byte) ProduceResult {
	t.Helper()
	res, err := p.Produce(testCtx(t), b, acks)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	return res
}

// fetchAll reads everything visible to consumers from offset.
func fetchAll(t *testing.T, p *Partition, offset int64, toLEO bool) (FetchResult, []record) {
	t.Helper()
	var all []record
	var last FetchResult
	for {
		r, err := p.Fetch(offset, 1<<20, toLEO)
		if err != nil {
			t.Fatalf("fetch at %d: %v", offset, err)
		}
		last = r
		recs := decode(t, r.Records)
		if len(recs) == 0 {
			return last, all
		}
		for _, rec := range recs {
			if rec.offset >= offset {
				all = append(all, rec)
			}
		}
		offset = recs[len(recs)-1].offset + 1
	}
}

// testCtx returns a context that ends with the test (or after a generous
// deadline, so that a hang fails instead of blocking the run).
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// produceAsync starts Produce in a goroutine owned by the test; the returned
// channel yields its result once.
type produceOutcome struct {
	res ProduceResult
	err error
}

func produceAsync(t *testing.T, ctx context.Context, p *Partition, acks int16, b []byte) <-chan produceOutcome {
	t.Helper()
	ch := make(chan produceOutcome, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, err := p.Produce(ctx, b, acks)
		ch <- produceOutcome{res, err}
	}()
	t.Cleanup(func() { <-done })
	return ch
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// await receives one outcome or fails after a generous deadline.
func await(t *testing.T, what string, ch <-chan produceOutcome) produceOutcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: produce did not return", what)
		return produceOutcome{}
	}
}

// pending fails if ch already has an outcome.
func pending(t *testing.T, what string, ch <-chan produceOutcome) {
	t.Helper()
	select {
	case o := <-ch:
		t.Fatalf("%s: produce returned early: %+v", what, o)
	default:
	}
}

// crcOf is the CRC-32C a v2 batch carries over b (attributes to the end).
func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
