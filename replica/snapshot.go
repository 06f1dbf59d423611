package replica

// Producer-state snapshots (Kafka's .snapshot files): the idempotent
// producer state (producer.go) and the transaction state (txn.go) of a
// partition as of an offset, so that opening or truncating a replica
// replays only the log after the newest snapshot instead of the whole log.
//
// A snapshot is taken when a segment rolls (as of the new segment's base
// offset, before the batches that start it are noted) and on a clean
// close (as of the log end, after the log was closed and fsynced). It is
// written to a temp file, fsynced and renamed, so a crash leaves the old
// set of snapshots or the new one; a torn or corrupt file fails its CRC
// and the next older snapshot is used, or a full scan from the log start.
//
// Which snapshots are trusted: only those at or below the log end (a crash
// may cost the log an unfsynced tail a snapshot already describes; Open
// deletes those) and at or above the log start (a snapshot below it would
// miss the markers deleted with the segments below the start), and
// truncation deletes those above its cut. The newest keepSnapshots are
// kept; older ones go when a new one is written.
//
// File "<offset, 20 digits>.snapshot", big-endian:
//
//	version     uint16  (1)
//	crc         uint32  CRC-32C of everything after it
//	offset      int64   the state is that of the log below this offset
//	flags       uint8   bit 0: a transactional batch was seen
//	producers   uint32  count, then per producer, by id:
//	  id          int64
//	  has         uint8   bit 0 producer entry, 1 open transaction, 2 coordinator epoch
//	  epoch       int16
//	  lastTs      int64   max timestamp of its latest batch
//	  coordEpoch  int32   coordinator epoch of its latest marker
//	  txnFirst    int64   first offset of its open transaction
//	  batches     uint8   count (at most 5), then each:
//	    firstSeq, lastSeq int32; baseOffset, lastOffset int64
//	completing  uint32  count, then each: first, marker int64
//	            (transactions decided by a marker not yet below the
//	            high watermark, which still hold the last stable offset)

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/strombroker/strom/storage"
)

const (
	snapshotSuffix  = ".snapshot"
	snapshotVersion = 1
	// keepSnapshots is how many snapshots a partition keeps: the newest
	// serves a clean open, older ones an unclean open or a truncation into
	// an older segment.
	keepSnapshots = 3

	snapHeaderSize   = 6
	snapProducerSize = 8 + 1 + 2 + 8 + 4 + 8 + 1
	snapBatchSize    = 4 + 4 + 8 + 8
	snapTxnSeen      = 1 << 0
	snapHasEntry     = 1 << 0
	snapHasOngoing   = 1 << 1
	snapHasCoord     = 1 << 2
)

// writeSnapshotFile writes a snapshot file atomically; a variable so that
// a crash test can kill its process in the middle of one.
var writeSnapshotFile = storage.WriteFileAtomic

// errBadSnapshot: a snapshot file fails its CRC or does not parse.
var errBadSnapshot = errors.New("replica: bad producer state snapshot")

var snapCRC = crc32.MakeTable(crc32.Castagnoli)

// partState is what a snapshot holds: the state of a partition's log below
// offset.
type partState struct {
	offset    int64
	producers *producerState
	txns      *txnState
	txnSeen   bool
}

func snapshotPath(dir string, offset int64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", offset, snapshotSuffix))
}

// encodeSnapshot serialises st. Caller holds the owning Partition's mutex
// (st's maps are the live ones).
func encodeSnapshot(st partState) []byte {
	ids := make(map[int64]struct{}, len(st.producers.entries))
	for id := range st.producers.entries {
		ids[id] = struct{}{}
	}
	for id := range st.txns.ongoing {
		ids[id] = struct{}{}
	}
	for id := range st.txns.coordEpoch {
		ids[id] = struct{}{}
	}
	sorted := make([]int64, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	slices.Sort(sorted)
	b := make([]byte, snapHeaderSize, snapHeaderSize+13+len(sorted)*(snapProducerSize+maxCachedBatches*snapBatchSize))
	binary.BigEndian.PutUint16(b, snapshotVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(st.offset))
	var flags byte
	if st.txnSeen {
		flags |= snapTxnSeen
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint32(b, uint32(len(sorted)))
	for _, id := range sorted {
		b = appendProducer(b, id, st)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(st.txns.completing)))
	for _, c := range st.txns.completing {
		b = binary.BigEndian.AppendUint64(b, uint64(c.first))
		b = binary.BigEndian.AppendUint64(b, uint64(c.marker))
	}
	binary.BigEndian.PutUint32(b[2:], crc32.Checksum(b[snapHeaderSize:], snapCRC))
	return b
}

func appendProducer(b []byte, id int64, st partState) []byte {
	var has byte
	e, ok := st.producers.entries[id]
	if ok {
		has |= snapHasEntry
	} else {
		e = &producerEntry{}
	}
	first, open := st.txns.ongoing[id]
	if open {
		has |= snapHasOngoing
	}
	ce, coord := st.txns.coordEpoch[id]
	if coord {
		has |= snapHasCoord
	}
	b = binary.BigEndian.AppendUint64(b, uint64(id))
	b = append(b, has)
	b = binary.BigEndian.AppendUint16(b, uint16(e.epoch))
	b = binary.BigEndian.AppendUint64(b, uint64(e.lastTs))
	b = binary.BigEndian.AppendUint32(b, uint32(ce))
	b = binary.BigEndian.AppendUint64(b, uint64(first))
	b = append(b, byte(len(e.batches)))
	for _, m := range e.batches {
		b = binary.BigEndian.AppendUint32(b, uint32(m.firstSeq))
		b = binary.BigEndian.AppendUint32(b, uint32(m.lastSeq))
		b = binary.BigEndian.AppendUint64(b, uint64(m.baseOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(m.lastOffset))
	}
	return b
}

// snapReader consumes a snapshot body; every count is checked against the
// bytes left before anything is allocated from it.
type snapReader struct {
	b   []byte
	err error
}

func (r *snapReader) take(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.err = fmt.Errorf("%w: truncated", errBadSnapshot)
		return make([]byte, n)
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *snapReader) u8() byte   { return r.take(1)[0] }
func (r *snapReader) i16() int16 { return int16(binary.BigEndian.Uint16(r.take(2))) }
func (r *snapReader) i32() int32 { return int32(binary.BigEndian.Uint32(r.take(4))) }
func (r *snapReader) i64() int64 { return int64(binary.BigEndian.Uint64(r.take(8))) }
func (r *snapReader) count(size int) int {
	n := int64(binary.BigEndian.Uint32(r.take(4)))
	if r.err == nil && n*int64(size) > int64(len(r.b)) {
		r.err = fmt.Errorf("%w: count %d exceeds the file", errBadSnapshot, n)
		return 0
	}
	return int(n)
}

// decodeSnapshot parses a snapshot written by encodeSnapshot for offset.
func decodeSnapshot(b []byte, offset int64) (partState, error) {
	if len(b) < snapHeaderSize {
		return partState{}, fmt.Errorf("%w: %d bytes", errBadSnapshot, len(b))
	}
	if v := binary.BigEndian.Uint16(b); v != snapshotVersion {
		return partState{}, fmt.Errorf("%w: version %d", errBadSnapshot, v)
	}
	if crc32.Checksum(b[snapHeaderSize:], snapCRC) != binary.BigEndian.Uint32(b[2:]) {
		return partState{}, fmt.Errorf("%w: crc mismatch", errBadSnapshot)
	}
	r := &snapReader{b: b[snapHeaderSize:]}
	st := partState{producers: newProducerState(), txns: newTxnState()}
	st.offset = r.i64()
	st.txnSeen = r.u8()&snapTxnSeen != 0
	for n := r.count(snapProducerSize); n > 0 && r.err == nil; n-- {
		readProducer(r, st)
	}
	for n := r.count(16); n > 0 && r.err == nil; n-- {
		st.txns.completing = append(st.txns.completing, completedTxn{first: r.i64(), marker: r.i64()})
	}
	switch {
	case r.err != nil:
		return partState{}, r.err
	case len(r.b) != 0:
		return partState{}, fmt.Errorf("%w: %d trailing bytes", errBadSnapshot, len(r.b))
	case st.offset != offset:
		return partState{}, fmt.Errorf("%w: holds offset %d, named %d", errBadSnapshot, st.offset, offset)
	}
	return st, nil
}

func readProducer(r *snapReader, st partState) {
	id, has := r.i64(), r.u8()
	e := &producerEntry{epoch: r.i16(), lastTs: r.i64()}
	ce, first := r.i32(), r.i64()
	n := int(r.u8())
	if n > maxCachedBatches {
		r.err = fmt.Errorf("%w: %d batches for producer %d", errBadSnapshot, n, id)
		return
	}
	for ; n > 0; n-- {
		e.batches = append(e.batches, batchMeta{firstSeq: r.i32(), lastSeq: r.i32(), baseOffset: r.i64(), lastOffset: r.i64()})
	}
	if has&snapHasEntry != 0 {
		st.producers.entries[id] = e
	}
	if has&snapHasOngoing != 0 {
		st.txns.ongoing[id] = first
	}
	if has&snapHasCoord != 0 {
		st.txns.coordEpoch[id] = ce
	}
}

// listSnapshots returns the offsets of the snapshots in dir, ascending.
func listSnapshots(dir string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var offs []int64
	for _, e := range entries {
		stem, ok := strings.CutSuffix(e.Name(), snapshotSuffix)
		if !ok || len(stem) != 20 {
			continue
		}
		if off, err := strconv.ParseInt(stem, 10, 64); err == nil && off >= 0 {
			offs = append(offs, off)
		}
	}
	slices.Sort(offs)
	return offs, nil
}

// removeSnapshot deletes one snapshot file; a failure only costs a later
// open some scanning, or is retried by the next pruning, so it is logged.
func (p *Partition) removeSnapshot(off int64) {
	if err := os.Remove(snapshotPath(p.log.Dir(), off)); err != nil && !errors.Is(err, os.ErrNotExist) {
		p.logger.Warn("cannot remove producer state snapshot", "offset", off, "err", err)
	}
}

// pruneSnapshots deletes the snapshots outside [start, end] and all but
// the newest keepSnapshots of the others.
func (p *Partition) pruneSnapshots(start, end int64) {
	offs, err := listSnapshots(p.log.Dir())
	if err != nil {
		p.logger.Warn("cannot list producer state snapshots", "err", err)
		return
	}
	kept := 0
	for i := len(offs) - 1; i >= 0; i-- {
		off := offs[i]
		if off < start || off > end || kept == keepSnapshots {
			p.removeSnapshot(off)
			continue
		}
		kept++
	}
}

// takeSnapshotLocked writes the current producer and transaction state as
// that of the log below offset (fsynced, atomically) and prunes old
// snapshots. A failure is logged, not returned: a snapshot only saves
// scanning. Caller holds p.mu.
func (p *Partition) takeSnapshotLocked(offset int64) {
	if p.noSnapshots {
		return
	}
	b := encodeSnapshot(partState{offset: offset, producers: p.producers, txns: p.txns, txnSeen: p.txnSeen.Load()})
	if err := writeSnapshotFile(snapshotPath(p.log.Dir(), offset), b); err != nil {
		p.logger.Warn("cannot write producer state snapshot", "offset", offset, "err", err)
		return
	}
	p.snapshotAt = offset
	p.pruneSnapshots(p.log.LogStartOffset(), offset)
}

// pruneSnapshotsBelowStart deletes the snapshots below the log start once
// retention or DeleteRecords moved it from before.
func (p *Partition) pruneSnapshotsBelowStart(before int64) {
	if p.log.LogStartOffset() == before {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pruneSnapshots(p.log.LogStartOffset(), math.MaxInt64)
}

// loadSnapshotLocked returns the newest valid snapshot in [start, end],
// deleting on the way those above end (describing a tail the log no longer
// has) and corrupt ones; ok is false when there is none. Caller holds p.mu.
func (p *Partition) loadSnapshotLocked(start, end int64) (st partState, ok bool) {
	offs, err := listSnapshots(p.log.Dir())
	if err != nil {
		p.logger.Warn("cannot list producer state snapshots; scanning the whole log", "err", err)
		return partState{}, false
	}
	for i := len(offs) - 1; i >= 0; i-- {
		off := offs[i]
		if off > end {
			p.removeSnapshot(off)
			continue
		}
		if off < start {
			return partState{}, false
		}
		b, err := os.ReadFile(snapshotPath(p.log.Dir(), off))
		if err == nil {
			st, err = decodeSnapshot(b, off)
		}
		if err == nil {
			return st, true
		}
		p.logger.Warn("ignoring unreadable producer state snapshot", "offset", off, "err", err)
		p.removeSnapshot(off)
	}
	return partState{}, false
}
