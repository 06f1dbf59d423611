package replica

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/strombroker/strom/storage"
)

// TestSnapshotRoundTrip: a snapshot decodes to the state it was encoded
// from, and any damage (a flipped byte, a cut, another offset) is refused.
func TestSnapshotRoundTrip(t *testing.T) {
	ps := newProducerState()
	ps.entries[7] = &producerEntry{epoch: 3, lastTs: 1700000000000, batches: []batchMeta{{0, 4, 10, 14}, {5, 5, 20, 20}}}
	ps.entries[9] = &producerEntry{epoch: 0, lastTs: -1}
	full := &producerEntry{epoch: 1, lastTs: 5}
	for i := range maxCachedBatches {
		full.batches = append(full.batches, batchMeta{int32(i), int32(i), int64(30 + i), int64(30 + i)})
	}
	ps.entries[1<<40] = full
	ts := newTxnState()
	ts.ongoing[7] = 12
	ts.coordEpoch[9] = 4
	ts.coordEpoch[11] = 2 // a producer known only by its marker's coordinator epoch
	ts.completing = []completedTxn{{first: 2, marker: 8}, {first: 3, marker: 40}}
	st := partState{offset: 41, producers: ps, txns: ts, txnSeen: true}

	b := encodeSnapshot(st)
	got, err := decodeSnapshot(b, 41)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, st) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, st)
	}
	empty := partState{offset: 0, producers: newProducerState(), txns: newTxnState()}
	if got, err := decodeSnapshot(encodeSnapshot(empty), 0); err != nil || !reflect.DeepEqual(got, empty) {
		t.Fatalf("empty state: %+v, %v", got, err)
	}

	if _, err := decodeSnapshot(b, 40); !errors.Is(err, errBadSnapshot) {
		t.Fatalf("named for another offset: %v", err)
	}
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 0x40
		if _, err := decodeSnapshot(c, 41); !errors.Is(err, errBadSnapshot) {
			t.Fatalf("byte %d flipped: %v, want errBadSnapshot", i, err)
		}
	}
	for n := range len(b) {
		if _, err := decodeSnapshot(b[:n], 41); !errors.Is(err, errBadSnapshot) {
			t.Fatalf("cut to %d bytes: %v, want errBadSnapshot", n, err)
		}
	}
	// A count larger than the file, with a valid CRC (a bug, not a torn
	// write), is refused before anything is allocated from it.
	huge := append([]byte(nil), b[:snapHeaderSize+9]...)
	huge = binary.BigEndian.AppendUint32(huge, 1<<31)
	binary.BigEndian.PutUint32(huge[2:], crc32.Checksum(huge[snapHeaderSize:], snapCRC))
	if _, err := decodeSnapshot(huge, 41); !errors.Is(err, errBadSnapshot) {
		t.Fatalf("huge count: %v", err)
	}
}

// partitionState summarises what a replica derives from its log: producers,
// open transactions, the last stable offset and the aborted index.
func partitionState(t *testing.T, p *Partition) string {
	t.Helper()
	return fmt.Sprintf("producers %+v\nongoing %v\nlso %d\naborted %v", p.Producers(), p.OngoingTxns(),
		p.LastStableOffset(), abortedTxns(t, p, p.LogStartOffset(), p.LogEndOffset()))
}

// fillTxnLog produces, on a leader with small segments, n rounds of
// idempotent batches of two producers and of two others' overlapping
// transactions, some committed and some aborted, across several segments,
// ending with producer 30's transaction open.
func fillTxnLog(t *testing.T, p *Partition, n int) {
	t.Helper()
	ctx := testCtx(t)
	pad := string(make([]byte, 100))
	marker := func(pid int64, commit bool, i int) {
		t.Helper()
		if _, err := p.WriteTxnMarker(ctx, pid, 0, commit, int32(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		produce(t, p, 1, batch(10, 0, int32(i), "a"+pad))
		produce(t, p, 1, batch(11, 2, int32(2*i), "b"+pad, "c"+pad))
		produce(t, p, 1, txnBatch(20, 0, int32(i), "t"+pad))
		if i%2 == 1 {
			marker(20, i%4 == 1, i)
		}
		produce(t, p, 1, txnBatch(30, 0, int32(i), "u"+pad))
		if i%3 == 2 && i < n-1 {
			marker(30, i%6 == 5, i)
		}
	}
}

// batchBases returns the base offsets of p's batches from offset from on.
func batchBases(t *testing.T, p *Partition, from int64) []int64 {
	t.Helper()
	var out []int64
	err := p.log.ScanBatches(from, func(h storage.BatchHeader, _ []byte) error {
		out = append(out, h.BaseOffset)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func snapshotOffsets(t *testing.T, p *Partition) []int64 {
	t.Helper()
	offs, err := listSnapshots(p.log.Dir())
	if err != nil {
		t.Fatal(err)
	}
	return offs
}

// TestSnapshotOpenReplaysOnlyTheTail: a replica reopened after a clean
// close starts from the snapshot at its log end and replays nothing, one
// whose close snapshot is gone (as after a crash) replays from the newest
// roll snapshot, and either way it derives the state the full log gives:
// an idempotent retry across the restart is still a duplicate.
func TestSnapshotOpenReplaysOnlyTheTail(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, dir)
	p := openLeader(t, m, "snap", testSettings())
	fillTxnLog(t, p, 60)
	want := partitionState(t, p)
	leo := p.LogEndOffset()
	last := batch(10, 0, 59, "a"+string(make([]byte, 100)))
	rolls := snapshotOffsets(t, p)
	if len(rolls) != keepSnapshots || rolls[len(rolls)-1] == 0 {
		t.Fatalf("roll snapshots %v, want the newest %d", rolls, keepSnapshots)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	m2 := newManager(t, dir)
	p2 := openLeader(t, m2, "snap", testSettings())
	if p2.replayedFrom != leo {
		t.Fatalf("after a clean close: replayed from %d, want the log end %d", p2.replayedFrom, leo)
	}
	if got := partitionState(t, p2); got != want {
		t.Fatalf("state after a clean reopen:\n%s\nwant\n%s", got, want)
	}
	if res := produce(t, p2, 1, last); !res.Duplicate {
		t.Fatalf("retry of producer 10's last batch after a restart: %+v, want a duplicate", res)
	}
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}

	// Without the close snapshot: from the newest roll snapshot, which the
	// active segment starts at.
	if err := os.Remove(snapshotPath(p2.log.Dir(), leo)); err != nil {
		t.Fatal(err)
	}
	m3 := newManager(t, dir)
	p3 := openLeader(t, m3, "snap", testSettings())
	if p3.replayedFrom != rolls[len(rolls)-1] {
		t.Fatalf("without the close snapshot: replayed from %d, want the newest roll snapshot %d", p3.replayedFrom, rolls[len(rolls)-1])
	}
	if got := partitionState(t, p3); got != want {
		t.Fatalf("state replayed from a roll snapshot:\n%s\nwant\n%s", got, want)
	}
	if res := produce(t, p3, 1, last); !res.Duplicate {
		t.Fatalf("retry after a replay: %+v, want a duplicate", res)
	}
	if _, err := p3.Produce(testCtx(t), batch(10, 0, 61, "gap"), 1); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("a sequence gap after a replay: %v, want ErrOutOfOrderSequence", err)
	}
}

// TestSnapshotCorruptFallsBack: a damaged newest snapshot is skipped (and
// deleted) for the one before it; with every snapshot damaged the whole
// log is replayed. The state is right either way.
func TestSnapshotCorruptFallsBack(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, dir)
	p := openLeader(t, m, "snapc", testSettings())
	fillTxnLog(t, p, 40)
	want := partitionState(t, p)
	pdir := p.log.Dir()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	offs := snapshotOffsets(t, p)
	corrupt := func(off int64) {
		t.Helper()
		path := snapshotPath(pdir, off)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 1
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	corrupt(offs[len(offs)-1])
	// A leftover temp file of a snapshot write cut short is no snapshot.
	if err := os.WriteFile(snapshotPath(pdir, offs[len(offs)-1]+5)+".tmp", []byte{0, 1}, 0o644); err != nil {
		t.Fatal(err)
	}
	m2 := newManager(t, dir)
	p2 := openLeader(t, m2, "snapc", testSettings())
	if p2.replayedFrom != offs[len(offs)-2] {
		t.Fatalf("newest snapshot corrupt: replayed from %d, want the previous snapshot %d", p2.replayedFrom, offs[len(offs)-2])
	}
	if got := partitionState(t, p2); got != want {
		t.Fatalf("state:\n%s\nwant\n%s", got, want)
	}
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
	for _, off := range snapshotOffsets(t, p2) {
		corrupt(off)
	}
	m3 := newManager(t, dir)
	p3 := openLeader(t, m3, "snapc", testSettings())
	if p3.replayedFrom != 0 {
		t.Fatalf("every snapshot corrupt: replayed from %d, want the log start", p3.replayedFrom)
	}
	if got := partitionState(t, p3); got != want {
		t.Fatalf("state after a full replay:\n%s\nwant\n%s", got, want)
	}
}

// copyLog appends to follower f (following at epoch) the leader's batches
// below upTo, which must be a batch boundary.
func copyLog(t *testing.T, leader, f *Partition, epoch int32, upTo int64) {
	t.Helper()
	for off := f.LogEndOffset(); off < upTo; off = f.LogEndOffset() {
		res, err := leader.Fetch(off, 1<<20, true)
		if err != nil {
			t.Fatal(err)
		}
		recs := res.Records
		pos := 0
		for pos+batchPrefixLen <= len(recs) && int64(binary.BigEndian.Uint64(recs[pos:])) < upTo {
			pos += batchPrefixLen + int(binary.BigEndian.Uint32(recs[pos+8:]))
		}
		if pos == 0 {
			t.Fatalf("nothing to copy at %d below %d", off, upTo)
		}
		if _, err := f.appendAsFollower(epoch, recs[:pos]); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSnapshotTruncationRestoresState: a follower that copied a leader's
// log and truncates it (to a point in the active segment, and to one in an
// older segment) holds exactly the state of a follower that only ever
// copied the log up to that point, replaying from a snapshot, not from the
// log start.
func TestSnapshotTruncationRestoresState(t *testing.T) {
	m := newManager(t, "")
	leader := openLeader(t, m, "trunc-l", testSettings())
	fillTxnLog(t, leader, 60)
	f, err := m.Open("trunc-f", 0, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	f.BecomeFollower(1)
	copyLog(t, leader, f, 1, leader.LogEndOffset())
	snaps := snapshotOffsets(t, f)
	if len(snaps) < 2 {
		t.Fatalf("follower snapshots %v, want rolls", snaps)
	}
	// Batch boundaries: the log end minus the last batch (active
	// segment), and the batch after the second newest snapshot.
	cuts := []int64{leader.LogEndOffset() - 1, batchBases(t, leader, snaps[len(snaps)-2])[3]}
	for i, cut := range cuts {
		ref, err := m.Open(fmt.Sprintf("trunc-ref%d", i), 0, testSettings())
		if err != nil {
			t.Fatal(err)
		}
		ref.BecomeFollower(1)
		copyLog(t, leader, ref, 1, cut)
		if err := f.truncateAsFollower(1, cut); err != nil {
			t.Fatal(err)
		}
		if f.LogEndOffset() != cut || ref.LogEndOffset() != cut {
			t.Fatalf("cut %d is no batch boundary: follower at %d, reference at %d", cut, f.LogEndOffset(), ref.LogEndOffset())
		}
		if f.replayedFrom == 0 || f.replayedFrom > cut {
			t.Fatalf("truncation to %d replayed from %d, want a snapshot at or below it", cut, f.replayedFrom)
		}
		if got, want := partitionState(t, f), partitionState(t, ref); got != want {
			t.Fatalf("after truncating to %d:\n%s\nwant\n%s", cut, got, want)
		}
		for _, off := range snapshotOffsets(t, f) {
			if off > cut {
				t.Fatalf("snapshot %d above the truncation point %d kept", off, cut)
			}
		}
	}
}

// TestSnapshotReadCommittedAfterRestart: the aborted transactions a
// read_committed fetch is told about are the same after a clean restart
// and after an unclean one whose active segment's index lost its tail.
func TestSnapshotReadCommittedAfterRestart(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, dir)
	p := openLeader(t, m, "rc", testSettings())
	fillTxnLog(t, p, 50)
	leo := p.LogEndOffset()
	collect := func(p *Partition) string {
		var s string
		for from := int64(0); from < leo; from += 7 {
			s += fmt.Sprint(abortedTxns(t, p, from, p.LastStableOffset()))
		}
		return s
	}
	want := collect(p)
	if len(abortedTxns(t, p, 0, leo)) == 0 {
		t.Fatal("no aborted transactions to compare")
	}
	pdir := p.log.Dir()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m2 := newManager(t, dir)
	p2 := openLeader(t, m2, "rc", testSettings())
	if got := collect(p2); got != want {
		t.Fatalf("after a clean restart:\n%s\nwant\n%s", got, want)
	}
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
	// An unclean stop: no clean shutdown marker, no close snapshot, and
	// every index file of the active segment's era cut short.
	if err := os.Remove(filepath.Join(pdir, ".clean-shutdown")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(snapshotPath(pdir, leo)); err != nil {
		t.Fatal(err)
	}
	snaps := snapshotOffsets(t, p2)
	ents, _ := filepath.Glob(filepath.Join(pdir, "*.txnindex"))
	for _, e := range ents {
		var base int64
		if _, err := fmt.Sscanf(filepath.Base(e), "%020d.txnindex", &base); err == nil && base >= snaps[len(snaps)-1] {
			if err := os.Truncate(e, 5); err != nil {
				t.Fatal(err)
			}
		}
	}
	m3 := newManager(t, dir)
	p3 := openLeader(t, m3, "rc", testSettings())
	if got := collect(p3); got != want {
		t.Fatalf("after an unclean restart:\n%s\nwant\n%s", got, want)
	}
}

// FuzzDecodeSnapshot: any bytes decode to an error or to a state that
// encodes and decodes to itself; nothing panics or allocates from an
// unchecked count.
func FuzzDecodeSnapshot(f *testing.F) {
	ps := newProducerState()
	ps.entries[3] = &producerEntry{epoch: 1, lastTs: 9, batches: []batchMeta{{0, 1, 0, 1}}}
	ts := newTxnState()
	ts.ongoing[3] = 1
	ts.completing = []completedTxn{{0, 1}}
	f.Add(encodeSnapshot(partState{offset: 7, producers: ps, txns: ts, txnSeen: true}), int64(7))
	f.Add(encodeSnapshot(partState{offset: 0, producers: newProducerState(), txns: newTxnState()}), int64(0))
	f.Fuzz(func(t *testing.T, b []byte, off int64) {
		st, err := decodeSnapshot(b, off)
		if err != nil {
			return
		}
		again, err := decodeSnapshot(encodeSnapshot(st), off)
		if err != nil || !reflect.DeepEqual(again, st) {
			t.Fatalf("re-encoded state: %+v, %v; want %+v", again, err, st)
		}
	})
}

// TestSnapshotIndexWriteFailure: when the aborted-transaction index cannot
// be written, the abort is still reported from memory, and no snapshot is
// kept or taken, so that the next open replays the whole log and writes
// the index again.
func TestSnapshotIndexWriteFailure(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, dir)
	p := openLeader(t, m, "ixfail", testSettings())
	pad := string(make([]byte, 200))
	for i := range 40 { // several segments, so roll snapshots exist
		produce(t, p, 1, batch(3, 0, int32(i), pad))
	}
	if len(snapshotOffsets(t, p)) == 0 {
		t.Fatal("no roll snapshots to lose")
	}
	var active int64
	for _, off := range mustGlobBases(t, p.log.Dir()) {
		active = max(active, off)
	}
	blocker := filepath.Join(p.log.Dir(), fmt.Sprintf("%020d.txnindex", active))
	if err := os.Mkdir(blocker, 0o755); err != nil {
		t.Fatal(err)
	}
	produce(t, p, 1, txnBatch(7, 0, 0, "a"))
	marker, err := p.WriteTxnMarker(testCtx(t), 7, 0, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint([]AbortedTxn{{ProducerID: 7, FirstOffset: marker - 1, LastOffset: marker, LastStableOffset: marker + 1}})
	if got := fmt.Sprint(abortedTxns(t, p, 0, p.LogEndOffset())); got != want {
		t.Fatalf("aborted transactions after a failed index write: %s, want %s", got, want)
	}
	if offs := snapshotOffsets(t, p); len(offs) != 0 {
		t.Fatalf("snapshots %v kept after a failed index write", offs)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if offs := snapshotOffsets(t, p); len(offs) != 0 {
		t.Fatalf("snapshots %v taken after a failed index write", offs)
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	p2 := openLeader(t, newManager(t, dir), "ixfail", testSettings())
	if p2.replayedFrom != 0 {
		t.Fatalf("replayed from %d, want the log start", p2.replayedFrom)
	}
	if got := fmt.Sprint(abortedTxns(t, p2, 0, p2.LogEndOffset())); got != want {
		t.Fatalf("after reopening: %s, want %s", got, want)
	}
	if _, err := os.Stat(blocker); err != nil {
		t.Fatalf("the index was not written by the replay: %v", err)
	}
}

// mustGlobBases returns the base offsets of the segments in dir.
func mustGlobBases(t *testing.T, dir string) []int64 {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, l := range logs {
		var base int64
		if _, err := fmt.Sscanf(filepath.Base(l), "%020d.log", &base); err == nil {
			out = append(out, base)
		}
	}
	return out
}
