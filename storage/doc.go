// Package storage is the durable per-partition log of a Strom broker: a
// directory of segment files holding Kafka v2 record batches exactly as
// producers sent them, with sparse indexes, crash recovery, retention and
// group-committed fsync. It imports only the standard library.
//
// # What is parsed
//
// Record batches are opaque bytes. Only the fixed 61-byte v2 batch header is
// decoded (ParseBatches, BatchHeader); records, compression and headers are
// never looked at, so the broker serves bytes without re-encoding them. The
// broker rewrites two header fields in place on append, baseOffset and
// partitionLeaderEpoch, both of which precede the CRC-covered region, so
// the producer's CRC stays valid.
//
// # Record batch header (magic 2), big-endian
//
//	offset size field
//	0      8    baseOffset            rewritten by Append
//	8      4    batchLength           bytes after this field; total = batchLength+12
//	12     4    partitionLeaderEpoch  rewritten by Append
//	16     1    magic                 must be 2
//	17     4    crc                   CRC-32C (Castagnoli) of bytes 21..end
//	21     2    attributes            bits 0-2 codec (0-4), 3 timestamp type,
//	                                  4 transactional, 5 control
//	23     4    lastOffsetDelta
//	27     8    firstTimestamp
//	35     8    maxTimestamp
//	43     8    producerId
//	51     2    producerEpoch
//	53     4    baseSequence
//	57     4    numRecords
//	61     ...  records (possibly compressed)
//
// The log cleaner (see Compaction) is the one exception: it parses the
// records of the batches it compacts, and rewrites batches that lose some.
//
// Validation (ParseBatches): batchLength >= 49 and within the buffer, magic
// 2, known codec, CRC, lastOffsetDelta >= 0, numRecords > 0 and
// numRecords == lastOffsetDelta+1 (Kafka's produce rule), for uncompressed
// batches numRecords*7 <= body bytes (a record is at least 7 bytes), and
// size <= MaxMessageBytes. Replicated batches (AppendAsFollower) and
// recovery use a lenient variant that also admits batches emptied by
// compaction (0 <= numRecords <= lastOffsetDelta+1) and no size limit.
// Nothing is ever allocated from a length field: lengths are checked against
// the bytes actually present (input buffer or file size) first, and
// recovery streams CRCs through a fixed buffer of at most 64 KiB.
//
// # Directory layout
//
// One directory per partition (the caller picks it, e.g. "<topic>-<p>"):
//
//	00000000000000000000.log        segment: concatenated batches
//	00000000000000000000.index      sparse offset index of that segment
//	00000000000000000000.timeindex  sparse time index of that segment
//	00000000000000001234.log        next segment, first offset 1234
//	...
//	leader-epoch-checkpoint         epoch -> start offset history
//	log-start-offset-checkpoint     log start offset (DeleteRecords)
//	recovery-point-offset-checkpoint  recovery point: every batch below it was fsynced
//	cleaner-offset-checkpoint       compacted logs: first offset not yet cleaned
//	.clean-shutdown                 present only after a clean Close
//	.open                           the same file while the log is open (renamed, not recreated)
//	*.tmp                           checkpoint being replaced (deleted by Open)
//	00000000000000000000.txnindex   aborted transactions whose ABORT marker is in
//	                                that segment (only segments that have some)
//	<base>.log.cleaned, .index.cleaned, .timeindex.cleaned, .txnindex.cleaned
//	                                a cleaned segment being written (see Compaction)
//	<base>.swap                     a cleaned segment being swapped in
//
// The caller may keep files of its own in the directory; Open ignores any
// other name (but deletes *.tmp) and Delete removes the directory with
// them. Package replica keeps producer-state snapshots,
// <offset>.snapshot (replica/snapshot.go), high-watermark-checkpoint, and
// partition.metadata (Kafka's
// KIP-516 file naming the topic id the log belongs to, two text lines
// "version: 0" and "topic_id: <16-byte id in unpadded base64url>"; see
// replica/doc.go for how a mismatch is handled).
//
// Segment files are named by their base offset, zero-padded to 20 decimal
// digits as in Kafka. A segment's base offset is the offset of its first
// batch (or the log end when it was created empty). The last segment is the
// active one; only it is appended to. A new segment is rolled before an
// append when the active one is non-empty and either the append would take
// it past SegmentBytes, it has existed for SegmentMs (measured from its
// first append, or from its first batch's maxTimestamp after a restart), or
// a relative offset would overflow 32 bits.
//
// .log: batches back to back, no framing of our own; byte-identical to
// Kafka's segment format for magic 2.
//
// .index: entries of 8 bytes: relative offset u32 (batch baseOffset minus
// segment base) then position u32 (byte offset of that batch in .log),
// big-endian. An entry is added for a batch when at least
// IndexIntervalBytes were appended since the previous entry (position 0 is
// implicit and never stored). Relative offsets and positions are strictly
// increasing. Unlike Kafka, entries name the batch's base offset (Kafka's
// name the last offset); a lookup takes the last entry <= the target and
// scans batch headers forward from its position.
//
// .timeindex: entries of 12 bytes: timestamp i64 then relative offset u32,
// big-endian. Written alongside an .index entry when the segment's largest
// batch maxTimestamp grew since the last entry; the offset is the base
// offset of the batch carrying that timestamp. When a segment stops being
// active its final largest timestamp is appended, so the last entry of an
// inactive segment is its max timestamp (used by time retention and
// ListOffsets -3 without scanning).
//
// The active segment's index entries live in memory (lookups use them
// there); its two index files are written when the segment rolls and when
// the log closes, not by each append: two small writes per append were a
// fixed cost per partition of every produce request (Kafka memory-maps its
// indexes for the same reason). After a crash recovery rebuilds the active
// segment's indexes from its data anyway; after a clean shutdown they are
// complete.
//
// .txnindex (Kafka's transaction index, txnindex.go): entries of 34 bytes,
// big-endian: version i16 (0), producer id i64, first offset i64, last
// offset i64 (the ABORT marker's), last stable offset i64 at the abort. The
// caller appends them (AppendAbortedTxn) in marker order to the segment
// holding the marker; appending an entry not past the segment's last one
// is a no-op, so replays are idempotent. A partial trailing entry is
// ignored. Truncation drops entries at and after the cut, retention and
// DeleteRecords remove the file with its segment, and the cleaner's swap
// carries the input segments' entries into the cleaned one. Written
// indexes are fsynced when a segment rolls and at Close (whatever the fsync
// policy); after
// an unclean stop the caller cuts it at the start of its replay
// (TruncateAbortedTxns) and writes the tail again. AbortedTxns reads the
// files from the segment holding the fetch offset on and stops at the first
// entry whose last stable offset reaches the fetch's upper bound, as
// Kafka's collectAbortedTransactions does.
//
// Checkpoint files use Kafka's text format: a version line "0", a line
// with the entry count, then one entry per line. leader-epoch-checkpoint
// entries are "<epoch> <startOffset>"; log-start-offset-checkpoint and
// recovery-point-offset-checkpoint have one entry "<offset>". They are
// replaced atomically: write *.tmp, fsync, rename, fsync the directory.
//
// The recovery point (Kafka's recovery-point-offset-checkpoint, one file
// per partition here) moves up to the log end a successful Sync covered; it
// is written a minute after a Sync moved it (from a timer,
// whatever the fsync policy) and by Close, and lowered in the file at once by
// any truncation below it. A stale (low) value only makes recovery recheck
// more; a missing one means 0.
//
// # Memory
//
// Only the active segment keeps its indexes in memory (8 bytes per
// IndexIntervalBytes of data, ~2 MiB for a full 1 GiB segment) and its
// index files open. Inactive segments keep one open .log descriptor and a
// few integers; their index files are opened and binary-searched with pread
// per lookup. Nothing is mmapped or preallocated, so an idle partition costs
// a few KiB. Consecutive reads at the tail skip the index entirely via a
// cached (segment, offset, position) hint.
//
// # Descriptors and goroutines
//
// Logs opened with OpenShared share a FileCache: their segment and index
// files are handles whose descriptors the cache closes, least recently used
// first, when more than its limit are open and idle, and reopens on the
// next use; a descriptor is never closed under a read, write or fsync in
// progress. So the descriptors held are bounded by the cache (softly: in-use
// files are never evicted), not by partitions times segments. A log holds
// no goroutine: the interval fsync and the recovery point checkpoint run
// from timers armed only when there is something to do (see Fsync policy).
//
// # Recovery (Open)
//
//   - *.tmp files and index files without a .log are deleted.
//   - Segments wholly below the checkpointed log start (an interrupted
//     DeleteRecordsBefore) are deleted.
//   - Inactive segments wholly below the recovery point (all of them after a
//     clean shutdown) are trusted. Their indexes are checked cheaply (sizes
//     are whole entries, the last .index position lies inside the .log, the
//     .timeindex is non-empty if the .log is); if that fails both indexes
//     are rebuilt by scanning the segment, CRCs included, cutting it at the
//     first bad batch.
//   - After a crash, an inactive segment holding offsets at or above the
//     recovery point (rolled but perhaps never fsynced) is scanned batch by
//     batch with CRC verification and its indexes rewritten; it is queued
//     for the next Sync. If it is cut at a bad batch, every later segment
//     is deleted and it becomes the active segment (Kafka's recovery does
//     the same): nothing after a hole is kept.
//   - The active segment is scanned batch by batch with CRC verification:
//     after a clean shutdown from its last .index entry, after a crash from
//     position 0 (out-of-order writeback after a power loss can leave holes
//     anywhere after the last fsync). A batch is accepted if its header is
//     valid, it fits in the file, its CRC matches and its base offset is not
//     below the previous batch's end. The file is truncated at the first
//     batch that fails; everything before it is kept. The index files are
//     then brought in line with the scan (only entries they lack are written
//     when they were whole). If the index is missing, malformed or its last
//     entry does not point at a batch with the claimed offset, the scan
//     starts at 0.
//
// # Close
//
// Close fsyncs what was written since the last fsync (segment and index
// files track it; after a crash everything counts as written, since the
// crashed process may not have fsynced) and the directory if entries
// changed, saves the recovery point and renames .open back to
// .clean-shutdown (a new log creates it), then fsyncs the directory. An
// unchanged log so costs one rename and one directory fsync: a broker with
// 10 000 idle partitions stopped in 1.4-1.6 s instead of 4.7-5.2 s.
//   - Log end = end of the last valid batch; log start = max(checkpoint,
//     first segment base). If the checkpoint is beyond the end, the log is
//     emptied and restarted at the checkpoint. Epoch entries at or past the
//     end are dropped.
//
// # Compaction (log cleaner)
//
// Logs whose Config.Compact is set (cleanup.policy=compact) are compacted
// by a Cleaner (cleaner*.go; Kafka's LogCleaner), whose goroutines pick the
// log with the highest dirty ratio (bytes of inactive segments from the
// first dirty offset on, over all inactive bytes) at or above
// MinCleanableDirtyRatio, or any log whose first dirty segment is older
// than MaxCompactionLag. The active segment is never cleaned, nor anything
// at or above the caller's bound (the last stable offset: at most the high
// watermark, and never past an open transaction's first offset) or in a
// segment younger than MinCompactionLag; with MaxCompactionLag set the
// active segment rolls at least that often.
//
// A pass first reads the batches below its end for their control markers:
// each producer's transactions and whether they were aborted, and its last
// batch. A transaction whose marker is not below the end lowers the end to
// its first offset. It then puts the keys of the dirty section (committed
// transactional data included, aborted data not) into a fixed-size table
// (CleanerConfig.DedupeBufferSize; 24 bytes a key: 16 bytes of its SHA-256
// and the offset) and stops where it fills. It then rewrites every
// inactive segment below the table's end into new segments of at most
// SegmentBytes of input, each named after its first input's base offset.
// Batches at or past the table's end are copied as they are. A record is
// kept unless a later record in the table has its key, or it has no key,
// or it belongs to an aborted transaction, or it is a tombstone in a batch
// whose delete horizon has passed. The delete horizon (KIP-534) is
// attribute bit 6 (0x40) with firstTimestamp holding the horizon in
// milliseconds and every record's timestampDelta relative to it; the first
// pass that keeps a tombstone, or a marker whose transaction has no record
// left, stamps its batch with the pass's time plus DeleteRetention, and a
// pass at or past the horizon drops it (a marker that is its producer's
// last batch stays). A batch whose records all stay and needs no stamp is
// copied byte for byte; one that changes is re-encoded with its codec
// (CleanerConfig.Compress; uncompressed without one) with the same
// baseOffset, lastOffsetDelta, maxTimestamp, producer id, epoch and base
// sequence, numRecords and batchLength adjusted and the CRC recomputed, as
// Kafka's cleaner does for v2; one that loses all of them is dropped,
// unless it is its producer's last batch in the cleaned range (kept with
// numRecords 0 so the producer's sequence state survives, as in Kafka).
// Compressed batches need CleanerConfig.Decompress; without it they are
// kept whole. The swap drops from the cleaned segment's transaction index
// the aborted transactions none of whose records remain, before their
// markers go (CleanedAbort).
// Offsets are preserved, so a compacted log has gaps; readers follow
// lastOffsetDelta. The pass ends by writing cleaner-offset-checkpoint
// (same format as log-start-offset-checkpoint) with the table's end.
//
// Swapping a cleaned segment in survives a crash at any step:
//
//  1. its .log.cleaned, .index.cleaned and .timeindex.cleaned are written
//     and fsynced, without locks; Open deletes such files when no marker
//     names them;
//  2. under fileMu and mu, after checking its input segments are still the
//     log's (else the pass is dropped), the inputs' aborted-transaction
//     entries are written to .txnindex.cleaned (fsynced; none: no file),
//     then <base>.swap atomically, holding the end offset of the inputs
//     [base, end);
//  3. the other inputs' files are removed (.log first), then the .cleaned
//     files renamed over <base>'s (indexes first, .log last), the directory
//     fsynced and the marker removed.
//
// Open rolls a marker forward before listing segments: it repeats step 3
// (removing what is gone and renaming what is left are idempotent). Readers
// never see a half-written segment; a reader holding the old file (a
// sendfile Slice) keeps its own descriptor of the old inode.
//
// # Retention and DeleteRecords
//
// EnforceRetention does nothing when Config.KeepForever is set
// (cleanup.policy=compact without delete). EnforceRetention and
// DeleteRecordsBefore take the caller's high watermark
// as an upper bound: only whole segments entirely below it are deleted, and
// the log start offset never passes it (DeleteRecordsBefore beyond it is
// ErrOffsetOutOfRange). The package knows nothing of replication; the bound
// is the caller's.
//
// A process crash (kill -9) never loses a batch whose Append returned (the
// write is in the page cache); a power loss can lose what was not fsynced.
//
// # Fsync policy
//
// FsyncAlways: callers call Sync before acknowledging a produce. Sync is a
// group commit: callers wait for the generation (count of appends) they
// need; one of them runs fsync while later appends proceed, and every
// waiter covered by that fsync returns without another. Eight concurrent
// producers therefore cost about one fsync per round, not eight.
// FsyncInterval: the first append after a Sync arms a timer that calls Sync
// FlushInterval later (stopped by Close); an idle log holds no goroutine and
// no timer, so thousands of partitions cost nothing while idle. FsyncNever: no fsync except
// on roll (indexes of the finished segment), in explicit Sync calls and in
// Close; durable against process crashes only (Kafka's default).
// Sync fsyncs the .log data of the active segment and of segments rolled
// since the previous Sync, and the directory when files were created or
// removed. Index files are not part of Sync: the active segment's are
// rebuilt by recovery; a rolled segment's are fsynced when it rolls (unless
// FsyncNever).
//
// # I/O errors
//
// Errors wrap ErrStorage and the OS error (errors.Is(err, syscall.ENOSPC)
// works). A failed append write truncates the .log and the in-memory state
// back to the last good position, so the log stays appendable once space
// returns. If that truncation also fails, or an fsync fails (after which
// Linux may have dropped the dirty pages, so durability cannot be proven by
// a retry), the log refuses appends and Syncs with ErrStorage until
// reopened; reads keep working. A failed index write fails the append that
// rolls the segment (which stays active, and rolls at a later append) or
// Close (which then leaves no clean marker, so the next open rebuilds the
// indexes).
//
// # Concurrency and lock order
//
// All methods are safe for concurrent use. Locks, in acquisition order:
//
//  1. Log.fileMu (RWMutex): read-held by an fsync in progress; write-held by
//     operations that close or delete segment files (TruncateTo, retention,
//     DeleteRecordsBefore, Close, a cleaned segment's swap). The cleaner
//     reads and writes segment files without either lock (its own
//     descriptors; segments below the active one are never written).
//  2. Log.mu (RWMutex): segment list and all mutable state. Append, roll
//     and AppendAsFollower hold it for writing; Read, OffsetForTimestamp and
//     friends for reading (reads are pread calls under the read lock).
//  3. Log.txnMu (Mutex): the segments' .txnindex state, for holders of mu
//     for reading (AbortedTxns, AppendAbortedTxn); holders of mu for
//     writing touch it without txnMu.
//  4. groupCommit.mu: the Sync rendezvous; never held while taking 1 or 2.
//  5. flushTimers.mu: arming and stopping the flush and checkpoint timers
//     (taken under mu by appends); a timer callback releases it before
//     calling Sync.
//  6. FileCache.mu: innermost, across all logs sharing the cache; held only
//     to pin, unpin, evict or close descriptors (evictions close files under
//     it, reopens happen outside it).
//
// LogStartOffset and LogEndOffset are atomics and take no lock.
package storage
