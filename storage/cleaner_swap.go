package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Swapping a cleaned segment in, crash-safe at every step (Kafka's
// .cleaned → .swap protocol, with the swap intent in a marker file):
//
//  1. <base>.log.cleaned, .index.cleaned, .timeindex.cleaned are written
//     and fsynced (rewrite), and, under the log's locks just before the
//     marker, .txnindex.cleaned with the input segments' aborted
//     transactions (carryTxnIndex). A crash now: Open deletes them.
//  2. <base>.swap is written atomically (tmp, fsync, rename, fsync dir),
//     holding the end offset of the input range [base, end). From now on
//     Open rolls the swap forward.
//  3. The other input segments' files are removed, .log first.
//  4. The .cleaned files are renamed over <base>'s, indexes first, .log last.
//  5. The directory is fsynced and the marker removed.
//
// Rolling forward (Open, before listing segments) repeats 3-5: removing a
// file already gone and renaming only the .cleaned files still there are
// both idempotent.

// swapIn replaces o's input segments with it, if they are still the log's
// segments (else errCleanAborted). crash, for tests, may fail a step.
func (l *Log) swapIn(o *cleanedSeg, crash func(string) error) error {
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	i := l.indexOf(o.inputs[0])
	if i < 0 || i+len(o.inputs) >= len(l.segs) {
		return errCleanAborted
	}
	for j, s := range o.inputs {
		if l.segs[i+j] != s {
			return errCleanAborted
		}
	}
	if err := l.carryTxnIndex(o); err != nil {
		return err
	}
	if err := step(crash, "marker"); err != nil {
		return err
	}
	if err := writeSwapMarker(o.prefix, o.next); err != nil {
		return err
	}
	for _, s := range o.inputs {
		s.close()
	}
	if err := finishSwap(l.dir, o.seg.base, o.next, crash); err != nil {
		l.failed = err // the old segments are closed: reopen to recover
		return err
	}
	return l.installCleaned(i, o)
}

func step(crash func(string) error, name string) error {
	if crash == nil {
		return nil
	}
	return crash(name)
}

// installCleaned puts the swapped-in segment in place of its inputs at
// segs[i:]. Caller holds fileMu and mu.
func (l *Log) installCleaned(i int, o *cleanedSeg) error {
	ns, err := openSegmentLog(l.fs, l.dir, o.seg.base)
	if err != nil {
		l.failed = err
		return err
	}
	ns.next, ns.maxTs, ns.maxTsOff = o.next, o.seg.maxTs, o.seg.maxTsOff
	ns.idxLen, ns.tidxLen = o.seg.idxLen, o.seg.tidxLen
	var old int64
	for _, s := range o.inputs {
		old += s.size
		l.dropUnsynced(s)
	}
	segs := append([]*segment{}, l.segs[:i]...)
	segs = append(segs, ns)
	l.segs = append(segs, l.segs[i+len(o.inputs):]...)
	l.size += ns.size - old
	l.hints.clear()
	l.logger.Debug("cleaned segments", "segment", ns.prefix, "inputs", len(o.inputs), "bytesBefore", old, "bytesAfter", ns.size)
	return nil
}

func (l *Log) indexOf(s *segment) int {
	for i, t := range l.segs {
		if t == s {
			return i
		}
	}
	return -1
}

func swapMarkerPath(prefix string) string { return prefix + swapSuffix }

func writeSwapMarker(prefix string, end int64) error {
	if err := writeFileAtomic(swapMarkerPath(prefix), []byte(strconv.FormatInt(end, 10)+"\n")); err != nil {
		return ioErr("write swap marker", err)
	}
	return nil
}

// finishSwap is steps 3-5 for the cleaned segment at base replacing
// [base, end).
func finishSwap(dir string, base, end int64, crash func(string) error) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ioErr("read log dir", err)
	}
	for _, e := range entries {
		b, ok := parseSegmentName(e.Name())
		if !ok || b <= base || b >= end {
			continue
		}
		if err := step(crash, "remove"); err != nil {
			return err
		}
		p := segmentPrefix(dir, b)
		for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
			if err := os.Remove(p + suf); err != nil && !errors.Is(err, os.ErrNotExist) {
				return ioErr("remove cleaned input", err)
			}
		}
	}
	prefix := segmentPrefix(dir, base)
	for _, suf := range []string{indexSuffix, timeIndexSuffix, txnIndexSuffix, logSuffix} {
		if err := step(crash, "rename"+suf); err != nil {
			return err
		}
		err := os.Rename(prefix+suf+cleanedSuffix, prefix+suf)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return ioErr("rename cleaned segment", err)
		}
	}
	if err := syncDir(dir); err != nil {
		return ioErr("sync log dir", err)
	}
	if err := step(crash, "unmark"); err != nil {
		return err
	}
	if err := os.Remove(swapMarkerPath(prefix)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return ioErr("remove swap marker", err)
	}
	return nil
}

// recoverCleanerFiles runs at Open before segments are listed: it rolls
// every interrupted swap forward (a marker exists) and deletes every other
// ".cleaned" file (a pass that had not reached its swap).
func (l *Log) recoverCleanerFiles() error {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return ioErr("read log dir", err)
	}
	for _, e := range entries {
		stem, ok := strings.CutSuffix(e.Name(), swapSuffix)
		if !ok || len(stem) != 20 {
			continue
		}
		base, err := strconv.ParseInt(stem, 10, 64)
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(l.dir, e.Name()))
		if err != nil {
			return ioErr("read swap marker", err)
		}
		end, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || end <= base {
			return fmt.Errorf("%w: malformed swap marker %s", ErrStorage, e.Name())
		}
		l.logger.Warn("completing interrupted segment swap", "segment", stem, "end", end)
		if err := finishSwap(l.dir, base, end, nil); err != nil {
			return err
		}
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), cleanedSuffix) {
			if err := os.Remove(filepath.Join(l.dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return ioErr("remove leftover cleaned file", err)
			}
		}
	}
	return nil
}
