package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"sort"
	"time"
)

const (
	indexEntrySize     = 8  // relative offset u32 + position u32
	timeIndexEntrySize = 12 // timestamp i64 + relative offset u32
	scanBufferSize     = 64 << 10
)

// errIndexMismatch: the batch at the last offset-index entry does not start
// at the offset the entry claims; recovery falls back to a full scan.
var errIndexMismatch = errors.New("index entry does not match batch")

type indexEntry struct {
	rel uint32 // batch base offset - segment base offset
	pos uint32 // byte position of the batch in the .log file
}

type timeEntry struct {
	ts  int64  // largest batch max timestamp seen so far in the segment
	rel uint32 // base offset of the batch carrying ts, relative to the segment
}

// segment is one .log file plus its two sparse indexes.
//
// Only the active (last) segment keeps its indexes in memory and its index
// files open; inactive segments answer index lookups by pread on files opened
// per lookup, so an idle broker with many partitions holds almost nothing.
// All fields are guarded by Log.mu.
type segment struct {
	base     int64
	prefix   string // path without extension
	log      file
	size     int64 // bytes of valid batches in log
	next     int64 // offset after the last batch (base when empty)
	maxTs    int64 // largest batch max timestamp (-1 if none)
	maxTsOff int64 // base offset of the batch carrying maxTs (-1 if empty)
	rollAt   time.Time

	active     bool
	idx        []indexEntry
	tidx       []timeEntry
	idxFile    file
	tidxFile   file
	bytesSince int64 // bytes appended since the last index entry

	idxLen  int64 // entries in the .index file (inactive segments)
	tidxLen int64 // entries in the .timeindex file (inactive segments)

	// idxDisk and tidxDisk: how many leading entries of idx and tidx the
	// active segment's index files hold (and nothing else); -1 when the
	// files must be rewritten whole. Appends only add entries in memory:
	// the files are brought up to date when the segment rolls or the log
	// closes (flushIndexes), since recovery rebuilds an active segment's
	// indexes after a crash anyway. Two small pwrites per append were a
	// fixed per-partition cost of every produce request.
	idxDisk, tidxDisk int

	txn txnIndex // the .txnindex file (txnindex.go)
}

func newSegmentStruct(dir string, base int64) *segment {
	return &segment{base: base, prefix: segmentPrefix(dir, base), next: base, maxTs: -1, maxTsOff: -1}
}

// createSegment creates empty files for a new active segment.
func createSegment(fsys fileSystem, dir string, base int64, now time.Time) (*segment, error) {
	s := newSegmentStruct(dir, base)
	s.active = true
	s.rollAt = now
	var err error
	flags := os.O_RDWR | os.O_CREATE | os.O_TRUNC
	if s.log, err = fsys.OpenFile(s.prefix+logSuffix, flags, 0o644); err != nil {
		return nil, ioErr("create segment", err)
	}
	if s.idxFile, err = fsys.OpenFile(s.prefix+indexSuffix, flags, 0o644); err != nil {
		s.close()
		return nil, ioErr("create index", err)
	}
	if s.tidxFile, err = fsys.OpenFile(s.prefix+timeIndexSuffix, flags, 0o644); err != nil {
		s.close()
		return nil, ioErr("create time index", err)
	}
	// A new segment's aborted-transaction index starts empty (a segment
	// at this base may have existed before a truncation).
	if err := os.Remove(s.prefix + txnIndexSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.close()
		return nil, ioErr("remove stale transaction index", err)
	}
	s.txn = txnIndex{loaded: true}
	return s, nil
}

// openSegmentLog opens an existing .log file and records its size.
func openSegmentLog(fsys fileSystem, dir string, base int64) (*segment, error) {
	s := newSegmentStruct(dir, base)
	f, err := fsys.OpenFile(s.prefix+logSuffix, os.O_RDWR, 0o644)
	if err != nil {
		return nil, ioErr("open segment", err)
	}
	s.log = f
	fi, err := f.Stat()
	if err != nil {
		s.close()
		return nil, ioErr("stat segment", err)
	}
	s.size = fi.Size()
	if s.size > math.MaxUint32 {
		s.close()
		return nil, fmt.Errorf("%w: segment %s is %d bytes, too large to index", ErrStorage, s.prefix, s.size)
	}
	s.rollAt = fi.ModTime()
	return s, nil
}

// close closes every open file of the segment, ignoring errors (the data was
// already written; Sync reports durability problems).
func (s *segment) close() {
	for _, f := range []file{s.log, s.idxFile, s.tidxFile} {
		if f != nil {
			_ = f.Close()
		}
	}
	s.idxFile, s.tidxFile = nil, nil
}

// remove closes the segment and deletes its files, the .log first so that a
// crash part-way leaves only orphan indexes, which Open deletes.
func (s *segment) remove() error {
	s.close()
	var first error
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
		if err := os.Remove(s.prefix + suf); err != nil && !errors.Is(err, os.ErrNotExist) && first == nil {
			first = ioErr("remove segment", err)
		}
	}
	return first
}

// activate opens the index files for writing and loads them into memory. It
// reports whether the files were internally consistent; on false the caller
// must rescan from position 0.
func (s *segment) activate(fsys fileSystem) (bool, error) {
	var err error
	if s.idxFile == nil {
		if s.idxFile, err = fsys.OpenFile(s.prefix+indexSuffix, os.O_RDWR|os.O_CREATE, 0o644); err != nil {
			return false, ioErr("open index", err)
		}
	}
	if s.tidxFile == nil {
		if s.tidxFile, err = fsys.OpenFile(s.prefix+timeIndexSuffix, os.O_RDWR|os.O_CREATE, 0o644); err != nil {
			return false, ioErr("open time index", err)
		}
	}
	s.active = true
	s.idx, s.tidx = nil, nil
	ib, err := readAll(s.idxFile)
	if err != nil {
		return false, ioErr("read index", err)
	}
	tb, err := readAll(s.tidxFile)
	if err != nil {
		return false, ioErr("read time index", err)
	}
	if len(ib)%indexEntrySize != 0 || len(tb)%timeIndexEntrySize != 0 {
		s.idxDisk, s.tidxDisk = -1, -1
		return false, nil
	}
	for i := 0; i < len(ib); i += indexEntrySize {
		e := indexEntry{binary.BigEndian.Uint32(ib[i:]), binary.BigEndian.Uint32(ib[i+4:])}
		if int64(e.pos) >= s.size || e.pos == 0 || (len(s.idx) > 0 && (e.rel <= s.idx[len(s.idx)-1].rel || e.pos <= s.idx[len(s.idx)-1].pos)) {
			s.idx = nil
			s.idxDisk, s.tidxDisk = -1, -1
			return false, nil
		}
		s.idx = append(s.idx, e)
	}
	for i := 0; i < len(tb); i += timeIndexEntrySize {
		e := timeEntry{int64(binary.BigEndian.Uint64(tb[i:])), binary.BigEndian.Uint32(tb[i+8:])}
		if len(s.tidx) > 0 && (e.ts <= s.tidx[len(s.tidx)-1].ts || e.rel < s.tidx[len(s.tidx)-1].rel) {
			s.idx, s.tidx = nil, nil
			s.idxDisk, s.tidxDisk = -1, -1
			return false, nil
		}
		s.tidx = append(s.tidx, e)
	}
	s.idxDisk, s.tidxDisk = len(s.idx), len(s.tidx)
	return true, nil
}

// readAll reads a whole (index) file. Index files are bounded by the segment
// size / index interval, so this is small.
func readAll(f file) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > math.MaxInt32 {
		return nil, fmt.Errorf("index file of %d bytes is implausible", fi.Size())
	}
	b := make([]byte, fi.Size())
	n, err := f.ReadAt(b, 0)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(b)) {
		return nil, err
	}
	return b, nil
}

// track folds one batch at pos into the in-memory state of the active
// segment, adding sparse index entries every indexInterval bytes.
func (s *segment) track(h BatchHeader, pos int64, indexInterval int64) {
	added := false
	rel := uint32(h.BaseOffset - s.base)
	if s.bytesSince >= indexInterval && pos > 0 && (len(s.idx) == 0 || rel > s.idx[len(s.idx)-1].rel) {
		s.idx = append(s.idx, indexEntry{rel: rel, pos: uint32(pos)})
		s.bytesSince = 0
		added = true
	}
	size := int64(h.Size())
	s.bytesSince += size
	if s.maxTsOff < 0 || h.MaxTimestamp > s.maxTs {
		s.maxTs, s.maxTsOff = h.MaxTimestamp, h.BaseOffset
	}
	if added {
		s.maybeAppendTimeEntry()
	}
	s.size = pos + size
	s.next = h.LastOffset() + 1
}

// maybeAppendTimeEntry records the current max timestamp if it grew.
func (s *segment) maybeAppendTimeEntry() bool {
	if s.maxTsOff < 0 || (len(s.tidx) > 0 && s.maxTs <= s.tidx[len(s.tidx)-1].ts) {
		return false
	}
	s.tidx = append(s.tidx, timeEntry{ts: s.maxTs, rel: uint32(s.maxTsOff - s.base)})
	return true
}

// segState is the part of an active segment an append may change; appends
// snapshot it to roll back after a failed write.
type segState struct {
	size, next, maxTs, maxTsOff, bytesSince int64
	nIdx, nTidx                             int
}

func (s *segment) state() segState {
	return segState{s.size, s.next, s.maxTs, s.maxTsOff, s.bytesSince, len(s.idx), len(s.tidx)}
}

func (s *segment) restore(st segState) {
	s.size, s.next, s.maxTs, s.maxTsOff, s.bytesSince = st.size, st.next, st.maxTs, st.maxTsOff, st.bytesSince
	s.idx, s.tidx = s.idx[:st.nIdx], s.tidx[:st.nTidx]
	s.dropDiskBeyond(st.nIdx, st.nTidx)
}

// dropDiskBeyond notes that the in-memory indexes were cut to nIdx and
// nTidx entries: files holding more must be rewritten whole, or entries
// added later would be written after stale ones.
func (s *segment) dropDiskBeyond(nIdx, nTidx int) {
	if s.idxDisk > nIdx || s.tidxDisk > nTidx {
		s.idxDisk, s.tidxDisk = -1, -1
	}
}

func encodeIndex(es []indexEntry) []byte {
	b := make([]byte, len(es)*indexEntrySize)
	for i, e := range es {
		binary.BigEndian.PutUint32(b[i*indexEntrySize:], e.rel)
		binary.BigEndian.PutUint32(b[i*indexEntrySize+4:], e.pos)
	}
	return b
}

func encodeTimeIndex(es []timeEntry) []byte {
	b := make([]byte, len(es)*timeIndexEntrySize)
	for i, e := range es {
		binary.BigEndian.PutUint64(b[i*timeIndexEntrySize:], uint64(e.ts))
		binary.BigEndian.PutUint32(b[i*timeIndexEntrySize+8:], e.rel)
	}
	return b
}

// flushIndexes writes the index entries the files do not hold yet (all of
// them, truncating the files, when they must be rewritten).
func (s *segment) flushIndexes() error {
	if s.idxDisk < 0 || s.idxDisk > len(s.idx) || s.tidxDisk < 0 || s.tidxDisk > len(s.tidx) {
		return s.rewriteIndexes() // entries the files hold were dropped in memory
	}
	if len(s.idx) > s.idxDisk {
		if _, err := s.idxFile.WriteAt(encodeIndex(s.idx[s.idxDisk:]), int64(s.idxDisk)*indexEntrySize); err != nil {
			return ioErr("write index "+s.prefix, err)
		}
		s.idxDisk = len(s.idx)
	}
	if len(s.tidx) > s.tidxDisk {
		if _, err := s.tidxFile.WriteAt(encodeTimeIndex(s.tidx[s.tidxDisk:]), int64(s.tidxDisk)*timeIndexEntrySize); err != nil {
			return ioErr("write time index "+s.prefix, err)
		}
		s.tidxDisk = len(s.tidx)
	}
	return nil
}

// truncateLog cuts the active segment's .log back to the size in st (used
// to undo a failed append; appends do not write the index files).
func (s *segment) truncateLog(st segState) error {
	if err := s.log.Truncate(st.size); err != nil {
		return ioErr("truncate segment "+s.prefix, err)
	}
	return nil
}

// rewriteIndexes replaces both index files with the in-memory entries.
func (s *segment) rewriteIndexes() error {
	s.idxDisk, s.tidxDisk = -1, -1 // until both files are whole again
	ib, tb := encodeIndex(s.idx), encodeTimeIndex(s.tidx)
	if _, err := s.idxFile.WriteAt(ib, 0); err != nil {
		return ioErr("write index "+s.prefix, err)
	}
	if err := s.idxFile.Truncate(int64(len(ib))); err != nil {
		return ioErr("truncate index "+s.prefix, err)
	}
	if _, err := s.tidxFile.WriteAt(tb, 0); err != nil {
		return ioErr("write time index "+s.prefix, err)
	}
	if err := s.tidxFile.Truncate(int64(len(tb))); err != nil {
		return ioErr("truncate time index "+s.prefix, err)
	}
	s.idxDisk, s.tidxDisk = len(s.idx), len(s.tidx)
	return nil
}

// rescan rebuilds the in-memory state of an active segment by reading batch
// headers from the keep'th index entry (0: from the start) up to limit. The
// index entries before it and the time entries below its offset are trusted.
//
// With verify, every batch's CRC is checked (streamed through a fixed buffer:
// nothing is allocated from on-disk lengths). Scanning stops at the first
// torn, corrupt or out-of-order batch: corrupt describes why, and s.size is
// then the position to truncate at. ioErr is a read failure, in which case
// nothing may be truncated.
func (s *segment) rescan(keep int, limit int64, verify bool, indexInterval int64) (corrupt, ioFailure error) {
	keep = min(keep, len(s.idx))
	pos := s.rewind(keep)
	next := s.next
	if limit <= pos {
		return nil, nil
	}
	// The buffer is no larger than what there is to scan: a restart of
	// thousands of small partitions would otherwise allocate 64 KiB each.
	r := bufio.NewReaderSize(io.NewSectionReader(s.log, pos, limit-pos), int(min(max(limit-pos, 4096), scanBufferSize)))
	hdr := make([]byte, batchHeaderSize)
	torn := func(err error) (error, error) {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("torn batch at position %d", pos), nil
		}
		return nil, ioErr("read segment "+s.prefix, err)
	}
	first := true
	for pos < limit {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return torn(err)
		}
		h := decodeHeader(hdr)
		if err := h.check(false); err != nil {
			return fmt.Errorf("position %d: %w", pos, err), nil
		}
		size := int64(h.Size())
		if pos+size > limit {
			return fmt.Errorf("torn batch at position %d: %d bytes declared, %d present", pos, size, limit-pos), nil
		}
		if first && keep > 0 && h.BaseOffset != next {
			return nil, errIndexMismatch
		}
		first = false
		if h.BaseOffset < s.next || h.LastOffset()-s.base > math.MaxUint32 {
			return fmt.Errorf("position %d: batch offset %d out of order (expected >= %d)", pos, h.BaseOffset, s.next), nil
		}
		crcOK, err := readBatchBody(r, hdr, size-batchHeaderSize, h.CRC, verify)
		if err != nil {
			return torn(err)
		}
		if !crcOK {
			return fmt.Errorf("position %d: crc mismatch", pos), nil
		}
		s.track(h, pos, indexInterval)
		pos += size
	}
	return nil, nil
}

// rewind resets the in-memory state of the segment to its keep'th offset
// index entry (0: to the start), the point rescan reads on from: offset
// index entries from keep on and time index entries at or above that
// entry's offset are dropped, the max timestamp falls back to the last time
// entry kept, and size and next offset to the entry's position and offset.
// It returns that position. keep must be at most len(s.idx).
func (s *segment) rewind(keep int) int64 {
	s.idx = s.idx[:keep]
	pos, next := int64(0), s.base
	if keep > 0 {
		pos, next = int64(s.idx[keep-1].pos), s.base+int64(s.idx[keep-1].rel)
	}
	k := 0
	for k < len(s.tidx) && s.base+int64(s.tidx[k].rel) < next {
		k++
	}
	s.tidx = s.tidx[:k]
	s.dropDiskBeyond(keep, k)
	s.maxTs, s.maxTsOff = -1, -1
	if k > 0 {
		s.maxTs, s.maxTsOff = s.tidx[k-1].ts, s.base+int64(s.tidx[k-1].rel)
	}
	s.size, s.next, s.bytesSince = pos, next, 0
	return pos
}

// readBatchBody consumes the rest bytes of a batch that follow its header
// hdr from r. With verify they are streamed through the CRC-32C (which
// covers the header from the attributes on) in pieces no larger than r's
// buffer, so nothing is allocated from the on-disk length, and it reports
// whether the result is want. Without verify it skips them and reports true.
// An error is r's (io.EOF or io.ErrUnexpectedEOF for a torn batch).
func readBatchBody(r *bufio.Reader, hdr []byte, rest int64, want uint32, verify bool) (bool, error) {
	if !verify {
		_, err := r.Discard(int(rest))
		return true, err
	}
	crc := crc32.Update(0, castagnoli, hdr[crcStart:])
	for rest > 0 {
		p, err := r.Peek(int(min(rest, int64(r.Size()))))
		if err != nil {
			return false, err
		}
		crc = crc32.Update(crc, castagnoli, p)
		_, _ = r.Discard(len(p))
		rest -= int64(len(p))
	}
	return crc == want, nil
}

// deactivate turns the active segment into an inactive one: it records the
// final max timestamp in the time index (so retention knows it after a
// restart without scanning), optionally fsyncs the index files, closes them
// and drops the in-memory indexes.
func (s *segment) deactivate(syncIndexes bool) error {
	if !s.active {
		return nil
	}
	st := s.state()
	s.maybeAppendTimeEntry()
	if err := s.flushIndexes(); err != nil {
		s.restore(st)
		return err
	}
	if syncIndexes {
		if err := s.idxFile.Sync(); err != nil {
			return ioErr("sync index "+s.prefix, err)
		}
		if err := s.tidxFile.Sync(); err != nil {
			return ioErr("sync time index "+s.prefix, err)
		}
	}
	_ = s.idxFile.Close()
	_ = s.tidxFile.Close()
	s.idxFile, s.tidxFile = nil, nil
	s.idxLen, s.tidxLen = int64(len(s.idx)), int64(len(s.tidx))
	s.idx, s.tidx = nil, nil
	s.active = false
	return nil
}

// checkInactiveIndexes cheaply validates the index files of an inactive
// segment at Open (sizes are whole entries, the last entry points inside the
// log) and loads the segment's max timestamp from the last time entry. It
// returns false if the indexes must be rebuilt.
func (s *segment) checkInactiveIndexes(fsys fileSystem) bool {
	ib, ok := readLastEntry(fsys, s.prefix+indexSuffix, indexEntrySize)
	if !ok {
		return false
	}
	tb, ok := readLastEntry(fsys, s.prefix+timeIndexSuffix, timeIndexEntrySize)
	if !ok {
		return false
	}
	s.idxLen, s.tidxLen = ib.n, tb.n
	if ib.n > 0 {
		if pos := binary.BigEndian.Uint32(ib.last[4:]); pos == 0 || int64(pos) >= s.size {
			return false
		}
	}
	if s.size > 0 && tb.n == 0 {
		return false
	}
	if tb.n > 0 {
		s.maxTs = int64(binary.BigEndian.Uint64(tb.last))
		s.maxTsOff = s.base + int64(binary.BigEndian.Uint32(tb.last[8:]))
	}
	return true
}

type lastEntry struct {
	n    int64
	last []byte
}

func readLastEntry(fsys fileSystem, path string, entrySize int64) (lastEntry, bool) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return lastEntry{}, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size()%entrySize != 0 {
		return lastEntry{}, false
	}
	le := lastEntry{n: fi.Size() / entrySize}
	if le.n == 0 {
		return le, true
	}
	le.last = make([]byte, entrySize)
	if _, err := f.ReadAt(le.last, fi.Size()-entrySize); err != nil {
		return lastEntry{}, false
	}
	return le, true
}

// lookup returns the position of a batch at or before the one containing
// off, from the sparse offset index. Index trouble on an inactive segment
// falls back to position 0, which is always correct, just slower: the
// index is an accelerator, the .log is the truth.
func (s *segment) lookup(fsys fileSystem, off int64) int64 {
	if off <= s.base {
		return 0
	}
	rel := off - s.base
	if s.active {
		i := sort.Search(len(s.idx), func(i int) bool { return int64(s.idx[i].rel) > rel })
		if i == 0 {
			return 0
		}
		return int64(s.idx[i-1].pos)
	}
	if s.idxLen == 0 {
		return 0
	}
	f, err := fsys.OpenFile(s.prefix+indexSuffix, os.O_RDONLY, 0)
	if err != nil {
		return 0
	}
	defer f.Close()
	var buf [indexEntrySize]byte
	failed := false
	i := sort.Search(int(s.idxLen), func(i int) bool {
		if _, err := f.ReadAt(buf[:], int64(i)*indexEntrySize); err != nil {
			failed = true
			return true
		}
		return int64(binary.BigEndian.Uint32(buf[:])) > rel
	})
	if failed || i == 0 {
		return 0
	}
	if _, err := f.ReadAt(buf[:], int64(i-1)*indexEntrySize); err != nil {
		return 0
	}
	if pos := int64(binary.BigEndian.Uint32(buf[4:])); pos < s.size {
		return pos
	}
	return 0
}

// upperBound returns a position at or after the first batch whose base
// offset is >= off, so a read stopping at off need not fetch more. Only the
// active segment (in-memory index) is bounded; otherwise s.size.
func (s *segment) upperBound(off int64) int64 {
	if !s.active || off >= s.next {
		return s.size
	}
	rel := off - s.base
	i := sort.Search(len(s.idx), func(i int) bool { return int64(s.idx[i].rel) > rel })
	if i == len(s.idx) {
		return s.size
	}
	return int64(s.idx[i].pos)
}

// timeLookup returns an offset from which a forward scan finds the first
// batch with max timestamp >= ts: the offset of the last time entry whose
// timestamp is < ts (every batch before that entry's indexing point has a
// smaller timestamp), or the segment base.
func (s *segment) timeLookup(fsys fileSystem, ts int64) int64 {
	if s.active {
		i := sort.Search(len(s.tidx), func(i int) bool { return s.tidx[i].ts >= ts })
		if i == 0 {
			return s.base
		}
		return s.base + int64(s.tidx[i-1].rel)
	}
	if s.tidxLen == 0 {
		return s.base
	}
	f, err := fsys.OpenFile(s.prefix+timeIndexSuffix, os.O_RDONLY, 0)
	if err != nil {
		return s.base
	}
	defer f.Close()
	var buf [timeIndexEntrySize]byte
	failed := false
	i := sort.Search(int(s.tidxLen), func(i int) bool {
		if _, err := f.ReadAt(buf[:], int64(i)*timeIndexEntrySize); err != nil {
			failed = true
			return true
		}
		return int64(binary.BigEndian.Uint64(buf[:])) >= ts
	})
	if failed || i == 0 {
		return s.base
	}
	if _, err := f.ReadAt(buf[:], int64(i-1)*timeIndexEntrySize); err != nil {
		return s.base
	}
	return s.base + int64(binary.BigEndian.Uint32(buf[8:]))
}

// headerAt reads and sanity-checks the batch header at pos.
func (s *segment) headerAt(pos int64, buf []byte) (BatchHeader, error) {
	if pos+batchHeaderSize > s.size {
		return BatchHeader{}, fmt.Errorf("%w: segment %s: header at %d beyond end %d", ErrStorage, s.prefix, pos, s.size)
	}
	if _, err := s.log.ReadAt(buf[:batchHeaderSize], pos); err != nil {
		return BatchHeader{}, ioErr("read segment "+s.prefix, err)
	}
	h := decodeHeader(buf)
	if h.BatchLength < minBatchLength || pos+int64(h.Size()) > s.size {
		return BatchHeader{}, fmt.Errorf("%w: segment %s: corrupt batch length %d at %d", ErrStorage, s.prefix, h.BatchLength, pos)
	}
	return h, nil
}

// findPos returns the position of the first batch whose last offset is >=
// off, or s.size if there is none, starting from the sparse index entry.
func (s *segment) findPos(fsys fileSystem, off int64) (int64, error) {
	start := s.lookup(fsys, off)
	pos, err := s.scanFor(start, func(h BatchHeader) bool { return h.LastOffset() >= off })
	if err != nil && start != 0 {
		// A bad index entry must not make data unreadable: retry from 0.
		return s.scanFor(0, func(h BatchHeader) bool { return h.LastOffset() >= off })
	}
	return pos, err
}

// scanFor walks batch headers from pos and returns the position of the first
// batch for which stop is true, or s.size.
func (s *segment) scanFor(pos int64, stop func(BatchHeader) bool) (int64, error) {
	var buf [batchHeaderSize]byte
	for pos < s.size {
		h, err := s.headerAt(pos, buf[:])
		if err != nil {
			return 0, err
		}
		if stop(h) {
			return pos, nil
		}
		pos += int64(h.Size())
	}
	return s.size, nil
}

// timestamp is the time retention uses: the largest batch timestamp, or the
// file's modification time when batches carry no timestamps (as Kafka).
func (s *segment) timestamp() int64 {
	if s.maxTs >= 0 {
		return s.maxTs
	}
	if fi, err := s.log.Stat(); err == nil {
		return fi.ModTime().UnixMilli()
	}
	return math.MaxInt64 // unknown: never expire by time
}
