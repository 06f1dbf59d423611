package membership

import "sync"

// EventType says what happened to a member.
type EventType uint8

const (
	// EventJoin: a member appeared, or came back after leaving or failing
	// (possibly at a new address).
	EventJoin EventType = iota + 1
	// EventUpdate: a live member changed its meta.
	EventUpdate
	// EventLeave: a member left gracefully (Leave). It is not coming back
	// soon; its partitions can move without waiting.
	EventLeave
	// EventFail: a member stopped answering and was declared dead by the
	// failure detector, or shut down without Leave.
	EventFail
)

func (t EventType) String() string {
	switch t {
	case EventJoin:
		return "join"
	case EventUpdate:
		return "update"
	case EventLeave:
		return "leave"
	case EventFail:
		return "fail"
	default:
		return "unknown"
	}
}

// State is a member's state as this broker sees it.
//
// There is no "suspect" state: memberlist v0.6.0 never reports suspicion to
// its delegates (the State field of the nodes it hands out is never filled
// in), so a suspect member counts as alive until it is declared dead.
type State uint8

const (
	// StateAlive: the member answers probes.
	StateAlive State = iota + 1
	// StateLeft: the member left gracefully.
	StateLeft
	// StateDead: the member was declared dead (or shut down without Leave).
	StateDead
)

func (s State) String() string {
	switch s {
	case StateAlive:
		return "alive"
	case StateLeft:
		return "left"
	case StateDead:
		return "dead"
	default:
		return "unknown"
	}
}

// Member is one broker as seen through gossip.
type Member struct {
	Meta
	// Addr is the member's gossip address (host:port).
	Addr  string
	State State
}

// Event is one membership change. Member carries the meta and address the
// member had at that moment (for Leave and Fail: its last known ones).
type Event struct {
	Type   EventType
	Member Member
}

// eventQueue turns memberlist's synchronous callbacks into a channel without
// ever blocking them: push only appends to a pending list under a short lock,
// and the run goroutine (the only sender on out) moves pending events into
// the channel. When the consumer falls behind, pending events for the same
// node coalesce into the newest, so the list holds at most one event per
// node and memory stays bounded however slow the consumer is.
type eventQueue struct {
	out  chan Event
	wake chan struct{} // capacity 1: "pending is not empty"
	done chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	pending []Event
}

func newEventQueue(capacity int) *eventQueue {
	q := &eventQueue{
		out:  make(chan Event, capacity),
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	q.wg.Add(1)
	go q.run()
	return q
}

// push queues ev. It never blocks beyond the queue's own short lock, so it is
// safe to call from memberlist's callbacks (which hold memberlist's node lock).
func (q *eventQueue) push(ev Event) {
	q.mu.Lock()
	for i, p := range q.pending {
		if p.Member.NodeID != ev.Member.NodeID {
			continue
		}
		// A consumer that never saw the Join must still get a Join: an
		// update of a node it does not know yet is the same news.
		if p.Type == EventJoin && ev.Type == EventUpdate {
			ev.Type = EventJoin
		}
		q.pending = append(q.pending[:i], q.pending[i+1:]...)
		break
	}
	q.pending = append(q.pending, ev)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default: // already signalled
	}
}

func (q *eventQueue) pop() (Event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) == 0 {
		return Event{}, false
	}
	ev := q.pending[0]
	q.pending = q.pending[1:]
	return ev, true
}

// run delivers pending events in order until close; it closes out on exit so
// consumers ranging over Events end.
func (q *eventQueue) run() {
	defer q.wg.Done()
	defer close(q.out)
	for {
		select {
		case <-q.done:
			return
		case <-q.wake:
		}
		for {
			ev, ok := q.pop()
			if !ok {
				break
			}
			select {
			case q.out <- ev:
			case <-q.done:
				return
			}
		}
	}
}

// close stops delivery and waits for run to end. Events still pending are
// dropped: after shutdown only Members' last answer matters.
func (q *eventQueue) close() {
	close(q.done)
	q.wg.Wait()
}
