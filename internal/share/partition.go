package share

import (
	"fmt"
	"time"
)

// RecordState is the delivery state of one offset of a share-partition
// (Kafka's RecordState; the persisted codes are Kafka's DeliveryState).
type RecordState int8

// Record states. Acquired is never persisted: a record acquired when the
// state is written is stored as Available with its delivery count, so a
// new leader offers it again (at-least-once) without forgetting how often
// it was delivered.
const (
	Available    RecordState = 0
	Acquired     RecordState = 1
	Acknowledged RecordState = 2
	Archived     RecordState = 4
)

// Acknowledgement types of ShareFetch and ShareAcknowledge.
const (
	AckGap     int8 = 0
	AckAccept  int8 = 1
	AckRelease int8 = 2
	AckReject  int8 = 3
)

// StateBatch is a run of offsets sharing a state and delivery count.
type StateBatch struct {
	First, Last   int64
	State         RecordState
	DeliveryCount int16
}

// State is a share-partition's persisted state: the share-partition start
// offset (SPSO; every offset below it is done) and the state of the
// in-flight offsets above it. Offsets at or after the end of the last batch
// have never been delivered.
type State struct {
	StateEpoch  int32
	LeaderEpoch int32
	StartOffset int64
	Batches     []StateBatch
}

// Range is a run of log offsets: a record batch as read from the log, or a
// run of acquired records. Control batches (transaction markers) are never
// delivered: their offsets are archived when reached.
type Range struct {
	First, Last   int64
	DeliveryCount int16
	Control       bool
}

// offsetState is one in-flight offset.
type offsetState struct {
	state  RecordState
	count  int16
	owner  string // member holding the acquisition lock
	expiry time.Time
}

// Partition is the in-memory state machine of one share-partition: which
// offsets in [SPSO, end) are available, acquired (by whom, until when),
// acknowledged or archived. It is pure logic; callers serialise access
// and persist Snapshot after changes. window[i] is offset start+i.
type Partition struct {
	start  int64
	window []offsetState
	// limits
	deliveryLimit int16
	maxInFlight   int
}

// MaxStateSpan bounds how far above the start offset a persisted state
// may describe offsets: a window is at most group.share.partition.max.record.locks
// long, and this is far above any sane setting of it.
const MaxStateSpan = 1 << 20

// ValidateState checks a state from the network or the log: offsets
// ordered and within MaxStateSpan of the start offset, known delivery
// states, non-negative counts.
func ValidateState(st State) error {
	for _, b := range st.Batches {
		switch {
		case b.First > b.Last || b.First < 0:
			return fmt.Errorf("%w: state batch %d-%d", ErrInvalidRequest, b.First, b.Last)
		case st.StartOffset >= 0 && b.Last-st.StartOffset >= MaxStateSpan:
			return fmt.Errorf("%w: state batch ends %d past the start offset %d", ErrInvalidRequest, b.Last, st.StartOffset)
		case b.State != Available && b.State != Acknowledged && b.State != Archived:
			return fmt.Errorf("%w: delivery state %d", ErrInvalidRequest, b.State)
		case b.DeliveryCount < 0:
			return fmt.Errorf("%w: delivery count %d", ErrInvalidRequest, b.DeliveryCount)
		}
	}
	return nil
}

// NewPartition restores a share-partition from its persisted state
// (offsets beyond MaxStateSpan of the start offset are ignored: see
// ValidateState).
func NewPartition(st State, deliveryLimit int16, maxInFlight int) *Partition {
	p := &Partition{start: st.StartOffset, deliveryLimit: max(deliveryLimit, 1), maxInFlight: max(maxInFlight, 1)}
	for _, b := range st.Batches {
		for o := max(b.First, p.start); o <= min(b.Last, p.start+MaxStateSpan-1); o++ {
			p.grow(o + 1)
			s := b.State
			if s == Acquired {
				s = Available
			}
			p.window[o-p.start] = offsetState{state: s, count: b.DeliveryCount}
		}
	}
	p.advance()
	return p
}

// grow extends the window with never-delivered offsets up to end.
func (p *Partition) grow(end int64) {
	for p.start+int64(len(p.window)) < end {
		p.window = append(p.window, offsetState{})
	}
}

// StartOffset is the SPSO.
func (p *Partition) StartOffset() int64 { return p.start }

// EndOffset is the first offset never acquired.
func (p *Partition) EndOffset() int64 { return p.start + int64(len(p.window)) }

// InFlight is the number of offsets in [SPSO, end) not yet done.
func (p *Partition) InFlight() int {
	n := 0
	for _, o := range p.window {
		if o.state == Available || o.state == Acquired {
			n++
		}
	}
	return n
}

// FetchOffset is the first offset worth reading from the log: the lowest
// available offset in the window, or the window's end.
func (p *Partition) FetchOffset() int64 {
	for i, o := range p.window {
		if o.state == Available {
			return p.start + int64(i)
		}
	}
	return p.EndOffset()
}

// AdvanceTo moves the SPSO to off when the log no longer holds the offsets
// below it (retention, DeleteRecords): they are archived, as Kafka does.
func (p *Partition) AdvanceTo(off int64) {
	if off <= p.start {
		return
	}
	if n := off - p.start; n >= int64(len(p.window)) {
		p.window = p.window[:0]
	} else {
		p.window = p.window[n:]
	}
	p.start = off
	p.advance()
}

// advance moves the SPSO past every leading acknowledged or archived offset.
func (p *Partition) advance() {
	i := 0
	for i < len(p.window) && (p.window[i].state == Acknowledged || p.window[i].state == Archived) {
		i++
	}
	if i > 0 {
		p.start += int64(i)
		p.window = append(p.window[:0:0], p.window[i:]...)
	}
}

// Acquire locks for member the available offsets of batches (log batches
// in offset order, read from FetchOffset), at most maxRecords of them (0:
// no limit), until now+lock. Offsets past the window's end are added to it
// while it spans fewer than maxInFlight offsets; offsets the log skips
// (compaction) and control batches are archived. It returns the acquired
// runs, each with its delivery count.
func (p *Partition) Acquire(member string, batches []Range, maxRecords int, now time.Time, lock time.Duration) []Range {
	var out []Range
	n := 0
	for _, b := range batches {
		for o := max(b.First, p.start); o <= b.Last; o++ {
			if maxRecords > 0 && n >= maxRecords {
				return out
			}
			if o >= p.EndOffset() {
				if len(p.window) >= p.maxInFlight {
					return out // Kafka bounds the whole window, SPSO to end
				}
				gap := p.EndOffset()
				p.grow(o + 1)
				for g := gap; g < o; g++ {
					p.window[g-p.start].state = Archived // not in the log
				}
			}
			s := &p.window[o-p.start]
			if s.state != Available {
				continue
			}
			if b.Control {
				s.state = Archived
				continue
			}
			s.state, s.owner, s.expiry = Acquired, member, now.Add(lock)
			s.count++
			n++
			out = appendRange(out, o, s.count)
		}
	}
	p.advance()
	return out
}

// appendRange adds offset o with count to runs, extending the last run
// when it is contiguous with the same count.
func appendRange(runs []Range, o int64, count int16) []Range {
	if l := len(runs); l > 0 && runs[l-1].Last == o-1 && runs[l-1].DeliveryCount == count {
		runs[l-1].Last = o
		return runs
	}
	return append(runs, Range{First: o, Last: o, DeliveryCount: count})
}

// Acknowledge applies one acknowledgement batch of member: types holds one
// type for the whole range or one per offset. Every offset must be
// acquired by member (ErrInvalidRecordState otherwise, and nothing
// changes). Accept acknowledges, reject and gap archive, release makes the
// record available again unless it reached the delivery count limit, in
// which case it is archived.
func (p *Partition) Acknowledge(member string, first, last int64, types []int8) error {
	if first > last || len(types) == 0 || (len(types) != 1 && int64(len(types)) != last-first+1) {
		return fmt.Errorf("%w: acknowledgement batch %d-%d with %d types", ErrInvalidRequest, first, last, len(types))
	}
	for i, t := range types {
		if t < AckGap || t > AckReject {
			return fmt.Errorf("%w: acknowledge type %d at %d", ErrInvalidRequest, t, first+int64(i))
		}
	}
	for o := first; o <= last; o++ {
		if o < p.start || o >= p.EndOffset() {
			return fmt.Errorf("%w: offset %d is not in flight", ErrInvalidRecordState, o)
		}
		if s := p.window[o-p.start]; s.state != Acquired || s.owner != member {
			return fmt.Errorf("%w: offset %d is not acquired by this member", ErrInvalidRecordState, o)
		}
	}
	for o := first; o <= last; o++ {
		t := types[0]
		if len(types) > 1 {
			t = types[o-first]
		}
		s := &p.window[o-p.start]
		switch t {
		case AckAccept:
			s.state = Acknowledged
		case AckRelease:
			p.release(s)
		default:
			s.state = Archived
		}
		s.owner = ""
	}
	p.advance()
	return nil
}

// release makes an acquired record available again, or archives it once
// it was delivered deliveryLimit times (a poison record stops there).
func (p *Partition) release(s *offsetState) {
	s.owner, s.expiry = "", time.Time{}
	if s.count >= p.deliveryLimit {
		s.state = Archived
		return
	}
	s.state = Available
}

// ReleaseMember releases every record member holds (its share session
// closed or it left); it reports whether anything changed.
func (p *Partition) ReleaseMember(member string) bool {
	return p.releaseIf(func(s *offsetState) bool { return s.owner == member })
}

// Expire releases the records whose acquisition lock ran out by now.
func (p *Partition) Expire(now time.Time) bool {
	return p.releaseIf(func(s *offsetState) bool { return !s.expiry.After(now) })
}

func (p *Partition) releaseIf(match func(*offsetState) bool) bool {
	changed := false
	for i := range p.window {
		if s := &p.window[i]; s.state == Acquired && match(s) {
			p.release(s)
			changed = true
		}
	}
	if changed {
		p.advance()
	}
	return changed
}

// NextExpiry is the earliest acquisition lock deadline (zero: none).
func (p *Partition) NextExpiry() time.Time {
	var t time.Time
	for _, s := range p.window {
		if s.state == Acquired && (t.IsZero() || s.expiry.Before(t)) {
			t = s.expiry
		}
	}
	return t
}

// Snapshot is the state to persist: the SPSO and runs of every offset that
// is not a never-delivered available one (acquired offsets as available,
// with their delivery count).
func (p *Partition) Snapshot() (start int64, batches []StateBatch) {
	for i, s := range p.window {
		st := s.state
		if st == Acquired {
			st = Available
		}
		if st == Available && s.count == 0 {
			continue
		}
		o := p.start + int64(i)
		if l := len(batches); l > 0 && batches[l-1].Last == o-1 && batches[l-1].State == st && batches[l-1].DeliveryCount == s.count {
			batches[l-1].Last = o
			continue
		}
		batches = append(batches, StateBatch{First: o, Last: o, State: st, DeliveryCount: s.count})
	}
	return p.start, batches
}
