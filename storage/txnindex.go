package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// The aborted-transaction index (Kafka's .txnindex): one file per segment,
// "<base>.txnindex", holding an entry for every transaction aborted by an
// ABORT marker inside that segment, in marker order. A read_committed fetch
// needs the aborted transactions overlapping the range it returns, and the
// index answers that from the segments the range touches instead of a list
// of every abort ever made held in memory.
//
// The log does not parse markers itself: the caller (package replica, which
// tracks transactions) appends the entries as it appends or replays the
// markers. An entry is appended to the segment holding its marker (the
// active one, as markers are appended at the log end), and appending is
// idempotent (an entry whose marker offset is not past the segment's last
// entry is already there), so a replay of a log tail after a truncation
// re-adds only what is missing. The file goes wherever its segment goes:
// retention, DeleteRecords and truncation remove it with the segment, a
// truncation inside a segment drops the entries at and after the cut, and
// the cleaner's swap carries the entries of the input segments into the
// cleaned one (cleaner_swap.go).
//
// Durability: entries are written without fsync, and every index written
// since its last fsync is fsynced when a segment rolls (whatever the fsync
// policy; aborts are rare) and at Close.
// After an unclean stop the replica replays the tail after its newest
// producer-state snapshot, which is never above a roll or a clean close,
// and truncates the index at the replay's start first (TruncateAbortedTxns).
//
// Files are opened per operation through the log's file system (the
// FileCache when shared), as inactive segments' indexes are, so an idle
// partition holds no descriptor for them.

// AbortedTxn is one entry of the aborted-transaction index: the producer,
// the offset of its first record in the transaction and of its ABORT
// marker, and the last stable offset once it was aborted. Fetch answers
// carry ProducerID and FirstOffset to read_committed consumers.
type AbortedTxn struct {
	ProducerID       int64
	FirstOffset      int64
	LastOffset       int64
	LastStableOffset int64
}

const (
	txnIndexSuffix = ".txnindex"
	// txnEntrySize: version int16, producer id, first, last and last
	// stable offsets (int64 each), big-endian, as Kafka's entries.
	txnEntrySize    = 34
	txnEntryVersion = 0
)

func encodeTxnEntry(b []byte, e AbortedTxn) {
	binary.BigEndian.PutUint16(b, txnEntryVersion)
	binary.BigEndian.PutUint64(b[2:], uint64(e.ProducerID))
	binary.BigEndian.PutUint64(b[10:], uint64(e.FirstOffset))
	binary.BigEndian.PutUint64(b[18:], uint64(e.LastOffset))
	binary.BigEndian.PutUint64(b[26:], uint64(e.LastStableOffset))
}

func decodeTxnEntry(b []byte) (AbortedTxn, error) {
	if v := binary.BigEndian.Uint16(b); v != txnEntryVersion {
		return AbortedTxn{}, fmt.Errorf("%w: aborted transaction index entry version %d", ErrStorage, v)
	}
	return AbortedTxn{
		ProducerID:       int64(binary.BigEndian.Uint64(b[2:])),
		FirstOffset:      int64(binary.BigEndian.Uint64(b[10:])),
		LastOffset:       int64(binary.BigEndian.Uint64(b[18:])),
		LastStableOffset: int64(binary.BigEndian.Uint64(b[26:])),
	}, nil
}

// txnIndex is a segment's view of its .txnindex file, loaded on first use
// (most segments never have one). Guarded by Log.mu for writing, or by
// Log.mu for reading plus Log.txnMu.
type txnIndex struct {
	loaded bool
	n      int64 // whole entries in the file
	last   int64 // marker offset of the last entry (valid when n > 0)
	dirty  bool  // written since the last fsync
}

// txnLoad learns the entry count and last entry of s's index file. A
// missing file is an empty index; a partial trailing entry (a torn write)
// is ignored and overwritten by the next append.
func (s *segment) txnLoad(fsys fileSystem) error {
	if s.txn.loaded {
		return nil
	}
	f, err := fsys.OpenFile(s.prefix+txnIndexSuffix, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		s.txn = txnIndex{loaded: true}
		return nil
	}
	if err != nil {
		return ioErr("open transaction index "+s.prefix, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ioErr("stat transaction index "+s.prefix, err)
	}
	t := txnIndex{loaded: true, n: fi.Size() / txnEntrySize}
	if t.n > 0 {
		var b [txnEntrySize]byte
		if _, err := f.ReadAt(b[:], (t.n-1)*txnEntrySize); err != nil {
			return ioErr("read transaction index "+s.prefix, err)
		}
		e, err := decodeTxnEntry(b[:])
		if err != nil {
			return err
		}
		t.last = e.LastOffset
	}
	s.txn = t
	return nil
}

// txnEntries reads every entry of s's index.
func (s *segment) txnEntries(fsys fileSystem) ([]AbortedTxn, error) {
	if err := s.txnLoad(fsys); err != nil || s.txn.n == 0 {
		return nil, err
	}
	f, err := fsys.OpenFile(s.prefix+txnIndexSuffix, os.O_RDONLY, 0)
	if err != nil {
		return nil, ioErr("open transaction index "+s.prefix, err)
	}
	defer f.Close()
	b := make([]byte, s.txn.n*txnEntrySize) // n is bounded by the file's size
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, ioErr("read transaction index "+s.prefix, err)
	}
	out := make([]AbortedTxn, 0, s.txn.n)
	for p := 0; p < len(b); p += txnEntrySize {
		e, err := decodeTxnEntry(b[p:])
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// txnAppend adds e to s's index unless an entry for its marker (or a later
// one) is already there.
func (s *segment) txnAppend(fsys fileSystem, e AbortedTxn) error {
	if err := s.txnLoad(fsys); err != nil {
		return err
	}
	if s.txn.n > 0 && e.LastOffset <= s.txn.last {
		return nil
	}
	f, err := fsys.OpenFile(s.prefix+txnIndexSuffix, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return ioErr("open transaction index "+s.prefix, err)
	}
	defer f.Close()
	var b [txnEntrySize]byte
	encodeTxnEntry(b[:], e)
	if _, err := f.WriteAt(b[:], s.txn.n*txnEntrySize); err != nil {
		return ioErr("write transaction index "+s.prefix, err)
	}
	s.txn.n++
	s.txn.last = e.LastOffset
	s.txn.dirty = true
	return nil
}

// txnTruncate drops the entries of s's index whose marker is at or after
// from.
func (s *segment) txnTruncate(fsys fileSystem, from int64) error {
	es, err := s.txnEntries(fsys)
	if err != nil || len(es) == 0 || s.txn.last < from {
		return err
	}
	k := 0
	for k < len(es) && es[k].LastOffset < from {
		k++
	}
	f, err := fsys.OpenFile(s.prefix+txnIndexSuffix, os.O_RDWR, 0o644)
	if err != nil {
		return ioErr("open transaction index "+s.prefix, err)
	}
	defer f.Close()
	if err := f.Truncate(int64(k) * txnEntrySize); err != nil {
		return ioErr("truncate transaction index "+s.prefix, err)
	}
	s.txn.n, s.txn.dirty = int64(k), true
	if k > 0 {
		s.txn.last = es[k-1].LastOffset
	}
	return nil
}

// txnSync fsyncs s's index if it was written since the last fsync.
func (s *segment) txnSync(fsys fileSystem) error {
	if !s.txn.dirty {
		return nil
	}
	f, err := fsys.OpenFile(s.prefix+txnIndexSuffix, os.O_RDWR, 0o644)
	if errors.Is(err, os.ErrNotExist) {
		s.txn.dirty = false // truncated to nothing and removed since
		return nil
	}
	if err != nil {
		return ioErr("open transaction index "+s.prefix, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return ioErr("sync transaction index "+s.prefix, err)
	}
	s.txn.dirty = false
	return nil
}

// syncTxnIndexesLocked fsyncs every segment's index written since its last
// fsync: usually only the active one's, but a replay after a restart may
// have completed older ones. Caller holds mu for writing.
func (l *Log) syncTxnIndexesLocked() error {
	for _, s := range l.segs {
		if err := s.txnSync(l.fs); err != nil {
			return err
		}
	}
	return nil
}

// AppendAbortedTxn records an aborted transaction in the index of the
// segment holding its ABORT marker (e.LastOffset). It is idempotent: an
// entry whose marker is not after that segment's last entry is taken as
// already recorded. The caller appends entries in marker order.
func (l *Log) AppendAbortedTxn(e AbortedTxn) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if err := l.checkWritable(); err != nil {
		return err
	}
	if e.LastOffset < l.segs[0].base || e.LastOffset >= l.active().next {
		return fmt.Errorf("%w: aborted transaction marker %d outside the log [%d, %d)", ErrOffsetOutOfRange, e.LastOffset, l.segs[0].base, l.active().next)
	}
	l.txnMu.Lock()
	defer l.txnMu.Unlock()
	return l.segs[l.segmentFor(e.LastOffset)].txnAppend(l.fs, e)
}

// TruncateAbortedTxns drops every index entry whose marker is at or after
// from: the caller is about to replay the log from there (after an unclean
// stop, the tail of the active segment's index may be torn or missing).
func (l *Log) TruncateAbortedTxns(from int64) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	l.txnMu.Lock()
	defer l.txnMu.Unlock()
	for i := l.segmentFor(from); i < len(l.segs); i++ {
		if err := l.segs[i].txnTruncate(l.fs, from); err != nil {
			return err
		}
	}
	return nil
}

// AbortedTxns returns the aborted transactions that overlap [from, upTo)
// (marker at or after from, first offset before upTo), in marker order, as
// Kafka's collectAbortedTransactions: the indexes are read from the
// segment holding from on (an overlapping transaction's marker is at or
// after from, so no earlier segment holds one), and the walk stops at the
// first entry whose last stable offset reaches upTo: every transaction
// aborted later was still open then, so it began at or after that offset.
func (l *Log) AbortedTxns(from, upTo int64) ([]AbortedTxn, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, ErrClosed
	}
	l.txnMu.Lock()
	defer l.txnMu.Unlock()
	var out []AbortedTxn
	for i := l.segmentFor(from); i < len(l.segs); i++ {
		s := l.segs[i]
		if err := s.txnLoad(l.fs); err != nil {
			return nil, err
		}
		if s.txn.n == 0 || s.txn.last < from {
			continue
		}
		es, err := s.txnEntries(l.fs)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if e.LastOffset >= from && e.FirstOffset < upTo {
				out = append(out, e)
			}
			if e.LastStableOffset >= upTo {
				return out, nil
			}
		}
	}
	return out, nil
}

// carryTxnIndex writes the index entries of o's input segments (their
// markers all lie in the cleaned range) as o's ".txnindex.cleaned", fsynced,
// for finishSwap to rename with the segment, leaving out the aborted
// transactions whose records the pass removed; an empty file when it left
// out every entry, so that the rename replaces the first input's index.
// With no entries at all, it removes a stale one a failed swap may have
// left. Caller holds fileMu and mu.
func (l *Log) carryTxnIndex(o *cleanedSeg) error {
	var b []byte
	had := false
	for _, s := range o.inputs {
		es, err := s.txnEntries(l.fs)
		if err != nil {
			return err
		}
		had = had || len(es) > 0
		for _, e := range es {
			if o.dataGone(e) {
				continue // its records were cleaned away (CleanedAbort)
			}
			var buf [txnEntrySize]byte
			encodeTxnEntry(buf[:], e)
			b = append(b, buf[:]...)
		}
	}
	path := o.prefix + txnIndexSuffix + cleanedSuffix
	if !had {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return ioErr("remove stale cleaned transaction index", err)
		}
		return nil
	}
	if err := writeSynced(path, b); err != nil {
		return ioErr("write cleaned transaction index", err)
	}
	return nil
}

// dataGone reports whether e is an aborted transaction of which o holds
// only the ABORT marker.
func (o *cleanedSeg) dataGone(e AbortedTxn) bool {
	for _, a := range o.aborts {
		if a.ProducerID == e.ProducerID && a.MarkerOffset == e.LastOffset {
			return true
		}
	}
	return false
}
