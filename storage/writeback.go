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

// writebackSlots bounds the writebacks in progress in the process. A
// writeback runs on a goroutine of its own, not on the append path: on
// ext4 it may wait for a journal commit that an fsync started, and an
// append holds its log's lock. When every slot is taken the range stays
// pending and a later append hands over a larger one.
var writebackSlots = make(chan struct{}, 4)

// writebacker is a file that can start writing a range of its dirty pages
// to disk without waiting for them.
type writebacker interface {
	StartWriteback(off, n int64) error
}

// kickWriteback is called after an append wrote [start, end) of the
// segment: once writebackBytes are pending below end it starts their
// writeback in the background. It is advice to the kernel: an error is
// left to the next fsync, which is what durability rests on. Caller holds
// the log's mu.
func (s *segment) kickWriteback(start, end int64) {
	if start < s.wbFrom {
		s.wbFrom = start // truncated below what was handed over
	}
	if end-s.wbFrom < writebackBytes {
		return
	}
	var w writebacker
	switch f := s.log.(type) {
	case writebacker:
		w = f
	case *os.File:
		w = osWriteback{f}
	default:
		return
	}
	select {
	case writebackSlots <- struct{}{}:
	default:
		return
	}
	off, n := s.wbFrom, end-s.wbFrom
	s.wbFrom = end
	go func() {
		defer func() { <-writebackSlots }()
		_ = w.StartWriteback(off, n)
	}()
}

// osWriteback starts the writeback of a plain *os.File. Control holds the
// descriptor open for the call, so a concurrent Close cannot hand its
// number to another file meanwhile.
type osWriteback struct{ f *os.File }

func (o osWriteback) StartWriteback(off, n int64) error {
	rc, err := o.f.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	if err := rc.Control(func(fd uintptr) { werr = startWriteback(fd, off, n) }); err != nil {
		return err
	}
	return werr
}

// StartWriteback starts writing the file's dirty pages in [off, off+n) to
// disk, reopening the file first if the cache evicted it; a closed file
// (its segment removed meanwhile) answers an error.
func (cf *cachedFile) StartWriteback(off, n int64) error {
	f, err := cf.acquire()
	if err != nil {
		return err
	}
	defer cf.release()
	return osWriteback{f}.StartWriteback(off, n)
}
