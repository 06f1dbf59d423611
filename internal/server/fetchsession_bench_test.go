package server

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkFetchSession1000Partitions measures one consumer Fetch round trip
// over a real socket of 1 000 partitions of which one has records: "full"
// names every partition and gets every one back (what every Fetch was
// before sessions, and still is for a client without them), "incremental"
// names none and gets back only the one with records. Besides ns/op and
// allocs (client and broker together, one process), it reports the bytes
// of the request and the response on the wire.
func BenchmarkFetchSession1000Partitions(b *testing.B) {
	const n = 1000
	_, addr := startTestServer(b)
	ctx := testCtx(b, 5*time.Minute)
	if _, err := kadmCreate(ctx, b, addr, "bench", n); err != nil {
		b.Fatal(err)
	}
	p := newClient(b, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := p.ProduceSync(ctx, &kgo.Record{Topic: "bench", Partition: 0, Value: make([]byte, 100)}).FirstErr(); err != nil {
		b.Fatal(err)
	}
	// Partition 0 is fetched from 0 (its record comes back every time),
	// the others at their end (nothing).
	full := rawFetch("bench", upTo(n), 1<<20, 1<<20)
	full.SessionEpoch = 0
	c := dialRaw(b, addr)
	fetch := func(r *kmsg.FetchRequest) *kmsg.FetchResponse {
		resp, err := c.Request(ctx, r)
		if err != nil {
			b.Fatal(err)
		}
		fr := resp.(*kmsg.FetchResponse)
		if fr.ErrorCode != 0 {
			b.Fatalf("fetch error %d", fr.ErrorCode)
		}
		return fr
	}
	onWire := func(b *testing.B, r *kmsg.FetchRequest, resp *kmsg.FetchResponse) {
		b.ReportMetric(float64(len(r.AppendTo(nil))), "req-B/op")
		b.ReportMetric(float64(len(resp.AppendTo(nil))), "resp-B/op")
		parts := 0
		for _, t := range resp.Topics {
			parts += len(t.Partitions)
		}
		b.ReportMetric(float64(parts), "resp-partitions/op")
	}
	b.Run("full", func(b *testing.B) {
		r := *full
		r.SessionEpoch = -1
		var resp *kmsg.FetchResponse
		b.ReportAllocs()
		for b.Loop() {
			resp = fetch(&r)
		}
		onWire(b, &r, resp)
	})
	b.Run("incremental", func(b *testing.B) {
		open := fetch(full)
		if open.SessionID == 0 {
			b.Fatal("no session")
		}
		r := rawFetch("bench", nil, 1<<20, 1<<20)
		r.Topics = nil
		r.SessionID, r.SessionEpoch = open.SessionID, 1
		var resp *kmsg.FetchResponse
		b.ReportAllocs()
		for b.Loop() {
			resp = fetch(r)
			r.SessionEpoch++
		}
		if _, with := fetchRecordBytes(resp); with != 1 {
			b.Fatalf("%d partitions with records, want 1", with)
		}
		onWire(b, r, resp)
	})
}
