package storage

import "os"

// writebackBytes is how much a log appends under FsyncInterval before it
// asks the kernel to start writing those bytes to disk, without waiting
// for them (RocksDB's bytes_per_sync). The fsyncs that follow, the
// interval flush and the one an acks=all answer waits for, then find
// little left to write.
//
// Without it, every log's dirty pages reach the disk in one burst per
// flush interval. On a disk that several logs (or several brokers) share,
// an acks=all fsync queues behind those bursts: three brokers on one disk
// left a tenth of the CPU idle waiting for it, and throughput at 6
// partitions rose by a tenth once the writeback was spread out (README,
// Performance). Under FsyncNever nothing waits for the disk, and the
// kernel's own writeback is what Kafka users expect; under FsyncAlways
// every append is fsynced before its answer anyway.
const writebackBytes = 1 << 20

// writebacker is a file that can start writing a range of its dirty pages
// to disk without waiting for them.
type writebacker interface {
	StartWriteback(off, n int64) error
}

// kickWriteback is called after an append wrote [start, end) of the
// segment: it starts the writeback of the bytes below end once
// writebackBytes of them have accumulated. It is advice to the kernel: an
// error is left to the next fsync, which is what durability rests on.
// Caller holds the log's mu.
func (s *segment) kickWriteback(start, end int64) {
	if start < s.wbFrom {
		s.wbFrom = start // truncated below what was handed over
	}
	if end-s.wbFrom < writebackBytes {
		return
	}
	if w, ok := s.log.(writebacker); ok {
		_ = w.StartWriteback(s.wbFrom, end-s.wbFrom)
	} else if f, ok := s.log.(*os.File); ok {
		_ = startWriteback(f, s.wbFrom, end-s.wbFrom)
	}
	s.wbFrom = end
}

// StartWriteback starts writing the file's dirty pages in [off, off+n) to
// disk, reopening the file first if the cache evicted it.
func (cf *cachedFile) StartWriteback(off, n int64) error {
	f, err := cf.acquire()
	if err != nil {
		return err
	}
	defer cf.release()
	return startWriteback(f, off, n)
}
