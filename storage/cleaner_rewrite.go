package storage

import (
	"bufio"
	"math"
	"os"
)

// keepRule decides which records of a batch survive a pass. It carries the
// pass's transaction state, so one keepRule serves one pass, in offset
// order.
type keepRule struct {
	omap      *offsetMap
	mapEnd    int64 // batches at or above it are dirty: copied as they are
	now       int64 // the pass's clock (ms), for delete horizons
	retention int64 // delete.retention.ms
	txns      *cleanTxns
	dec       Decompressor
	enc       Compressor
	aborts    []CleanedAbort // ABORT markers without data met since the last take
}

// keepRecord is Kafka's shouldRetainRecord: a keyless record goes (a
// compacted topic refuses them at produce), a record whose key appears
// again later in the mapped section goes, a tombstone goes once its
// batch's delete horizon has passed (KIP-534: the horizon is stamped when
// a pass first keeps the tombstone, so it lives delete.retention.ms after
// it was first cleaned, whatever its record timestamp).
func (k *keepRule) keepRecord(h BatchHeader, r cleanRecord) bool {
	if !r.hasKey {
		return false
	}
	if latest := k.omap.get(r.key); latest > h.BaseOffset+int64(r.offsetDelta) {
		return false
	}
	if !r.tombstone {
		return true
	}
	hz, ok := deleteHorizon(h)
	return !ok || k.now < hz
}

// filterBatch appends to dst what remains of the batch raw: raw itself
// when it is past the map's end or every record stays (and no delete
// horizon needs stamping); a rebuilt batch when some stay or a horizon is
// stamped; nothing, or an empty header-only batch for a producer's last
// batch, when none stay. Aborted transactional data goes whole; markers
// are filterMarker's. An unparseable batch is kept unchanged.
func (k *keepRule) filterBatch(dst []byte, h BatchHeader, raw []byte) []byte {
	switch {
	case h.BaseOffset >= k.mapEnd:
		return append(dst, raw...)
	case h.IsControl():
		return k.filterMarker(dst, h, raw)
	case h.IsTransactional() && k.txns.isAborted(h.ProducerID, h.BaseOffset):
		return k.emptied(dst, h, raw)
	}
	recs, _, err := batchRecords(raw, h, k.dec)
	if err != nil {
		k.noteWritten(h)
		return append(dst, raw...)
	}
	rs, err := parseRecords(recs, h.NumRecords)
	if err != nil {
		k.noteWritten(h)
		return append(dst, raw...)
	}
	keep, tombs := rs[:0], false
	for _, r := range rs {
		if k.keepRecord(h, r) {
			keep = append(keep, r)
			tombs = tombs || r.tombstone
		}
	}
	_, stamped := deleteHorizon(h)
	stamp := tombs && !stamped
	switch {
	case len(keep) == 0:
		return k.emptied(dst, h, raw)
	case len(keep) == len(rs) && !stamp:
		k.noteWritten(h)
		return append(dst, raw...)
	}
	k.noteWritten(h)
	return k.rebuild(dst, h, raw, recs, keep, stamp)
}

// noteWritten records that data of h's producer's current transaction is
// in the output (its marker must stay).
func (k *keepRule) noteWritten(h BatchHeader) {
	if h.IsTransactional() && !h.IsControl() {
		k.txns.written[h.ProducerID] = true
	}
}

// emptied drops a batch none of whose records stay, unless it is its
// producer's last: that one stays as an empty header-only batch.
func (k *keepRule) emptied(dst []byte, h BatchHeader, raw []byte) []byte {
	if !k.txns.isLast(h.ProducerID, h.BaseOffset) {
		return dst
	}
	return rebuildBatch(dst, raw, nil, nil, rebuildOpts{})
}

// filterMarker handles a control batch (Kafka's two-phase marker removal).
// While any data of its transaction remains in the output it stays as it
// is. Once none does, the first pass to see that stamps it with a delete
// horizon (now + delete.retention.ms): a consumer that read the data
// before it was cleaned still meets the marker that decides it. A later
// pass past the horizon removes it, unless it is its producer's last batch
// (kept for the producer's epoch, as Kafka does).
func (k *keepRule) filterMarker(dst []byte, h BatchHeader, raw []byte) []byte {
	dataLeft := k.txns.written[h.ProducerID]
	delete(k.txns.written, h.ProducerID)
	last := k.txns.isLast(h.ProducerID, h.BaseOffset)
	if dataLeft {
		return append(dst, raw...)
	}
	if typ, ok := markerType(h, raw); ok && typ == controlAbort {
		k.aborts = append(k.aborts, CleanedAbort{ProducerID: h.ProducerID, MarkerOffset: h.BaseOffset})
	}
	if hz, ok := deleteHorizon(h); ok {
		if k.now >= hz && !last {
			return dst
		}
		return append(dst, raw...)
	}
	if h.Attributes&codecMask != 0 { // never written so; kept rather than guessed at
		return append(dst, raw...)
	}
	if h.NumRecords == 0 {
		if last {
			return append(dst, raw...)
		}
		return dst // an emptied marker: nothing left to decide
	}
	rs, err := parseRecords(raw[batchHeaderSize:], h.NumRecords)
	if err != nil {
		return append(dst, raw...)
	}
	return k.rebuild(dst, h, raw, raw[batchHeaderSize:], rs, true)
}

// rebuild writes the batch with only keep, recompressed with its codec,
// stamped with a delete horizon now + delete.retention.ms if stamp.
func (k *keepRule) rebuild(dst []byte, h BatchHeader, raw, recs []byte, keep []cleanRecord, stamp bool) []byte {
	o := rebuildOpts{codec: int(h.Attributes & codecMask), enc: k.enc}
	if stamp {
		o.horizon, o.stamp = k.now+max(k.retention, 0), true
		if o.horizon < k.now { // delete.retention.ms near Long.MAX: never
			o.horizon = math.MaxInt64
		}
	}
	out, err := rebuildInto(dst, raw, recs, keep, o)
	if err != nil { // a record that cannot be restamped: keep the batch as it was
		k.noteWritten(h)
		return append(dst, raw...)
	}
	return out
}

// cleanedSeg is a rewritten segment on disk under its ".cleaned" names,
// to replace the input segments [base, next).
type cleanedSeg struct {
	seg    *segment // in-memory indexes and sizes; files not open
	prefix string
	inputs []*segment
	next   int64
	aborts []CleanedAbort // aborted transactions whose data it no longer holds
	f      *os.File       // the .log.cleaned being written
	w      *bufio.Writer
}

// rewrite copies segs through the keep rule into new segments of at most
// segment.bytes (input sizes bound the output), each covering whole input
// segments, and writes them with their indexes as ".cleaned" files,
// fsynced. The data is streamed (one batch in memory at a time). An output
// that would be empty is merged into its neighbour so a pass does not leave
// empty segments behind (only a wholly emptied range keeps one).
func (c *cleanPass) rewrite(dir string, segs []segInfo, cfg Config, k *keepRule) (outs []*cleanedSeg, err error) {
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
		prev.aborts = append(prev.aborts, cur.aborts...)
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
func (c *cleanPass) rewriteSegment(cur *cleanedSeg, s segInfo, cfg Config, k *keepRule) error {
	var out []byte
	err := c.forEachBatch(s, func(h BatchHeader, raw []byte) (bool, error) {
		out = k.filterBatch(out[:0], h, raw)
		cur.aborts, k.aborts = append(cur.aborts, k.aborts...), k.aborts[:0]
		c.stats.bytesRead += int64(len(raw))
		c.stats.bytesWritten += int64(len(out))
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
