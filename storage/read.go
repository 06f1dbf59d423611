package storage

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"sync/atomic"
)

// readHint remembers where a Read stopped, so a consumer or follower reading
// the tail continues without an index lookup or header scan.
type readHint struct {
	seg  *segment
	next int64 // offset following the last batch returned
	pos  int64 // position following the last batch returned
}

// readHints keeps the last few reads' hints, one per reader in the common
// case: with one hint, the two followers of an RF 3 partition (and any
// consumer) took turns overwriting it, and every fetch went back to the
// index and a header walk of up to an index interval, a pread per batch.
// Readers store round robin; anything that rewrites positions (truncation,
// segment deletion, a cleaner swap) clears them, holding mu for writing.
type readHints struct {
	slot [4]atomic.Pointer[readHint]
	turn atomic.Uint32
}

// find returns the hint for a read of offset in seg, or nil.
func (hs *readHints) find(seg *segment, offset int64) *readHint {
	for i := range hs.slot {
		if h := hs.slot[i].Load(); h != nil && h.seg == seg && h.next == offset && h.pos < seg.size {
			return h
		}
	}
	return nil
}

func (hs *readHints) store(h *readHint) {
	hs.slot[hs.turn.Add(1)%uint32(len(hs.slot))].Store(h)
}

func (hs *readHints) clear() {
	for i := range hs.slot {
		hs.slot[i].Store(nil)
	}
}

// shrinkThreshold: a Read result using less than half of a buffer larger than
// this is copied into a right-sized one, so trimmed reads do not pin memory.
const shrinkThreshold = 64 << 10

// Read returns whole batches starting with the one containing offset, up to
// maxBytes (but always at least one whole batch, KIP-74) and never including a
// batch whose base offset is >= upTo. Returns empty when offset == upTo.
//
// Reading at LogEndOffset (or at/after upTo) returns an empty result and no
// error; an offset below LogStartOffset or above LogEndOffset is
// ErrOffsetOutOfRange. The result comes from a single segment (the next
// Read continues in the next one) and is a freshly allocated slice owned by
// the caller. The first batch may start before offset (offsets inside a
// batch are not addressable), as in Kafka.
func (l *Log) Read(offset int64, maxBytes int, upTo int64) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, ErrClosed
	}
	start, end := l.logStart.Load(), l.active().next
	if offset < start || offset > end {
		return nil, fmt.Errorf("%w: offset %d outside [%d, %d]", ErrOffsetOutOfRange, offset, start, end)
	}
	if offset >= end || offset >= upTo {
		return nil, nil
	}
	i := l.segmentFor(offset)
	if h := l.hints.find(l.segs[i], offset); h != nil {
		return l.readAt(h.seg, h.pos, maxBytes, upTo)
	}
	for ; i < len(l.segs); i++ {
		s := l.segs[i]
		pos, err := s.findPos(l.fs, offset)
		if err != nil {
			return nil, err
		}
		if pos < s.size {
			return l.readAt(s, pos, maxBytes, upTo)
		}
	}
	return nil, nil
}

// segmentFor returns the index of the last segment with base <= offset (0 if
// none). Caller holds mu.
func (l *Log) segmentFor(offset int64) int {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset })
	return max(i-1, 0)
}

// readAt reads whole batches of s from pos. Caller holds mu (read).
func (l *Log) readAt(s *segment, pos int64, maxBytes int, upTo int64) ([]byte, error) {
	avail := s.size - pos
	n := min(int64(max(maxBytes, batchHeaderSize)), avail, max(s.upperBound(upTo)-pos, batchHeaderSize))
	buf := make([]byte, n)
	if _, err := s.log.ReadAt(buf, pos); err != nil {
		return nil, ioErr("read segment "+s.prefix, err)
	}
	p, lastEnd := 0, int64(-1)
	for p+batchHeaderSize <= len(buf) {
		base := int64(binary.BigEndian.Uint64(buf[p:]))
		blen := int32(binary.BigEndian.Uint32(buf[p+8:]))
		if blen < minBatchLength || int64(blen)+batchLengthEnd > avail-int64(p) {
			return nil, fmt.Errorf("%w: segment %s: corrupt batch length %d at %d", ErrStorage, s.prefix, blen, pos+int64(p))
		}
		if base >= upTo {
			break
		}
		size := int(blen) + batchLengthEnd
		if p+size > len(buf) {
			if p > 0 {
				break
			}
			// KIP-74: the first batch is returned whole even above maxBytes.
			// Its size was checked against the segment size above.
			buf = make([]byte, size)
			if _, err := s.log.ReadAt(buf, pos); err != nil {
				return nil, ioErr("read segment "+s.prefix, err)
			}
		}
		lastEnd = base + int64(int32(binary.BigEndian.Uint32(buf[p+offLastDelta:]))) + 1
		p += size
	}
	if p == 0 {
		if len(buf) < batchHeaderSize {
			return nil, fmt.Errorf("%w: segment %s: %d stray bytes at %d", ErrStorage, s.prefix, len(buf), pos)
		}
		return nil, nil
	}
	l.hints.store(&readHint{seg: s, next: lastEnd, pos: pos + int64(p)})
	if len(buf) > shrinkThreshold && p < len(buf)/2 {
		return append([]byte(nil), buf[:p]...), nil
	}
	return buf[:p:p], nil
}

// ScanBatches calls fn for each batch header from offset on (used to rebuild
// producer state). The raw bytes passed are only valid during the call.
//
// from below LogStartOffset starts at LogStartOffset. The scan reads through
// Read in 1 MiB steps without holding locks while fn runs, so fn may call
// other methods of the Log; it stops at the log end seen when it started, or
// at the first error returned by fn (which ScanBatches returns).
func (l *Log) ScanBatches(from int64, fn func(h BatchHeader, raw []byte) error) error {
	end := l.LogEndOffset()
	off := max(from, l.LogStartOffset())
	for off < end {
		data, err := l.Read(off, 1<<20, end)
		if err != nil {
			return err
		}
		if len(data) == 0 {
			return nil
		}
		for p := 0; p < len(data); {
			h := decodeHeader(data[p:])
			size := h.Size()
			if err := fn(h, data[p:p+size]); err != nil {
				return err
			}
			off = h.LastOffset() + 1
			p += size
		}
	}
	return nil
}

// OffsetForTimestamp returns the first offset whose batch max timestamp is >= ts
// and that batch's timestamp; found is false if none.
//
// Only batch headers are parsed, so the answer has batch granularity: the
// batch's base offset (or LogStartOffset if that is higher) and its max
// timestamp. A consumer seeking there may see a few earlier records of the
// same batch, as with any Kafka fetch.
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, found bool, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0, 0, false, ErrClosed
	}
	start := l.logStart.Load()
	for _, s := range l.segs {
		if s.size == 0 || s.maxTs < ts || s.next <= start {
			continue
		}
		from := max(s.timeLookup(l.fs, ts), start)
		pos := s.lookup(l.fs, from)
		var hit BatchHeader
		ok := false
		if _, err := s.scanFor(pos, func(h BatchHeader) bool {
			if h.LastOffset() >= start && h.MaxTimestamp >= ts {
				hit, ok = h, true
			}
			return ok
		}); err != nil {
			return 0, 0, false, err
		}
		if ok {
			return max(hit.BaseOffset, start), hit.MaxTimestamp, true, nil
		}
	}
	return 0, 0, false, nil
}

// MaxTimestamp returns the offset and value of the largest timestamp
// (ListOffsets -3). The offset is the base offset of the batch carrying it
// (batch granularity, see OffsetForTimestamp); (-1, -1) for an empty log.
func (l *Log) MaxTimestamp() (offset int64, timestamp int64, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0, 0, ErrClosed
	}
	offset, timestamp = -1, math.MinInt64
	start := l.logStart.Load()
	for _, s := range l.segs {
		if s.maxTsOff >= 0 && s.next > start && s.maxTs > timestamp {
			offset, timestamp = max(s.maxTsOff, start), s.maxTs
		}
	}
	if offset < 0 {
		return -1, -1, nil
	}
	return offset, timestamp, nil
}
