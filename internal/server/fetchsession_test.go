package server

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/wire"
)

// fakeClock is a settable clock for the session cache.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newTestCache(slots int) (*fetchSessionCache, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	c := newFetchSessionCache(slots)
	c.now = clk.now
	return c, clk
}

// sessReq builds a Fetch v12 (by name) of topic "t" partitions parts, each
// at fetch offset off.
func sessReq(id, epoch int32, off int64, parts ...int32) *kmsg.FetchRequest {
	r := kmsg.NewPtrFetchRequest()
	r.SetVersion(12)
	r.SessionID, r.SessionEpoch = id, epoch
	if len(parts) > 0 {
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "t"
		for _, p := range parts {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, off, 1<<20
			rt.Partitions = append(rt.Partitions, rp)
		}
		r.Topics = append(r.Topics, rt)
	}
	return r
}

// answer builds the response the server would give to r: every partition
// with high watermark hw, records for those in withRecords.
func answer(r *kmsg.FetchRequest, hw int64, withRecords ...int32) *kmsg.FetchResponse {
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	for _, rt := range r.Topics {
		ft := kmsg.NewFetchResponseTopic()
		ft.Topic, ft.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			fp := kmsg.NewFetchResponseTopicPartition()
			fp.Partition, fp.HighWatermark, fp.LastStableOffset, fp.LogStartOffset = rp.Partition, hw, hw, 0
			fp.RecordBatches = []byte{}
			for _, p := range withRecords {
				if p == rp.Partition {
					fp.RecordBatches = []byte("records")
				}
			}
			ft.Partitions = append(ft.Partitions, fp)
		}
		resp.Topics = append(resp.Topics, ft)
	}
	return resp
}

func answeredParts(resp *kmsg.FetchResponse) []int32 {
	var out []int32
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out = append(out, p.Partition)
		}
	}
	return out
}

// open creates a session of parts through a full fetch and returns its id.
func open(t *testing.T, c *fetchSessionCache, privileged bool, parts ...int32) int32 {
	t.Helper()
	r := sessReq(0, 0, 0, parts...)
	fc, err := c.newContext(r, privileged)
	if err != nil {
		t.Fatal(err)
	}
	resp := answer(fc.r, 10)
	fc.finish(&wire.Request{}, r, resp)
	return resp.SessionID
}

// incremental runs one incremental fetch through the cache as handleFetch
// does and returns the partitions answered.
func incremental(t *testing.T, c *fetchSessionCache, r *kmsg.FetchRequest, hw int64, withRecords ...int32) ([]int32, *fetchContext) {
	t.Helper()
	fc, err := c.newContext(r, false)
	if err != nil {
		t.Fatalf("incremental fetch %d/%d: %v", r.SessionID, r.SessionEpoch, err)
	}
	resp := answer(fc.r, hw, withRecords...)
	fc.finish(&wire.Request{}, r, resp)
	if resp.SessionID != r.SessionID && fc.sess != nil {
		t.Fatalf("answered session %d, want %d", resp.SessionID, r.SessionID)
	}
	return answeredParts(resp), fc
}

func TestFetchSessionEpochs(t *testing.T) {
	c, _ := newTestCache(10)
	id := open(t, c, false, 0, 1, 2)
	if id <= 0 {
		t.Fatalf("session id %d, want a positive one", id)
	}
	// Epoch 1 is next; nothing changed, nothing answered.
	if got, fc := incremental(t, c, sessReq(id, 1, 0), 10); len(got) != 0 || len(fc.snapshot) != 3 {
		t.Fatalf("unchanged session answered %v (serving %d partitions)", got, len(fc.snapshot))
	}
	for _, tc := range []struct {
		name string
		r    *kmsg.FetchRequest
		want *kerr.Error
	}{
		{"replayed epoch", sessReq(id, 1, 0), kerr.InvalidFetchSessionEpoch},
		{"skipped epoch", sessReq(id, 3, 0), kerr.InvalidFetchSessionEpoch},
		{"unknown id", sessReq(id+1, 2, 0), kerr.FetchSessionIDNotFound},
		{"no id", sessReq(0, 2, 0), kerr.FetchSessionIDNotFound},
	} {
		if _, err := c.newContext(tc.r, false); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// A v13 request may not continue a session made by name.
	r := sessReq(id, 2, 0)
	r.SetVersion(13)
	if _, err := c.newContext(r, false); !errors.Is(err, kerr.FetchSessionTopicIDError) {
		t.Errorf("v13 in a v12 session: %v, want FETCH_SESSION_TOPIC_ID_ERROR", err)
	}
	// Errors do not use up the epoch.
	incremental(t, c, sessReq(id, 2, 0), 10)
	// Epoch -1 with the id closes it and is served without a session.
	fc, err := c.newContext(sessReq(id, -1, 0, 0), false)
	if err != nil || fc.full || fc.sess != nil {
		t.Fatalf("close: %v (full %v)", err, fc.full)
	}
	if _, err := c.newContext(sessReq(id, 3, 0), false); !errors.Is(err, kerr.FetchSessionIDNotFound) {
		t.Fatalf("closed session: %v, want FETCH_SESSION_ID_NOT_FOUND", err)
	}
	if n, parts, _, _ := c.stats(); n != 0 || parts != 0 {
		t.Fatalf("%d sessions, %d partitions cached after close", n, parts)
	}
}

func TestFetchSessionIncrementalAnswers(t *testing.T) {
	c, _ := newTestCache(10)
	id := open(t, c, false, 0, 1, 2, 3)
	// Records on 1, nothing else changed: only 1 answered.
	got, _ := incremental(t, c, sessReq(id, 1, 0), 10, 1)
	if len(got) != 1 || got[0] != 1 {
		t.Fatalf("answered %v, want [1]", got)
	}
	// High watermark moved: all answered once, then quiet again.
	if got, _ := incremental(t, c, sessReq(id, 2, 0), 11); len(got) != 4 {
		t.Fatalf("after HW move answered %v, want all 4", got)
	}
	if got, _ := incremental(t, c, sessReq(id, 3, 0), 11); len(got) != 0 {
		t.Fatalf("answered %v, want none", got)
	}
	// Partition 1 returned records above: it rotated to the end.
	_, fc := incremental(t, c, sessReq(id, 4, 0), 11)
	var order []int32
	for _, cp := range fc.snapshot {
		order = append(order, cp.key.part)
	}
	if want := []int32{0, 2, 3, 1}; !equalParts(order, want) {
		t.Fatalf("session order %v, want %v", order, want)
	}
	// An error is always answered, and the partition again once it clears.
	fc, _ = c.newContext(sessReq(id, 5, 0), false)
	resp := answer(fc.r, 11)
	resp.Topics[0].Partitions[0].ErrorCode = kerr.NotLeaderForPartition.Code
	fc.finish(&wire.Request{}, sessReq(id, 5, 0), resp)
	if got := answeredParts(resp); len(got) != 1 {
		t.Fatalf("with an error answered %v, want the failed one", got)
	}
	if got, _ := incremental(t, c, sessReq(id, 6, 0), 11); len(got) != 1 || got[0] != 0 {
		t.Fatalf("after the error cleared answered %v, want [0]", got)
	}
	// A named partition updates its cached parameters; a new one is
	// added; forgotten ones leave.
	r := sessReq(id, 7, 42, 2, 9)
	ft := kmsg.NewFetchRequestForgottenTopic()
	ft.Topic, ft.Partitions = "t", []int32{0, 3}
	r.ForgottenTopics = append(r.ForgottenTopics, ft)
	_, fc = incremental(t, c, r, 11)
	offs := map[int32]int64{}
	for _, cp := range fc.snapshot {
		offs[cp.key.part] = cp.fetchOffset
	}
	if len(offs) != 3 || offs[2] != 42 || offs[9] != 42 || offs[1] != 0 {
		t.Fatalf("session after update: %v, want 1@0 2@42 9@42", offs)
	}
	if _, parts, _, _ := c.stats(); parts != 3 {
		t.Fatalf("cache counts %d partitions, want 3", parts)
	}
	// Forgetting everything closes the session.
	r = sessReq(id, 8, 0)
	ft.Partitions = []int32{1, 2, 9}
	r.ForgottenTopics = []kmsg.FetchRequestForgottenTopic{ft}
	if fc, err := c.newContext(r, false); err != nil || fc.sess != nil {
		t.Fatalf("emptied session: %v, still incremental %v", err, fc.sess != nil)
	}
	if n, _, _, _ := c.stats(); n != 0 {
		t.Fatalf("%d sessions after emptying, want 0", n)
	}
}

func equalParts(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFetchSessionEviction(t *testing.T) {
	c, clk := newTestCache(2)
	small := open(t, c, false, 0)
	big := open(t, c, false, 0, 1, 2)
	// Full, both young: a consumer gets no session, even a bigger one.
	if id := open(t, c, false, 0, 1, 2, 3, 4); id != 0 {
		t.Fatalf("consumer evicted a young session (got %d)", id)
	}
	// A follower may evict a young consumer session: the smallest.
	f := open(t, c, true, 0, 1)
	if f == 0 {
		t.Fatal("follower got no session from a cache of consumer sessions")
	}
	if _, err := c.newContext(sessReq(small, 1, 0), false); !errors.Is(err, kerr.FetchSessionIDNotFound) {
		t.Fatalf("smallest consumer session: %v, want evicted", err)
	}
	// A follower beats any consumer session, even a bigger one.
	f2 := open(t, c, true, 0)
	if f2 == 0 {
		t.Fatal("follower could not evict a consumer session")
	}
	if _, err := c.newContext(sessReq(big, 1, 0), false); !errors.Is(err, kerr.FetchSessionIDNotFound) {
		t.Fatalf("consumer session: %v, want evicted", err)
	}
	// Young follower sessions are evictable by nobody.
	clk.advance(time.Second)
	if id := open(t, c, true, 0, 1, 2, 3); id != 0 {
		t.Fatalf("a follower evicted a young follower session (got %d)", id)
	}
	// Past the minimum eviction time, an unused session is evicted by
	// anyone, least recently used first.
	clk.advance(fetchSessionMinEviction + time.Second)
	incremental(t, c, sessReq(f2, 1, 0), 10)
	n := open(t, c, false, 0)
	if n == 0 {
		t.Fatal("stale session not evicted")
	}
	if _, err := c.newContext(sessReq(f, 1, 0), false); !errors.Is(err, kerr.FetchSessionIDNotFound) {
		t.Fatalf("least recently used session: %v, want evicted", err)
	}
	// Sessions used after their minimum age are evictable by a more
	// valuable newcomer: n (one partition) by a bigger consumer session,
	// not by one as small; the follower's by no consumer.
	clk.advance(fetchSessionMinEviction + time.Second)
	incremental(t, c, sessReq(f2, 2, 0), 10)
	incremental(t, c, sessReq(n, 1, 0), 10)
	if id := open(t, c, false, 5); id != 0 {
		t.Fatalf("a one-partition session evicted an old one as small (got %d)", id)
	}
	if id := open(t, c, false, 0, 1, 2, 3); id == 0 {
		t.Fatal("a bigger session could not evict an old smaller one")
	}
	if _, err := c.newContext(sessReq(f2, 3, 0), false); err != nil {
		t.Fatalf("the follower session was evicted: %v", err)
	}
	if _, _, _, ev := c.stats(); ev != 4 {
		t.Fatalf("%d evictions, want 4", ev)
	}
}

func TestFetchSessionBounds(t *testing.T) {
	c, _ := newTestCache(10)
	parts := make([]int32, fetchSessionMaxPartitions+1)
	for i := range parts {
		parts[i] = int32(i)
	}
	if id := open(t, c, false, parts...); id != 0 {
		t.Fatalf("a session of %d partitions was created", len(parts))
	}
	id := open(t, c, false, parts[:fetchSessionMaxPartitions]...)
	if id == 0 {
		t.Fatal("a session at the cap was refused")
	}
	// Growing past the cap closes the session.
	if _, err := c.newContext(sessReq(id, 1, 0, int32(fetchSessionMaxPartitions)), false); !errors.Is(err, kerr.FetchSessionIDNotFound) {
		t.Fatalf("growing past the cap: %v, want FETCH_SESSION_ID_NOT_FOUND", err)
	}
	if n, p, _, _ := c.stats(); n != 0 || p != 0 {
		t.Fatalf("%d sessions, %d partitions left", n, p)
	}
	// No slots, no sessions.
	c0, _ := newTestCache(0)
	if id := open(t, c0, false, 0); id != 0 {
		t.Fatalf("slots 0 created session %d", id)
	}
	// Epoch 0 naming a session replaces it.
	id = open(t, c, false, 0)
	r := sessReq(id, 0, 0, 1)
	fc, _ := c.newContext(r, false)
	resp := answer(fc.r, 1)
	fc.finish(&wire.Request{}, r, resp)
	if resp.SessionID == 0 || resp.SessionID == id {
		t.Fatalf("replacement session %d (old %d)", resp.SessionID, id)
	}
	if n, p, _, _ := c.stats(); n != 1 || p != 1 {
		t.Fatalf("%d sessions, %d partitions after replacing, want 1, 1", n, p)
	}
}

// TestFetchSessionOvertaken: an incremental fetch whose session moved on
// while it waited (the client sent the next epoch meanwhile) is answered
// INVALID_FETCH_SESSION_EPOCH, as Kafka does, and changes nothing.
func TestFetchSessionOvertaken(t *testing.T) {
	c, _ := newTestCache(10)
	id := open(t, c, false, 0, 1)
	slow, err := c.newContext(sessReq(id, 1, 0), false)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := incremental(t, c, sessReq(id, 2, 0), 11); len(got) != 2 {
		t.Fatalf("overtaking fetch answered %v, want both partitions (HW moved)", got)
	}
	r := sessReq(id, 1, 0)
	resp := answer(slow.r, 12, 0)
	slow.finish(&wire.Request{}, r, resp)
	if resp.ErrorCode != kerr.InvalidFetchSessionEpoch.Code || len(resp.Topics) != 0 {
		t.Fatalf("overtaken fetch: error %d, %d topics", resp.ErrorCode, len(resp.Topics))
	}
	// The session is where the overtaking fetch left it: HW 11 was sent.
	if got, _ := incremental(t, c, sessReq(id, 3, 0), 11); len(got) != 0 {
		t.Fatalf("answered %v after the overtaken fetch, want nothing", got)
	}
}
