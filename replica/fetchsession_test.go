package replica

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFollowerFetchSessionRequests walks the follower's side of a fetch
// session (Kafka's FetchSessionHandler): a full request first, then only
// changed partitions, forgotten ones named, and back to a full request after
// errors.
func TestFollowerFetchSessionRequests(t *testing.T) {
	n := newReplNode(t, 2, replOptions{})
	f := newFetcher(n.m.repl, 1, "127.0.0.1:1") // never run
	p := n.part()
	w := func(part int32, off int64, epoch int32) work {
		return work{key: tp{replTopic, part}, st: &fetchState{p: p, topicID: replTopicID, epoch: epoch},
			topicID: replTopicID, epoch: epoch, offset: off}
	}
	named := func(r *kmsg.FetchRequest) map[int32]int64 {
		out := map[int32]int64{}
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				out[p.Partition] = p.FetchOffset
			}
		}
		return out
	}
	forgotten := func(r *kmsg.FetchRequest) []int32 {
		var out []int32
		for _, ft := range r.ForgottenTopics {
			if ft.TopicID != replTopicID {
				t.Fatalf("forgotten topic id %x", ft.TopicID)
			}
			out = append(out, ft.Partitions...)
		}
		return out
	}
	step := func(name string, ws []work, wantID, wantEpoch int32, wantNamed map[int32]int64, wantForgotten int, answerID int32) {
		t.Helper()
		r, next := f.fetchRequest(ws, time.Time{})
		if r.SessionID != wantID || r.SessionEpoch != wantEpoch {
			t.Fatalf("%s: session %d epoch %d, want %d/%d", name, r.SessionID, r.SessionEpoch, wantID, wantEpoch)
		}
		got := named(r)
		if len(got) != len(wantNamed) {
			t.Fatalf("%s: named %v, want %v", name, got, wantNamed)
		}
		for k, v := range wantNamed {
			if got[k] != v {
				t.Fatalf("%s: named %v, want %v", name, got, wantNamed)
			}
		}
		if fg := forgotten(r); len(fg) != wantForgotten {
			t.Fatalf("%s: forgotten %v, want %d", name, fg, wantForgotten)
		}
		f.sess.answered(answerID, next)
	}
	step("first", []work{w(0, 0, 1), w(1, 0, 1)}, 0, 0, map[int32]int64{0: 0, 1: 0}, 0, 77)
	step("unchanged", []work{w(0, 0, 1), w(1, 0, 1)}, 77, 1, map[int32]int64{}, 0, 77)
	step("moved, dropped", []work{w(0, 5, 1)}, 77, 2, map[int32]int64{0: 5}, 1, 77)
	step("new epoch, re-added", []work{w(0, 5, 2), w(1, 3, 1)}, 77, 3, map[int32]int64{0: 5, 1: 3}, 0, 77)
	// INVALID_FETCH_SESSION_EPOCH or a failed request: a full fetch that
	// closes the old session.
	f.sess.reset(true)
	step("after epoch error", []work{w(0, 5, 2), w(1, 3, 1)}, 77, 0, map[int32]int64{0: 5, 1: 3}, 0, 88)
	step("new session", []work{w(0, 5, 2), w(1, 3, 1)}, 88, 1, map[int32]int64{}, 0, 88)
	// FETCH_SESSION_ID_NOT_FOUND: a full fetch asking for a new session.
	f.sess.reset(false)
	step("after session lost", []work{w(0, 5, 2)}, 0, 0, map[int32]int64{0: 5}, 0, 99)
	// The leader closing the session (id 0 in an incremental answer):
	// full fetches again.
	step("closed by leader", []work{w(0, 5, 2)}, 99, 1, map[int32]int64{}, 0, 0)
	step("sessionless", []work{w(0, 5, 2)}, 0, 0, map[int32]int64{0: 5}, 0, 0)
	step("still sessionless", []work{w(0, 5, 2)}, 0, 0, map[int32]int64{0: 5}, 0, 0)
}

// scriptedLeader answers each Fetch with the next of its answers and
// records the requests.
type scriptedLeader struct {
	answers []*kmsg.FetchResponse
	reqs    []*kmsg.FetchRequest
}

func (l *scriptedLeader) Request(_ context.Context, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.FetchRequest)
	l.reqs = append(l.reqs, r)
	resp := l.answers[0]
	l.answers = l.answers[1:]
	return resp, nil
}

func (l *scriptedLeader) Close() error { return nil }

// TestFollowerFetchSessionErrors: the fetcher answers the leader's session
// errors by fetching in full, and reads an incremental answer's omissions
// as "nothing new" rather than as a missing partition.
func TestFollowerFetchSessionErrors(t *testing.T) {
	n := newReplNode(t, 2, replOptions{})
	f := newFetcher(n.m.repl, 1, "127.0.0.1:1") // never run
	p := n.part()
	st := &fetchState{p: p, topicID: replTopicID, epoch: 1}
	f.parts[tp{replTopic, 0}] = st
	ws := []work{{key: tp{replTopic, 0}, st: st, topicID: replTopicID, epoch: 1, offset: 0}}
	answer := func(id int32, code int16, parts ...int32) *kmsg.FetchResponse {
		resp := kmsg.NewPtrFetchResponse()
		resp.SessionID, resp.ErrorCode = id, code
		if len(parts) > 0 {
			rt := kmsg.NewFetchResponseTopic()
			rt.TopicID = replTopicID
			for _, i := range parts {
				rp := kmsg.NewFetchResponseTopicPartition()
				rp.Partition, rp.HighWatermark, rp.LogStartOffset = i, 0, 0
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	l := &scriptedLeader{answers: []*kmsg.FetchResponse{
		answer(7, 0, 0), // full: session 7
		answer(7, 0),    // incremental, nothing new
		answer(0, kerr.InvalidFetchSessionEpoch.Code), // -> full, closing 7
		answer(8, 0, 0), // full: session 8
		answer(0, kerr.FetchSessionIDNotFound.Code), // -> full, no id
		answer(9, 0, 0), // full: session 9
		answer(0, kerr.NotLeaderForPartition.Code), // other error: a failed request
		answer(9, 0, 0), // full, closing 9 and reopening
	}}
	want := []struct{ id, epoch int32 }{{0, 0}, {7, 1}, {7, 2}, {7, 0}, {8, 1}, {0, 0}, {9, 1}, {9, 0}}
	for i := range want {
		err := f.fetch(context.Background(), l, ws, time.Time{})
		if (i == 6) != (err != nil) {
			t.Fatalf("fetch %d: %v", i, err)
		}
		if st.retryAt.After(time.Now()) {
			t.Fatalf("fetch %d parked the partition", i)
		}
	}
	for i, r := range l.reqs {
		if r.SessionID != want[i].id || r.SessionEpoch != want[i].epoch {
			t.Errorf("request %d: session %d epoch %d, want %d/%d", i, r.SessionID, r.SessionEpoch, want[i].id, want[i].epoch)
		}
	}
}
