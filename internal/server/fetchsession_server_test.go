package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFetchSessionFranzGo: franz-go, which uses fetch sessions by default,
// gets one from Strom and consumes everything through incremental fetches.
func TestFetchSessionFranzGo(t *testing.T) {
	s, addr := startTestServer(t)
	fillPartitions(t, addr, "sess", 4, 5, 100)
	ctx := testCtx(t, 30*time.Second)
	cl := newClient(t, addr, kgo.ConsumeTopics("sess"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond))
	got := 0
	for got < 20 {
		fs := cl.PollRecords(ctx, 100)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of 20 records: %v", got, err)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		got += fs.NumRecords()
	}
	// Records produced after the session exists arrive incrementally.
	p := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 4 {
		if err := p.ProduceSync(ctx, &kgo.Record{Topic: "sess", Partition: int32(i), Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for got < 24 {
		fs := cl.PollRecords(ctx, 100)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of 24 records: %v", got, err)
		}
		got += fs.NumRecords()
	}
	sessions, parts, incremental, _ := s.sessions.stats()
	t.Logf("sessions %d, cached partitions %d, incremental fetches %d", sessions, parts, incremental)
	if incremental == 0 || sessions == 0 {
		t.Fatalf("franz-go made %d incremental fetches over %d sessions; want some", incremental, sessions)
	}
}
