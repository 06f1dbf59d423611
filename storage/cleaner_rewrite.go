package storage

import (
	"bufio"
	"math"
	"os"
)

// keepRule decides which records of a batch survive a pass.
type keepRule struct {
	omap    *offsetMap
	horizon int64           // tombstones in batches with maxTimestamp below it go
	last    map[int64]int64 // producer id → base offset of its last batch
}

// keepRecord is Kafka's shouldRetainRecord: a keyless record goes (a
// compacted topic refuses them at produce), a record whose key appears
// again later in the mapped section goes, a tombstone goes once its batch
// is older than the delete horizon (delete.retention.ms before the newest
// timestamp of the already-cleaned section: a tombstone survives one pass
// plus delete.retention.ms).
func (k keepRule) keepRecord(h BatchHeader, r cleanRecord) bool {
	if !r.hasKey {
		return false
	}
	if latest := k.omap.get(r.key); latest > h.BaseOffset+int64(r.offsetDelta) {
		return false
	}
	return !r.tombstone || h.MaxTimestamp >= k.horizon
}

// filterBatch appends to dst what remains of the batch raw: raw itself
// when every record stays, or a control, transactional or unparseable
// batch (never touched); a rebuilt batch when some stay; nothing, or an
// empty header-only batch for a producer's last batch, when none stay.
func (k keepRule) filterBatch(dst []byte, h BatchHeader, raw []byte, dec Decompressor) []byte {
	if h.IsControl() || h.IsTransactional() {
		return append(dst, raw...)
	}
	recs, _, err := batchRecords(raw, h, dec)
	if err != nil {
		return append(dst, raw...)
	}
	rs, err := parseRecords(recs, h.NumRecords)
	if err != nil {
		return append(dst, raw...)
	}
	keep := rs[:0]
	for _, r := range rs {
		if k.keepRecord(h, r) {
			keep = append(keep, r)
		}
	}
	switch {
	case len(keep) == len(rs) && len(rs) > 0:
		return append(dst, raw...)
	case len(keep) == 0 && (h.ProducerID < 0 || k.last[h.ProducerID] != h.BaseOffset):
		return dst
	default:
		return rebuildBatch(dst, raw, recs, keep)
	}
}

// cleanedSeg is a rewritten segment on disk under its ".cleaned" names,
// to replace the input segments [base, next).
type cleanedSeg struct {
	seg    *segment // in-memory indexes and sizes; files not open
	prefix string
	inputs []*segment
	next   int64
	f      *os.File // the .log.cleaned being written
	w      *bufio.Writer
}

// rewrite copies segs through the keep rule into new segments of at most
// segment.bytes (input sizes bound the output), each covering whole input
// segments, and writes them with their indexes as ".cleaned" files,
// fsynced. The data is streamed (one batch in memory at a time). An output
// that would be empty is merged into its neighbour so a pass does not leave
// empty segments behind (only a wholly emptied range keeps one).
func (c *cleanPass) rewrite(dir string, segs []segInfo, cfg Config, k keepRule) (outs []*cleanedSeg, err error) {
	var cur *cleanedSeg
	var inBytes int64
	defer func() {
		if err != nil {
			for _, o := range append(outs, cur) {
				if o != nil {
					o.abandon()
				}
			}
		}
	}()
	for _, s := range segs {
		if cur != nil && cur.seg.size > 0 && (inBytes+s.size > cfg.SegmentBytes || s.next-cur.seg.base > math.MaxUint32) {
			if outs, err = c.finish(outs, cur); err != nil {
				return outs, err
			}
			cur = nil
		}
		if cur == nil {
			if cur, err = newCleanedSeg(dir, s.base); err != nil {
				return outs, err
			}
			inBytes = 0
		}
		cur.inputs = append(cur.inputs, s.seg)
		cur.next = s.next
		inBytes += s.size
		if err = c.rewriteSegment(cur, s, cfg, k); err != nil {
			return outs, err
		}
	}
	if cur != nil {
		outs, err = c.finish(outs, cur)
	}
	return outs, err
}

func newCleanedSeg(dir string, base int64) (*cleanedSeg, error) {
	o := &cleanedSeg{seg: newSegmentStruct(dir, base), prefix: segmentPrefix(dir, base)}
	f, err := os.OpenFile(o.prefix+logSuffix+cleanedSuffix, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, ioErr("create cleaned segment", err)
	}
	o.f, o.w = f, bufio.NewWriterSize(f, scanBufferSize)
	return o, nil
}

// abandon closes and deletes an output's files.
func (o *cleanedSeg) abandon() {
	if o.f != nil {
		_ = o.f.Close()
		o.f = nil
	}
	removeCleaned(o.prefix)
}

// finish completes cur: an empty output after a non-empty one is merged
// into it; otherwise its files are written, fsynced and closed.
func (c *cleanPass) finish(outs []*cleanedSeg, cur *cleanedSeg) ([]*cleanedSeg, error) {
	if cur.seg.size == 0 && len(outs) > 0 {
		prev := outs[len(outs)-1]
		prev.inputs = append(prev.inputs, cur.inputs...)
		prev.next, prev.seg.next = cur.next, cur.next
		cur.abandon()
		return outs, nil
	}
	if err := c.writeCleaned(cur); err != nil {
		return outs, err
	}
	return append(outs, cur), nil
}

// rewriteSegment writes the surviving batches of s to the output,
// tracking them in its indexes.
func (c *cleanPass) rewriteSegment(cur *cleanedSeg, s segInfo, cfg Config, k keepRule) error {
	var out []byte
	err := c.forEachBatch(s, func(h BatchHeader, raw []byte) (bool, error) {
		out = k.filterBatch(out[:0], h, raw, c.dec)
		if len(out) == 0 {
			return true, nil
		}
		pos := cur.seg.size
		if _, err := cur.w.Write(out); err != nil {
			return false, ioErr("write cleaned segment", err)
		}
		if err := c.throttle.wait(len(out), c.stop); err != nil {
			return false, err
		}
		cur.seg.track(decodeHeader(out), pos, int64(cfg.IndexIntervalBytes))
		return true, nil
	})
	cur.seg.next = s.next
	return err
}

// writeCleaned flushes and fsyncs an output's .log and writes its .index
// and .timeindex under their ".cleaned" names, fsynced.
func (c *cleanPass) writeCleaned(o *cleanedSeg) error {
	s := o.seg
	s.maybeAppendTimeEntry() // the last time entry is the max timestamp, as on roll
	s.next = o.next
	s.idxLen, s.tidxLen = int64(len(s.idx)), int64(len(s.tidx))
	err := o.w.Flush()
	if err == nil {
		err = o.f.Sync()
	}
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	o.f = nil
	if err == nil {
		err = writeSynced(o.prefix+indexSuffix+cleanedSuffix, encodeIndex(s.idx))
	}
	if err == nil {
		err = writeSynced(o.prefix+timeIndexSuffix+cleanedSuffix, encodeTimeIndex(s.tidx))
	}
	if err != nil {
		return ioErr("write cleaned segment", err)
	}
	s.idx, s.tidx = nil, nil
	return nil
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// removeCleaned deletes an output's ".cleaned" files (an abandoned pass).
func removeCleaned(prefix string) {
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
		_ = os.Remove(prefix + suf + cleanedSuffix)
	}
}
