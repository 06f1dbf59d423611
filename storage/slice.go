package storage

import (
	"encoding/binary"
	"fmt"
	"os"
	"sort"
)

// Slice is a byte range of a segment file holding whole batches, for
// zero-copy sends (sendfile). File is a fresh read-only descriptor of the
// segment, owned by the caller, who must Close it; having its own file
// description means its offset is private, and the bytes stay readable even
// if retention deletes the segment meanwhile. A range of at most
// SliceCopyMax bytes comes as Data instead, with no File.
type Slice struct {
	File *os.File
	Data []byte // the range's bytes, when it is small; File is then nil
	Pos  int64
	Len  int64
}

// SliceCopyMax is the largest range ReadSlice returns as bytes rather than
// as a file to sendfile. For a few kilobytes (a follower's or a tailing
// consumer's fetch under a steady load) one pread into the response is
// cheaper than opening the segment, seeking, a writev before and after the
// sendfile and closing it again, and the answer leaves in one write, so
// the reader wakes once instead of once per piece.
const SliceCopyMax = 16 << 10

// ReadSlice is Read without copying: it locates the same batches Read would
// return (whole batches from the one containing offset, at most maxBytes but
// at least one batch, none at or past upTo) and returns where they are
// instead of the bytes (small ranges excepted: see SliceCopyMax). The sparse
// index (in memory for the active segment, searched on disk for older ones)
// bounds the header walk to one index interval. ok is false when the segment file is not a plain *os.File (tests
// injecting faults) or vanished under us; the caller then falls back to
// Read. An empty result (offset at the end or at upTo) has Len 0 and no File.
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
	var s *segment
	pos := int64(-1)
	for i := l.segmentFor(offset); i < len(l.segs); i++ {
		s = l.segs[i]
		if h := l.hints.find(s, offset); h != nil {
			pos = h.pos
		} else if pos, err = s.findPos(l.fs, offset); err != nil {
			return Slice{}, false, err
		}
		if pos < s.size {
			break
		}
	}
	if s == nil || pos < 0 || pos >= s.size {
		return Slice{}, true, nil
	}
	if !sendfileable(s.log) {
		return Slice{}, false, nil
	}

	limit := pos + int64(max(maxBytes, 0))
	// Jump through the index to the last indexed batch that starts within
	// the byte limit and below upTo; every batch before it qualifies.
	endPos := pos
	if p := s.lastIndexedWithin(l.fs, limit, upTo); p > pos {
		endPos = p
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
	if n := endPos - pos; n <= l.sliceCopyMax {
		data := make([]byte, n)
		if _, err := s.log.ReadAt(data, pos); err != nil {
			return Slice{}, false, ioErr("read", err)
		}
		l.hints.store(&readHint{seg: s, next: next, pos: endPos})
		return Slice{Data: data, Pos: pos, Len: n}, true, nil
	}
	f, err := os.Open(s.prefix + logSuffix)
	if err != nil {
		// Rolled away or deleted under us: let the caller copy instead.
		return Slice{}, false, nil
	}
	l.hints.store(&readHint{seg: s, next: next, pos: endPos})
	return Slice{File: f, Pos: pos, Len: endPos - pos}, true, nil
}

// lastIndexedWithin returns the position of the last indexed batch that
// starts at or before limit and whose base offset is below upTo, or -1. Both
// conditions only turn from true to false along the index, so one binary
// search finds it: in memory for the active segment, with a few preads of
// the .index file for older ones.
func (s *segment) lastIndexedWithin(fsys fileSystem, limit, upTo int64) int64 {
	beyond := func(rel, pos uint32) bool { return int64(pos) > limit || s.base+int64(rel) >= upTo }
	if s.active {
		j := sort.Search(len(s.idx), func(j int) bool { return beyond(s.idx[j].rel, s.idx[j].pos) }) - 1
		if j < 0 {
			return -1
		}
		return int64(s.idx[j].pos)
	}
	if s.idxLen == 0 {
		return -1
	}
	f, err := fsys.OpenFile(s.prefix+indexSuffix, os.O_RDONLY, 0)
	if err != nil {
		return -1
	}
	defer f.Close()
	var buf [indexEntrySize]byte
	failed := false
	read := func(j int) (rel, pos uint32) {
		if _, err := f.ReadAt(buf[:], int64(j)*indexEntrySize); err != nil {
			failed = true
			return 0, ^uint32(0)
		}
		return binary.BigEndian.Uint32(buf[:4]), binary.BigEndian.Uint32(buf[4:])
	}
	j := sort.Search(int(s.idxLen), func(j int) bool { return beyond(read(j)) }) - 1
	if failed || j < 0 {
		return -1
	}
	_, pos := read(j)
	if failed || int64(pos) >= s.size {
		return -1
	}
	return int64(pos)
}

// sendfileable reports whether f is a real file on disk (not a test's fault
// injector), whose path a Slice may open for sendfile.
func sendfileable(f file) bool {
	switch f := f.(type) {
	case *os.File, *cachedFile:
		return true
	case *trackedFile:
		return sendfileable(f.file)
	}
	return false
}
