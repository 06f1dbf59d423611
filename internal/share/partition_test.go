package share

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

var t0 = time.Unix(1000, 0)

func batch(first, last int64) []Range { return []Range{{First: first, Last: last}} }

func TestPartitionAcquireAckAdvance(t *testing.T) {
	p := NewPartition(State{StartOffset: 10}, 5, 100)
	got := p.Acquire("a", batch(10, 14), 3, t0, time.Second)
	if fmt.Sprint(got) != "[{10 12 1 false}]" {
		t.Fatalf("acquired %v, want 10-12 once (max 3 records)", got)
	}
	got = p.Acquire("b", batch(10, 14), 0, t0, time.Second)
	if fmt.Sprint(got) != "[{13 14 1 false}]" {
		t.Fatalf("b acquired %v, want the rest 13-14", got)
	}
	if err := p.Acknowledge("b", 10, 10, []int8{AckAccept}); !errors.Is(err, ErrInvalidRecordState) {
		t.Fatalf("b acknowledging a's record: %v", err)
	}
	if err := p.Acknowledge("a", 10, 12, []int8{AckAccept, AckReject, AckRelease}); err != nil {
		t.Fatal(err)
	}
	if p.StartOffset() != 12 || p.FetchOffset() != 12 {
		t.Fatalf("start %d fetch %d, want 12 and 12 (released)", p.StartOffset(), p.FetchOffset())
	}
	got = p.Acquire("b", batch(12, 14), 0, t0, time.Second)
	if fmt.Sprint(got) != "[{12 12 2 false}]" {
		t.Fatalf("redelivery %v, want 12 with count 2", got)
	}
	if err := p.Acknowledge("b", 12, 14, []int8{AckAccept}); err != nil {
		t.Fatal(err)
	}
	if p.StartOffset() != 15 || p.InFlight() != 0 {
		t.Fatalf("start %d, in flight %d; want 15, 0", p.StartOffset(), p.InFlight())
	}
}

func TestPartitionDeliveryLimitAndExpiry(t *testing.T) {
	p := NewPartition(State{StartOffset: 0}, 2, 100)
	p.Acquire("a", batch(0, 0), 0, t0, time.Second)
	if p.Expire(t0.Add(999 * time.Millisecond)) {
		t.Fatal("expired before the lock ran out")
	}
	if !p.Expire(t0.Add(time.Second)) {
		t.Fatal("lock did not expire")
	}
	if got := p.Acquire("b", batch(0, 0), 0, t0, time.Second); fmt.Sprint(got) != "[{0 0 2 false}]" {
		t.Fatalf("second delivery %v", got)
	}
	if err := p.Acknowledge("b", 0, 0, []int8{AckRelease}); err != nil {
		t.Fatal(err)
	}
	if p.StartOffset() != 1 {
		t.Fatalf("a record released at the delivery limit is archived: start %d, want 1", p.StartOffset())
	}
}

func TestPartitionControlGapsAndLimits(t *testing.T) {
	p := NewPartition(State{StartOffset: 0}, 5, 3)
	got := p.Acquire("a", []Range{{First: 0, Last: 0}, {First: 1, Last: 1, Control: true}, {First: 4, Last: 9}}, 0, t0, time.Second)
	// 1 is a marker (archived), 2-3 are not in the log (archived), and the
	// window (0-4 by then) may not grow past 3 offsets.
	if fmt.Sprint(got) != "[{0 0 1 false} {4 4 1 false}]" {
		t.Fatalf("acquired %v", got)
	}
	if err := p.Acknowledge("a", 0, 0, []int8{9}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("bad type: %v", err)
	}
	if err := p.Acknowledge("a", 3, 4, []int8{AckAccept, AckAccept, AckAccept}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("type count mismatch: %v", err)
	}
	if err := p.Acknowledge("a", 0, 0, []int8{AckAccept}); err != nil {
		t.Fatal(err)
	}
	if p.StartOffset() != 4 {
		t.Fatalf("start %d, want 4 past the marker and the gap", p.StartOffset())
	}
}

func TestPartitionSnapshotRestore(t *testing.T) {
	p := NewPartition(State{StartOffset: 0}, 5, 100)
	p.Acquire("a", batch(0, 5), 0, t0, time.Second)
	if err := p.Acknowledge("a", 1, 2, []int8{AckAccept}); err != nil {
		t.Fatal(err)
	}
	if err := p.Acknowledge("a", 3, 3, []int8{AckRelease}); err != nil {
		t.Fatal(err)
	}
	start, batches := p.Snapshot()
	// 0 acquired (persisted available, count 1), 1-2 acknowledged, 3
	// released (count 1), 4-5 acquired.
	want := "[{0 0 0 1} {1 2 2 1} {3 5 0 1}]"
	if start != 0 || fmt.Sprint(batches) != want {
		t.Fatalf("snapshot %d %v, want 0 %s", start, batches, want)
	}
	q := NewPartition(State{StartOffset: start, Batches: batches}, 5, 100)
	got := q.Acquire("b", batch(0, 7), 0, t0, time.Second)
	if fmt.Sprint(got) != "[{0 0 2 false} {3 5 2 false} {6 7 1 false}]" {
		t.Fatalf("after restore acquired %v", got)
	}
}

// memLog is an in-memory Log.
type memLog struct {
	mu      sync.Mutex
	batches [][]byte
}

func (l *memLog) Append(_ context.Context, b []byte) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	off := int64(len(l.batches))
	c := append([]byte(nil), b...)
	for i := 0; i < 8; i++ {
		c[i] = byte(off >> (56 - 8*i))
	}
	l.batches = append(l.batches, c)
	return off, nil
}

func (l *memLog) Read(offset int64, _ int) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []byte
	for _, b := range l.batches[offset:] {
		out = append(out, b...)
	}
	return out, nil
}

func (l *memLog) LogStartOffset() int64 { return 0 }
func (l *memLog) LogEndOffset() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int64(len(l.batches))
}

func TestStoreReplayAndFencing(t *testing.T) {
	log := &memLog{}
	epoch := int32(1)
	newStore := func() *Store {
		return NewStore(StoreConfig{NumPartitions: 1, Partition: func(int32) (Log, int32, bool) { return log, epoch, true }})
	}
	s := newStore()
	ctx := context.Background()
	k := Key{Group: "g", TopicID: [16]byte{1}, Partition: 3}
	st := State{LeaderEpoch: 4, StartOffset: 7, Batches: []StateBatch{{First: 8, Last: 9, State: Acknowledged, DeliveryCount: 1}}}
	if err := s.Write(ctx, 0, k, st); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, 0, k, State{LeaderEpoch: 3, StartOffset: 0}); !errors.Is(err, ErrFencedLeaderEpoch) {
		t.Fatalf("older leader epoch: %v", err)
	}
	if err := s.Initialize(ctx, 0, k, 20); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, 0, k, st); !errors.Is(err, ErrFencedStateEpoch) {
		t.Fatalf("write after the offsets were reset: %v", err)
	}
	k2 := Key{Group: "g", TopicID: [16]byte{2}, Partition: 0}
	if err := s.Write(ctx, 0, k2, st); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, 0, k2); err != nil {
		t.Fatal(err)
	}
	epoch = 2 // a new leader replays the log
	got, ok, err := newStore().Read(ctx, 0, k)
	if err != nil || !ok || got.StateEpoch != 1 || got.StartOffset != 20 || len(got.Batches) != 0 {
		t.Fatalf("replayed %+v %v %v, want state epoch 1 at 20", got, ok, err)
	}
	if _, ok, _ := newStore().Read(ctx, 0, k2); ok {
		t.Fatal("a deleted key came back on replay")
	}
}

func TestPartitionForKey(t *testing.T) {
	// Java: "g:AAAAAAAAAAAAAAAAAAAAAA:0".hashCode() is stable; check range
	// and determinism only, plus a known Java hash.
	if h := PartitionForKey("a", 50); h != 97%50 {
		t.Fatalf("PartitionForKey(a) = %d, want %d", h, 97%50)
	}
	for _, k := range []string{"", "g:x:0", "ünïcode:y:7"} {
		if p := PartitionForKey(k, 7); p < 0 || p >= 7 {
			t.Fatalf("%q -> %d", k, p)
		}
	}
}

func TestValidateState(t *testing.T) {
	for _, st := range []State{
		{StartOffset: 0, Batches: []StateBatch{{First: 5, Last: 4}}},
		{StartOffset: 0, Batches: []StateBatch{{First: 0, Last: MaxStateSpan}}},
		{StartOffset: 0, Batches: []StateBatch{{First: 0, Last: 1, State: Acquired}}},
		{StartOffset: 0, Batches: []StateBatch{{First: 0, Last: 1, DeliveryCount: -1}}},
	} {
		if err := ValidateState(st); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%+v: %v, want ErrInvalidRequest", st, err)
		}
	}
	if err := ValidateState(State{StartOffset: 10, Batches: []StateBatch{{First: 10, Last: 20, State: Archived, DeliveryCount: 5}}}); err != nil {
		t.Fatal(err)
	}
}

func TestGroupsAssignSimple(t *testing.T) {
	g := NewGroups(GroupsConfig{})
	resolve := func(names []string) []Assigned {
		var out []Assigned
		for _, n := range []string{"few", "many"} {
			if slices.Contains(names, n) {
				a := Assigned{Topic: n, TopicID: [16]byte{byte(len(n))}}
				for p := range map[string]int32{"few": 1, "many": 4}[n] {
					a.Partitions = append(a.Partitions, p)
				}
				out = append(out, a)
			}
		}
		return out
	}
	join := func(id string, topics ...string) HeartbeatResult {
		r, err := g.Heartbeat(Heartbeat{Group: "g", Member: id, Epoch: 0, Topics: topics, ResolveTopics: resolve})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := join("a", "few", "many"); fmt.Sprint(r.Assignment) != "[{[3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0] few [0]} {[4 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0] many [0 1 2 3]}]" {
		t.Fatalf("alone: %v", r.Assignment)
	}
	r := join("b", "few", "many")
	if fmt.Sprint(r.Assignment) != "[{[3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0] few [0]} {[4 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0] many [1 3]}]" {
		t.Fatalf("b: %v (the one partition of few shared, many split)", r.Assignment)
	}
	// a learns its smaller share at its next heartbeat, with a new epoch.
	d, _ := g.Describe("g")
	ra, err := g.Heartbeat(Heartbeat{Group: "g", Member: "a", Epoch: d.Members[0].Epoch, ResolveTopics: resolve})
	if err != nil || ra.Assignment == nil || fmt.Sprint(ra.Assignment[1].Partitions) != "[0 2]" || ra.Epoch <= d.Members[0].Epoch {
		t.Fatalf("a after b joined: %+v %v", ra, err)
	}
}
