package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/strombroker/strom/wire"
)

// TestFetchSessionFranzGo: franz-go, which uses fetch sessions by default,
// gets one from Strom and consumes every record exactly once, in order,
// through incremental fetches: at the latest Fetch version (sessions keyed
// by topic ID) and at v12 (by name, Kafka 2.8).
func TestFetchSessionFranzGo(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []kgo.Opt
	}{
		{"latest", nil},
		{"v12-by-name", []kgo.Opt{kgo.MaxVersions(kversion.V2_8_0())}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, addr := startTestServer(t)
			fillPartitions(t, addr, "sess", 4, 5, 100)
			ctx := testCtx(t, 30*time.Second)
			opts := append([]kgo.Opt{kgo.ConsumeTopics("sess"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
				kgo.FetchMaxWait(50 * time.Millisecond)}, tc.opts...)
			cl := newClient(t, addr, opts...)
			next := map[int32]int64{}
			consume := func(want int) {
				t.Helper()
				for got := 0; got < want; {
					fs := cl.PollRecords(ctx, 100)
					if err := ctx.Err(); err != nil {
						t.Fatalf("consumed %d of %d records: %v", got, want, err)
					}
					fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
					fs.EachRecord(func(r *kgo.Record) {
						if r.Offset != next[r.Partition] {
							t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
						}
						next[r.Partition]++
						got++
					})
				}
			}
			consume(20)
			// Records produced after the session exists arrive incrementally.
			p := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
			for i := range 4 {
				if err := p.ProduceSync(ctx, &kgo.Record{Topic: "sess", Partition: int32(i), Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			consume(4)
			st := s.FetchSessionStats()
			t.Logf("%+v", st)
			if st.Incremental == 0 || st.Sessions == 0 {
				t.Fatalf("franz-go made %d incremental fetches over %d sessions; want some", st.Incremental, st.Sessions)
			}
		})
	}
}

// sessionFetch builds a consumer Fetch of topic's parts (v12 by name, v13+
// by id) at offset 0 in session id at epoch.
func sessionFetch(version int16, topic string, topicID [16]byte, id, epoch int32, parts ...int32) *kmsg.FetchRequest {
	r := rawFetch(topic, parts, 1<<20, 1<<20)
	r.SetVersion(version)
	r.Topics[0].TopicID = topicID
	if len(parts) == 0 {
		r.Topics = nil
	}
	r.SessionID, r.SessionEpoch = id, epoch
	r.MaxWaitMillis, r.MinBytes = 0, 0
	return r
}

func fetchOn(t *testing.T, c *wire.Client, r *kmsg.FetchRequest) *kmsg.FetchResponse {
	t.Helper()
	resp, err := c.Request(testCtx(t, 20*time.Second), r)
	if err != nil {
		t.Fatal(err)
	}
	return resp.(*kmsg.FetchResponse)
}

func partsOf(resp *kmsg.FetchResponse) map[int32]kmsg.FetchResponseTopicPartition {
	out := map[int32]kmsg.FetchResponseTopicPartition{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[p.Partition] = p
		}
	}
	return out
}

// TestFetchSessionRawErrors drives a session by hand through every session
// error Strom answers, over real sockets.
func TestFetchSessionRawErrors(t *testing.T) {
	_, addr := startTestServer(t)
	fillPartitions(t, addr, "raw", 3, 1, 10)
	c := dialRaw(t, addr)
	r := sessionFetch(12, "raw", [16]byte{}, 0, 0, 0, 1, 2)
	for i := range r.Topics[0].Partitions {
		r.Topics[0].Partitions[i].FetchOffset = 1 // past the records
	}
	full := fetchOn(t, c, r)
	id := full.SessionID
	if full.ErrorCode != 0 || id == 0 || len(partsOf(full)) != 3 {
		t.Fatalf("full fetch: error %d, session %d, %d partitions", full.ErrorCode, id, len(partsOf(full)))
	}
	// Nothing new: an empty answer in the same session.
	r = sessionFetch(12, "raw", [16]byte{}, id, 1)
	if resp := fetchOn(t, c, r); resp.ErrorCode != 0 || resp.SessionID != id || len(partsOf(resp)) != 0 {
		t.Fatalf("incremental: error %d, session %d, partitions %v", resp.ErrorCode, resp.SessionID, partsOf(resp))
	}
	for _, tc := range []struct {
		name string
		r    *kmsg.FetchRequest
		want int16
	}{
		{"replayed epoch", sessionFetch(12, "raw", [16]byte{}, id, 1), kerr.InvalidFetchSessionEpoch.Code},
		{"future epoch", sessionFetch(12, "raw", [16]byte{}, id, 9), kerr.InvalidFetchSessionEpoch.Code},
		{"unknown session", sessionFetch(12, "raw", [16]byte{}, id^0x5555, 2), kerr.FetchSessionIDNotFound.Code},
		{"v13 in a by-name session", sessionFetch(13, "raw", [16]byte{}, id, 2), kerr.FetchSessionTopicIDError.Code},
	} {
		resp := fetchOn(t, c, tc.r)
		if resp.ErrorCode != tc.want || resp.SessionID != 0 || len(resp.Topics) != 0 {
			t.Errorf("%s: error %d session %d topics %d, want error %d, no session, no topics", tc.name, resp.ErrorCode, resp.SessionID, len(resp.Topics), tc.want)
		}
	}
	// Kafka does not tie a session to its connection: another one
	// continues it.
	other := dialRaw(t, addr)
	r = sessionFetch(12, "raw", [16]byte{}, id, 2, 0)
	r.Topics[0].Partitions[0].FetchOffset = 1
	if resp := fetchOn(t, other, r); resp.ErrorCode != 0 || resp.SessionID != id || len(partsOf(resp)) != 0 {
		t.Fatalf("from another connection: error %d session %d partitions %v", resp.ErrorCode, resp.SessionID, partsOf(resp))
	}
	// Forget 2, and move 1 back to 0: its record comes again.
	r = sessionFetch(12, "raw", [16]byte{}, id, 3, 1)
	ft := kmsg.NewFetchRequestForgottenTopic()
	ft.Topic, ft.Partitions = "raw", []int32{2}
	r.ForgottenTopics = append(r.ForgottenTopics, ft)
	if resp := fetchOn(t, c, r); resp.ErrorCode != 0 || len(partsOf(resp)) != 1 || len(partsOf(resp)[1].RecordBatches) == 0 {
		t.Fatalf("forget: error %d partitions %v", resp.ErrorCode, partsOf(resp))
	}
	// Epoch -1 with the id closes the session and is served in full.
	closing := fetchOn(t, c, sessionFetch(12, "raw", [16]byte{}, id, -1, 0))
	if closing.ErrorCode != 0 || closing.SessionID != 0 || len(partsOf(closing)) != 1 {
		t.Fatalf("close: error %d session %d partitions %v", closing.ErrorCode, closing.SessionID, partsOf(closing))
	}
	if resp := fetchOn(t, c, sessionFetch(12, "raw", [16]byte{}, id, 4)); resp.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("closed session: error %d, want FETCH_SESSION_ID_NOT_FOUND", resp.ErrorCode)
	}
	// Sessionless full fetches never get a session.
	if resp := fetchOn(t, c, sessionFetch(12, "raw", [16]byte{}, 0, -1, 0)); resp.SessionID != 0 {
		t.Fatalf("epoch -1 fetch got session %d", resp.SessionID)
	}
}

// TestFetchSessionTopicIDs: at v13+ a session is keyed by topic ID; an
// unknown ID in it is answered UNKNOWN_TOPIC_ID every time; records
// produced later come back incrementally, after a long poll.
func TestFetchSessionTopicIDs(t *testing.T) {
	_, addr := startTestServer(t)
	fillPartitions(t, addr, "ids", 2, 1, 10)
	ctx := testCtx(t, 30*time.Second)
	td, err := newAdmin(t, addr).ListTopics(ctx, "ids")
	if err != nil {
		t.Fatal(err)
	}
	tid := [16]byte(td["ids"].ID)
	c := dialRaw(t, addr)
	r := sessionFetch(13, "", tid, 0, 0, 0, 1)
	r.Topics[0].Partitions[0].FetchOffset, r.Topics[0].Partitions[1].FetchOffset = 1, 1
	bogus := kmsg.NewFetchRequestTopic()
	bogus.TopicID = [16]byte{1, 2, 3}
	bp := kmsg.NewFetchRequestTopicPartition()
	bogus.Partitions = append(bogus.Partitions, bp)
	r.Topics = append(r.Topics, bogus)
	full := fetchOn(t, c, r)
	id := full.SessionID
	if id == 0 || len(full.Topics) != 2 || full.Topics[1].Partitions[0].ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("full v13 fetch: session %d, %+v", id, full.Topics)
	}
	resp := fetchOn(t, c, sessionFetch(13, "", tid, id, 1))
	if len(resp.Topics) != 1 || resp.Topics[0].TopicID != [16]byte{1, 2, 3} || resp.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("incremental: want only the unknown topic id, got %+v", resp.Topics)
	}
	// Forget the unknown topic by id; then an incremental long poll
	// returns partition 1's new record and nothing else.
	r = sessionFetch(13, "", tid, id, 2)
	ft := kmsg.NewFetchRequestForgottenTopic()
	ft.TopicID, ft.Partitions = [16]byte{1, 2, 3}, []int32{0}
	r.ForgottenTopics = append(r.ForgottenTopics, ft)
	if resp := fetchOn(t, c, r); len(resp.Topics) != 0 || resp.ErrorCode != 0 {
		t.Fatalf("after forgetting: %+v", resp.Topics)
	}
	poll := sessionFetch(13, "", tid, id, 3)
	poll.MaxWaitMillis, poll.MinBytes = 15_000, 1
	done := make(chan *kmsg.FetchResponse, 1)
	go func() {
		resp, err := c.Request(ctx, poll)
		if err != nil {
			t.Error(err)
		}
		fr, _ := resp.(*kmsg.FetchResponse)
		done <- fr
	}()
	p := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := p.ProduceSync(ctx, &kgo.Record{Topic: "ids", Partition: 1, Value: []byte("new")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	resp = <-done
	if resp == nil {
		t.FailNow()
	}
	got := partsOf(resp)
	if len(got) != 1 || len(got[1].RecordBatches) == 0 || got[1].HighWatermark != 2 {
		t.Fatalf("long poll answered %+v, want partition 1 with its new record", resp.Topics)
	}
}

// TestFetchSessionRotation: a partition that keeps having records (here
// its client never moves on) cannot starve the partitions after it when
// the response's byte budget fills: the session moves partitions that
// returned records to the back.
func TestFetchSessionRotation(t *testing.T) {
	_, addr := startTestServer(t)
	fillPartitions(t, addr, "rot", 3, 1, 8<<10) // one 8 KiB batch each
	c := dialRaw(t, addr)
	// MaxBytes fits one batch: the first partition with records takes it
	// (KIP-74) and the others come back empty.
	full := sessionFetch(12, "rot", [16]byte{}, 0, 0, 0, 1, 2)
	full.MaxBytes = 10 << 10
	resp := fetchOn(t, c, full)
	if resp.SessionID == 0 {
		t.Fatal("no session")
	}
	served := map[int32]int{}
	for _, p := range partsOf(resp) {
		if len(p.RecordBatches) > 0 {
			served[p.Partition]++
		}
	}
	for epoch := int32(1); epoch <= 3; epoch++ {
		r := sessionFetch(12, "rot", [16]byte{}, resp.SessionID, epoch)
		r.MaxBytes = 10 << 10
		got := fetchOn(t, c, r)
		if got.ErrorCode != 0 {
			t.Fatalf("epoch %d: error %d", epoch, got.ErrorCode)
		}
		for _, p := range partsOf(got) {
			if len(p.RecordBatches) > 0 {
				served[p.Partition]++
			}
		}
	}
	if served[0] == 0 || served[1] == 0 || served[2] == 0 {
		t.Fatalf("records served per partition over 4 fetches: %v; every partition must get a turn", served)
	}
}

// TestFetchSessionsOff: with max.incremental.fetch.session.cache.slots=0
// no session is made and clients that ask for one still consume.
func TestFetchSessionsOff(t *testing.T) {
	s, addr := startTestServer(t, func(c *Config) { c.FetchSessionCacheSlots = 0 })
	fillPartitions(t, addr, "off", 2, 3, 10)
	if resp := fetchOn(t, dialRaw(t, addr), sessionFetch(12, "off", [16]byte{}, 0, 0, 0, 1)); resp.SessionID != 0 || len(partsOf(resp)) != 2 {
		t.Fatalf("session %d, %d partitions", resp.SessionID, len(partsOf(resp)))
	}
	ctx := testCtx(t, 30*time.Second)
	cl := newClient(t, addr, kgo.ConsumeTopics("off"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for got := 0; got < 6; {
		fs := cl.PollRecords(ctx, 100)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of 6", got)
		}
		got += fs.NumRecords()
	}
	if st := s.FetchSessionStats(); st.Sessions != 0 || st.Incremental != 0 {
		t.Fatalf("sessions with none allowed: %+v", st)
	}
}
