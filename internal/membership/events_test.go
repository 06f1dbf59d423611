package membership

import (
	"log/slog"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func ev(typ EventType, id int32, version string) Event {
	return Event{Type: typ, Member: Member{Meta: Meta{NodeID: id, Version: version}, State: StateAlive}}
}

// drain reads exactly n events.
func drain(t *testing.T, q *eventQueue, n int) []Event {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	var out []Event
	for range n {
		select {
		case e := <-q.out:
			out = append(out, e)
		case <-timer.C:
			t.Fatalf("got %d events, want %d: %+v", len(out), n, out)
		}
	}
	return out
}

func TestEventQueueCoalescesPerNode(t *testing.T) {
	q := newEventQueue(1)
	defer q.close()
	// Fill the channel (and the pump's hand) so later pushes stay pending.
	q.push(ev(EventJoin, 9, "a"))
	q.push(ev(EventJoin, 8, "a"))
	waitFor(t, "the pump to hold an event", func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return len(q.pending) == 0
	})
	for _, e := range []Event{
		ev(EventJoin, 1, "a"), ev(EventUpdate, 1, "b"), // Join then Update: stays a Join
		ev(EventJoin, 2, "a"), ev(EventFail, 2, "a"), ev(EventJoin, 2, "c"), // restart
		ev(EventUpdate, 3, "a"), ev(EventLeave, 3, "a"), // Update then Leave: the Leave
	} {
		q.push(e) // never blocks although nobody reads
	}
	got := drain(t, q, 5)
	want := []Event{ev(EventJoin, 9, "a"), ev(EventJoin, 8, "a"), ev(EventJoin, 1, "b"), ev(EventJoin, 2, "c"), ev(EventLeave, 3, "a")}
	for i := range want {
		if got[i].Type != want[i].Type || got[i].Member.NodeID != want[i].Member.NodeID || got[i].Member.Version != want[i].Member.Version {
			t.Errorf("event %d = %v %d %q, want %v %d %q", i, got[i].Type, got[i].Member.NodeID, got[i].Member.Version,
				want[i].Type, want[i].Member.NodeID, want[i].Member.Version)
		}
	}
	q.push(ev(EventJoin, 7, "marker")) // the next event, unless replaced ones leaked
	if e := drain(t, q, 1)[0]; e.Member.NodeID != 7 {
		t.Errorf("extra event %+v: a replaced event was delivered too", e)
	}
}

func TestEventQueueCloseEndsFeed(t *testing.T) {
	q := newEventQueue(1)
	for i := range 10 {
		q.push(ev(EventJoin, int32(i), "")) // more than fit; never blocks
	}
	q.close()
	n := 0
	for range q.out {
		n++
	}
	if n > 1 {
		t.Errorf("%d events buffered in a channel of capacity 1", n)
	}
}

// TestLeaveIntentClassifiesDeparture drives the delegate directly: a
// departure after a leave intent is a Leave, without one a Fail, and an
// intent arriving after the Fail corrects it.
func TestLeaveIntentClassifiesDeparture(t *testing.T) {
	m := &Membership{
		cfg:     Config{NodeID: 1},
		name:    nodeName(1),
		log:     slog.New(slog.DiscardHandler),
		members: map[string]*memberState{},
		events:  newEventQueue(16),
	}
	defer m.events.close()
	h := &hooks{m: m}
	node := func(id int32) *memberlist.Node {
		b, _ := encodeMeta(testMeta(id))
		return &memberlist.Node{Name: nodeName(id), Addr: []byte{127, 0, 0, 1}, Port: uint16(7000 + id), Meta: b}
	}
	intent := func(id int32) []byte { return append([]byte{msgLeaveIntent}, nodeName(id)...) }
	// Each step is read before the next, so nothing coalesces.
	expect := func(typ EventType, id int32, state State) {
		t.Helper()
		g := drain(t, m.events, 1)[0]
		if g.Type != typ || g.Member.NodeID != id || g.Member.State != state {
			t.Errorf("event %v %d %v, want %v %d %v", g.Type, g.Member.NodeID, g.Member.State, typ, id, state)
		}
	}
	for id := int32(2); id <= 4; id++ {
		h.NotifyJoin(node(id))
		expect(EventJoin, id, StateAlive)
	}
	h.NotifyMsg(intent(2))
	h.NotifyUpdate(node(2)) // an update does not forget the intent
	expect(EventUpdate, 2, StateAlive)
	h.NotifyLeave(node(2)) // intent first: Leave
	expect(EventLeave, 2, StateLeft)
	h.NotifyLeave(node(3)) // no intent: Fail
	expect(EventFail, 3, StateDead)
	h.NotifyLeave(node(4)) // Fail, then the intent overtaken by it: corrected
	expect(EventFail, 4, StateDead)
	h.NotifyMsg(intent(4))
	expect(EventLeave, 4, StateLeft)
	h.NotifyJoin(node(2)) // back again: a later departure without intent is a Fail
	expect(EventJoin, 2, StateAlive)
	h.NotifyLeave(node(2))
	expect(EventFail, 2, StateDead)

	h.NotifyMsg(intent(99))                             // unknown sender: ignored
	h.NotifyMsg([]byte{'X', 's'})                       // unknown message: ignored
	h.NotifyMsg(append(intent(3), make([]byte, 64)...)) // oversized: ignored
	h.NotifyJoin(node(5))                               // marker: nothing was queued before it
	expect(EventJoin, 5, StateAlive)
	h.NotifyLeave(node(5))
	expect(EventFail, 5, StateDead)
	if ms := m.Members(); len(ms) != 0 {
		t.Errorf("members after all departures: %+v", ms)
	}
}

// TestLeaveAckReleasesWaiter: an acknowledgement closes the waiting Leave's
// channel for that member once; unknown, repeated or malformed
// acknowledgements change nothing.
func TestLeaveAckReleasesWaiter(t *testing.T) {
	m := &Membership{name: nodeName(1), log: slog.New(slog.DiscardHandler), members: map[string]*memberState{}}
	h := &hooks{m: m}
	ch2, ch3 := make(chan struct{}), make(chan struct{})
	m.leaveAcks = map[string]chan struct{}{nodeName(2): ch2, nodeName(3): ch3}
	ack := func(id int32) []byte { return append([]byte{msgLeaveAck}, nodeName(id)...) }

	h.NotifyMsg(ack(9))                              // not waited for: ignored
	h.NotifyMsg(append(ack(3), make([]byte, 64)...)) // oversized: ignored
	h.NotifyMsg(ack(2))
	h.NotifyMsg(ack(2)) // repeated: must not close twice
	select {
	case <-ch2:
	default:
		t.Fatal("acknowledgement from node 2 did not release its waiter")
	}
	select {
	case <-ch3:
		t.Fatal("node 3's waiter released without its acknowledgement")
	default:
	}
	if _, ok := m.leaveAcks[nodeName(3)]; !ok || len(m.leaveAcks) != 1 {
		t.Errorf("waiters left: %v, want only node 3's", m.leaveAcks)
	}
}

// TestLeaveAckLeavingCountsAsIntent: an acknowledgement that says "leaving
// too" marks that member as leaving, but only when Leave waited for it; a
// member's own intent ends Leave's wait for its acknowledgement; and
// peersAllLeaving needs every live member marked.
func TestLeaveAckLeavingCountsAsIntent(t *testing.T) {
	m := &Membership{name: nodeName(1), log: slog.New(slog.DiscardHandler), members: map[string]*memberState{}}
	h := &hooks{m: m}
	for _, id := range []int32{1, 2, 3, 4} {
		m.members[nodeName(id)] = &memberState{m: Member{Meta: testMeta(id), State: StateAlive}}
	}
	m.members[nodeName(4)].m.State = StateDead // gone: not waited for
	m.leaveAcks = map[string]chan struct{}{nodeName(2): make(chan struct{}), nodeName(3): make(chan struct{})}
	ack := func(kind byte, id int32) []byte { return append([]byte{kind}, nodeName(id)...) }

	h.NotifyMsg(ack(msgLeaveAck, 2)) // acknowledged, staying
	h.NotifyMsg(ack(msgLeaveAckLeaving, 2))
	if m.members[nodeName(2)].leaveIntent {
		t.Error("an acknowledgement Leave no longer waited for marked node 2 as leaving")
	}
	h.NotifyMsg(ack(msgLeaveAckLeaving, 3))
	if !m.members[nodeName(3)].leaveIntent {
		t.Error("node 3 said it is leaving too; not marked")
	}
	if m.peersAllLeaving() {
		t.Error("all leaving while node 2 stays")
	}
	ch2 := make(chan struct{})
	m.leaveAcks[nodeName(2)] = ch2
	m.recordLeaveIntent(nodeName(2)) // its own intent arrives while we wait for its acknowledgement
	select {
	case <-ch2:
	default:
		t.Error("node 2 is leaving too, yet Leave still waits for its acknowledgement")
	}
	if !m.peersAllLeaving() {
		t.Error("not all leaving with nodes 2 and 3 marked and node 4 dead")
	}
}

// TestLeaveIntentFloodOneAckAtATime: intents repeated while the
// acknowledgement to that member is being sent are still recorded but
// start no further send, so a flood costs one goroutine per member.
func TestLeaveIntentFloodOneAckAtATime(t *testing.T) {
	m := &Membership{name: nodeName(1), log: slog.New(slog.DiscardHandler), members: map[string]*memberState{},
		events: newEventQueue(16)}
	defer m.events.close()
	m.members[nodeName(2)] = &memberState{m: Member{Meta: testMeta(2), Addr: "127.0.0.1:7002", State: StateAlive}}
	if _, ok := m.recordLeaveIntent(nodeName(2)); !ok {
		t.Fatal("first intent: no acknowledgement to send")
	}
	for range 100 {
		if _, ok := m.recordLeaveIntent(nodeName(2)); ok {
			t.Fatal("intent during a send started another")
		}
	}
	if !m.members[nodeName(2)].leaveIntent {
		t.Error("repeated intents lost the mark")
	}
	m.startLeaveAck(nodeName(2), "127.0.0.1:7002") // not started: sends nothing, ends the send
	if _, ok := m.recordLeaveIntent(nodeName(2)); !ok {
		t.Error("no acknowledgement after the previous send ended")
	}
	if _, ok := m.recordLeaveIntent(nodeName(9)); ok {
		t.Error("unknown sender gets an acknowledgement")
	}
}
