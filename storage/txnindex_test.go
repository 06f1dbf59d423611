package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fillSegments appends batches of one record until the log has at least n
// segments and returns the base offsets of its segments.
func fillSegments(t *testing.T, l *Log, n int) []int64 {
	t.Helper()
	for i := 0; ; i++ {
		l.mu.RLock()
		k := len(l.segs)
		l.mu.RUnlock()
		if k >= n {
			break
		}
		mustAppend(t, l, seqBatch(t, i, 1, 200, 1000), 0)
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	var bases []int64
	for _, s := range l.segs {
		bases = append(bases, s.base)
	}
	return bases
}

func appendAborted(t *testing.T, l *Log, es ...AbortedTxn) {
	t.Helper()
	for _, e := range es {
		if err := l.AppendAbortedTxn(e); err != nil {
			t.Fatalf("AppendAbortedTxn(%+v): %v", e, err)
		}
	}
}

func abortedIn(t *testing.T, l *Log, from, upTo int64) []AbortedTxn {
	t.Helper()
	out, err := l.AbortedTxns(from, upTo)
	if err != nil {
		t.Fatalf("AbortedTxns(%d, %d): %v", from, upTo, err)
	}
	return out
}

// TestTxnIndexCollect: entries land in the index of the segment holding
// their marker, a read finds those overlapping the range whatever segment
// holds them, appending is idempotent, the index survives a reopen, and it
// goes with its segment (truncation, DeleteRecords).
func TestTxnIndexCollect(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 2048
	l := openTest(t, dir, cfg)
	b := fillSegments(t, l, 5) // bases b[0] < ... < b[4] (active)
	// a: opened in segment 0, aborted in segment 1. c: inside segment 2,
	// while d (aborted in 3) was open, so c's last stable offset is d's
	// first offset. e: inside segment 3.
	a := AbortedTxn{ProducerID: 1, FirstOffset: b[0] + 1, LastOffset: b[1] + 1, LastStableOffset: b[1] + 2}
	d := AbortedTxn{ProducerID: 4, FirstOffset: b[2], LastOffset: b[3], LastStableOffset: b[3] + 1}
	c := AbortedTxn{ProducerID: 3, FirstOffset: b[2] + 1, LastOffset: b[2] + 2, LastStableOffset: b[2]}
	e := AbortedTxn{ProducerID: 5, FirstOffset: b[3] + 1, LastOffset: b[3] + 2, LastStableOffset: b[3] + 3}
	appendAborted(t, l, a, c, d, e)
	appendAborted(t, l, a, c, d) // replayed: already there
	for _, tc := range []struct {
		from, upTo int64
		want       []AbortedTxn
	}{
		{0, b[4], []AbortedTxn{a, c, d, e}},
		{b[0] + 2, b[0] + 3, []AbortedTxn{a}},        // inside a, before its marker's segment
		{b[1] + 2, b[2] + 1, []AbortedTxn{d}},        // a ended before; c begins at upTo
		{b[2] + 1, b[2] + 2, []AbortedTxn{c, d}},     // c's entry stops nothing: its LSO is below upTo
		{b[3] + 1, b[4], []AbortedTxn{e}},            // d's marker is before from
		{b[3] + 3, b[4], nil},                        // everything ended before
		{0, b[0] + 1, nil},                           // before everything began
		{b[1] + 1, b[1] + 2, []AbortedTxn{a}},        // the marker itself
		{b[2] + 2, b[3] + 2, []AbortedTxn{c, d, e}},  // across segments
		{b[0], b[1] + 1, []AbortedTxn{a}},            // stops at a's LSO >= upTo
		{b[3] + 2, b[3] + 2 + 1000, []AbortedTxn{e}}, // upTo past the end
		{b[1] + 2, b[1] + 3, nil},                    // between transactions
		{b[2], b[2] + 1, []AbortedTxn{d}},            // d's first offset only
		{b[3], b[3] + 1, []AbortedTxn{d}},            // d's marker
		{b[3] + 2, b[3] + 3, []AbortedTxn{e}},        // e's marker
		{b[4], b[4] + 1, nil},                        // the active segment, empty index
		{b[0] + 1, b[0] + 2, []AbortedTxn{a}},        // a's first offset
		{b[2] + 2, b[2] + 3, []AbortedTxn{c, d}},     // c's marker
		{b[2] + 3, b[3], []AbortedTxn{d}},            // d only
		{b[3] + 1, b[3] + 2, []AbortedTxn{e}},        // e's first offset
		{b[1], b[1] + 1, []AbortedTxn{a}},            // a's marker segment start
	} {
		if got := abortedIn(t, l, tc.from, tc.upTo); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("[%d, %d): %v, want %v", tc.from, tc.upTo, got, tc.want)
		}
	}
	if fi, err := os.Stat(segmentPrefix(dir, b[1]) + txnIndexSuffix); err != nil || fi.Size() != txnEntrySize {
		t.Fatalf("segment 1's index: %v, %v; want one entry", fi, err)
	}

	// Reopened (cleanly), the index answers the same.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg)
	if got := abortedIn(t, l, 0, b[4]); !reflect.DeepEqual(got, []AbortedTxn{a, c, d, e}) {
		t.Fatalf("after reopening: %v", got)
	}

	// Truncating inside segment 3 drops e (marker after the cut) and keeps d.
	if err := l.TruncateTo(b[3] + 1); err != nil {
		t.Fatal(err)
	}
	if got := abortedIn(t, l, 0, b[4]); !reflect.DeepEqual(got, []AbortedTxn{a, c, d}) {
		t.Fatalf("after truncating to %d: %v", b[3]+1, got)
	}
	if _, err := os.Stat(segmentPrefix(dir, b[4]) + txnIndexSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("removed segment's index: %v", err)
	}
	// TruncateAbortedTxns (a replay's start) drops c and d, keeps a.
	if err := l.TruncateAbortedTxns(b[2] + 2); err != nil {
		t.Fatal(err)
	}
	if got := abortedIn(t, l, 0, b[4]); !reflect.DeepEqual(got, []AbortedTxn{a}) {
		t.Fatalf("after cutting the index at %d: %v", b[2]+2, got)
	}
	// DeleteRecords removes segments 0 and 1 and a's index with segment 1.
	if err := l.DeleteRecordsBefore(b[2], l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(segmentPrefix(dir, b[1]) + txnIndexSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("deleted segment's index: %v", err)
	}
	if got := abortedIn(t, l, b[2], b[4]); len(got) != 0 {
		t.Fatalf("after DeleteRecords: %v", got)
	}
	if err := l.AppendAbortedTxn(AbortedTxn{LastOffset: b[0]}); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("entry below the log: %v, want ErrOffsetOutOfRange", err)
	}
}

// TestTxnIndexTornTailAndOrphan: a partial trailing entry (a torn write) is
// ignored and overwritten, and an index whose segment is gone is removed
// at open.
func TestTxnIndexTornTailAndOrphan(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := openTest(t, dir, cfg)
	mustAppend(t, l, seqBatch(t, 0, 5, 10, 1000), 0)
	a := AbortedTxn{ProducerID: 1, FirstOffset: 0, LastOffset: 2, LastStableOffset: 3}
	appendAborted(t, l, a)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	path := segmentPrefix(dir, 0) + txnIndexSuffix
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 7)); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	orphan := filepath.Join(dir, fmt.Sprintf("%020d%s", 999, txnIndexSuffix))
	if err := os.WriteFile(orphan, make([]byte, txnEntrySize), 0o644); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg)
	if _, err := os.Stat(orphan); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("orphan index: %v, want removed", err)
	}
	b := AbortedTxn{ProducerID: 2, FirstOffset: 3, LastOffset: 4, LastStableOffset: 5}
	appendAborted(t, l, b)
	if got := abortedIn(t, l, 0, 5); !reflect.DeepEqual(got, []AbortedTxn{a, b}) {
		t.Fatalf("after a torn tail: %v", got)
	}
}

// TestCleanCarriesTxnIndex: a cleaner pass moves the aborted-transaction
// entries of the segments it merges into the cleaned segment's index, and
// a crash at any step of the swap leaves every entry findable after Open
// and no index without its segment.
func TestCleanCarriesTxnIndex(t *testing.T) {
	steps := []string{"", "marker", "remove", "rename.index", "rename.timeindex", "rename.txnindex", "rename.log", "unmark"}
	for _, stepName := range steps {
		t.Run("crash="+stepName, func(t *testing.T) {
			dir := t.TempDir()
			l, err := Open(dir, compactConfig(), testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			fillKeyed(t, l, 20, 17, 1000)
			l.mu.RLock()
			var bases []int64
			for _, s := range l.segs {
				bases = append(bases, s.base)
			}
			l.mu.RUnlock()
			if len(bases) < 4 {
				t.Fatalf("%d segments, want at least 4", len(bases))
			}
			var want []AbortedTxn
			for i, base := range bases[1:4] {
				want = append(want, AbortedTxn{ProducerID: int64(i), FirstOffset: base, LastOffset: base + 1, LastStableOffset: base + 2})
			}
			appendAborted(t, l, want...)
			rollActive(t, l)
			p, err := l.plan(l.now(), l.LogEndOffset(), true)
			if err != nil {
				t.Fatal(err)
			}
			errCrash := errors.New("simulated crash")
			cp := &cleanPass{omap: newOffsetMap(1 << 20), stop: make(chan struct{}),
				crash: func(s string) error {
					if s == stepName {
						return errCrash
					}
					return nil
				}}
			if err := cp.clean(l, p); stepName != "" && !errors.Is(err, errCrash) || stepName == "" && err != nil {
				t.Fatalf("clean: %v", err)
			}
			l.mu.Lock()
			l.failed = errCrash // no clean shutdown marker: an unclean stop
			l.mu.Unlock()
			_ = l.Close()
			l2 := openTest(t, dir, compactConfig())
			if got := abortedIn(t, l2, 0, l2.LogEndOffset()); !reflect.DeepEqual(got, want) {
				t.Fatalf("after recovery: %v, want %v", got, want)
			}
			checkNoOrphanTxnIndex(t, dir)
			if stepName == "" && countSuffix(t, dir, txnIndexSuffix) >= len(want) {
				t.Fatalf("the clean merged no two segments with entries: %d index files", countSuffix(t, dir, txnIndexSuffix))
			}
		})
	}
}

func countSuffix(t *testing.T, dir, suffix string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), suffix) {
			n++
		}
	}
	return n
}

func checkNoOrphanTxnIndex(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		stem, ok := strings.CutSuffix(e.Name(), txnIndexSuffix)
		if !ok {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, stem+logSuffix)); err != nil {
			t.Fatalf("%s without its segment: %v", e.Name(), err)
		}
	}
}

// TestTxnIndexRetention: retention deletes a segment's index with it.
func TestTxnIndexRetention(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 2048
	cfg.RetentionMs = time.Hour
	l := openTest(t, dir, cfg)
	b := fillSegments(t, l, 3)
	appendAborted(t, l, AbortedTxn{ProducerID: 1, FirstOffset: b[0], LastOffset: b[0] + 1, LastStableOffset: b[0] + 2})
	if err := l.EnforceRetention(time.UnixMilli(1000).Add(2*time.Hour), l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(segmentPrefix(dir, b[0]) + txnIndexSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("index of a segment retention deleted: %v", err)
	}
	checkNoOrphanTxnIndex(t, dir)
}
