package storage

import (
	"fmt"
	"os"
	"sort"
)

// Slice is a byte range of a segment file holding whole batches, for
// zero-copy sends (sendfile). File is a fresh read-only descriptor of the
// segment, owned by the caller, who must Close it; having its own file
// description means its offset is private, and the bytes stay readable even
// if retention deletes the segment meanwhile.
type Slice struct {
	File *os.File
	Pos  int64
	Len  int64
}

// ReadSlice is Read without copying: it locates the same batches Read would
// return (whole batches from the one containing offset, at most maxBytes but
// at least one batch, none at or past upTo) and returns where they are
// instead of the bytes. It serves the active segment, where the in-memory
// sparse index bounds the header walk; ok is false elsewhere (older
// segments, or a file that is not a plain *os.File), and the caller falls
// back to Read. An empty result (offset at the end or at upTo) has Len 0 and
// no File.
func (l *Log) ReadSlice(offset int64, maxBytes int, upTo int64) (sl Slice, ok bool, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return Slice{}, false, ErrClosed
	}
	start, end := l.logStart.Load(), l.active().next
	if offset < start || offset > end {
		return Slice{}, false, fmt.Errorf("%w: offset %d outside [%d, %d]", ErrOffsetOutOfRange, offset, start, end)
	}
	if offset >= end || offset >= upTo {
		return Slice{}, true, nil
	}
	i := l.segmentFor(offset)
	s := l.segs[i]
	if !s.active {
		return Slice{}, false, nil
	}
	if _, isOS := s.log.(*os.File); !isOS {
		return Slice{}, false, nil
	}
	var pos int64
	if h := l.hint.Load(); h != nil && h.seg == s && h.next == offset && h.pos < s.size {
		pos = h.pos
	} else if pos, err = s.findPos(l.fs, offset); err != nil {
		return Slice{}, false, err
	}
	if pos >= s.size {
		return Slice{}, true, nil
	}

	limit := pos + int64(max(maxBytes, 0))
	// Jump through the in-memory index to the last indexed batch that starts
	// within the byte limit and below upTo; every batch before it qualifies.
	endPos := pos
	j := sort.Search(len(s.idx), func(j int) bool {
		return int64(s.idx[j].pos) > limit || s.base+int64(s.idx[j].rel) >= upTo
	}) - 1
	if j >= 0 && int64(s.idx[j].pos) > pos {
		endPos = int64(s.idx[j].pos)
	}
	// Walk the remaining headers (at most an index interval's worth).
	next := int64(-1)
	var buf [batchHeaderSize]byte
	for endPos < s.size {
		h, err := s.headerAt(endPos, buf[:])
		if err != nil {
			return Slice{}, false, err
		}
		size := int64(h.Size())
		if h.BaseOffset >= upTo || (endPos+size > limit && endPos > pos) {
			next = h.BaseOffset
			break
		}
		endPos += size
	}
	if endPos >= s.size {
		next = s.next
	}
	if endPos == pos {
		return Slice{}, true, nil
	}
	f, err := os.Open(s.prefix + logSuffix)
	if err != nil {
		// Rolled away or deleted under us: let the caller copy instead.
		return Slice{}, false, nil
	}
	l.hint.Store(&readHint{seg: s, next: next, pos: endPos})
	return Slice{File: f, Pos: pos, Len: endPos - pos}, true, nil
}
