package storage

import (
	"container/list"
	"os"
	"sync"
	"sync/atomic"
)

// FileCache bounds the file descriptors that the segment and index files of
// many logs hold open, like Kafka's lazily opened index files: a broker with
// 10 000 partitions would otherwise hold three descriptors per partition
// (the active segment's .log, .index and .timeindex) plus one per older
// segment, beyond a typical RLIMIT_NOFILE.
//
// Every file a log opens through the cache is a handle that keeps its path;
// its descriptor is closed when it has been idle longest and the cache is
// over its limit, and reopened (without O_CREATE/O_TRUNC) on the next use.
// A descriptor is never closed while an operation (a read, write, fsync)
// runs on it, so the limit is soft: it is exceeded while more files than
// the limit are in use at the same moment. Hot partitions keep their
// descriptors; only cold ones pay a reopen.
//
// Reopening cannot lose data: closing a descriptor leaves written pages in
// the page cache, and fsync through a new descriptor flushes the inode's
// dirty pages whichever descriptor wrote them (Linux since 4.16 also reports
// a writeback error not yet seen by anyone to the new descriptor's fsync).
//
// Handles reopen by path, so a file (or its directory) must not be renamed
// while a handle on it is open; logs never rename their segment files, and
// package replica moves a partition directory aside only while its log is
// closed.
//
// A FileCache is safe for concurrent use by any number of logs. Its zero
// value is not usable; see NewFileCache. Pass it to OpenShared.
type FileCache struct {
	limit int

	mu   sync.Mutex
	open int       // descriptors held through the cache
	idle list.List // of *cachedFile with a descriptor and no operation in progress, least recently used first

	opens atomic.Int64 // descriptors opened, including reopens
}

// DefaultMaxOpenFiles is the FileCache limit NewFileCache(0) uses when the
// process's descriptor limit is unknown.
const DefaultMaxOpenFiles = 4096

// minOpenFiles is the smallest limit a FileCache accepts: an append may need
// a few files of one log at once (its old and new active segment files).
const minOpenFiles = 8

// NewFileCache returns a cache holding at most limit descriptors open
// (except while more are in use at once). limit 0 means
// DefaultMaxOpenFiles; limits below 8 are raised to 8.
func NewFileCache(limit int) *FileCache {
	if limit == 0 {
		limit = DefaultMaxOpenFiles
	}
	return &FileCache{limit: max(limit, minOpenFiles)}
}

// Limit is the number of descriptors the cache aims to hold at most.
func (c *FileCache) Limit() int { return c.limit }

// FileCacheStats is a snapshot of a FileCache's counters.
type FileCacheStats struct {
	Open  int   // descriptors held now
	Opens int64 // descriptors opened so far, reopens after eviction included
}

// Stats returns the cache's current counters.
func (c *FileCache) Stats() FileCacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return FileCacheStats{Open: c.open, Opens: c.opens.Load()}
}

// OpenFile opens name now (so that a missing file or a failed create is
// reported here) and returns a handle whose descriptor the cache may close
// and reopen later. It implements fileSystem.
func (c *FileCache) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	c.opens.Add(1)
	cf := &cachedFile{c: c, name: name, flag: flag &^ (os.O_CREATE | os.O_TRUNC | os.O_EXCL), perm: perm}
	c.mu.Lock()
	cf.f = f
	c.open++
	cf.elem = c.idle.PushBack(cf)
	c.evictLocked()
	c.mu.Unlock()
	return cf, nil
}

// evictLocked closes least recently used idle descriptors while the cache
// is over its limit. Caller holds mu.
func (c *FileCache) evictLocked() {
	for c.open > c.limit {
		e := c.idle.Front()
		if e == nil {
			return // everything open is in use: the limit is soft
		}
		cf := e.Value.(*cachedFile)
		c.idle.Remove(e)
		cf.elem = nil
		_ = cf.f.Close() // nothing unwritten is lost by a close; Sync reports durability
		cf.f = nil
		c.open--
	}
}

// cachedFile is a file whose descriptor the FileCache may close while it is
// idle. All fields but the immutable ones are guarded by c.mu.
type cachedFile struct {
	c    *FileCache
	name string
	flag int // flags for reopening: the original ones without O_CREATE, O_TRUNC, O_EXCL
	perm os.FileMode

	f      *os.File      // nil while evicted
	refs   int           // operations in progress
	elem   *list.Element // in c.idle iff f != nil && refs == 0 && !closed
	closed bool
}

// acquire returns the open descriptor, reopening it if it was evicted, and
// pins it until release.
func (cf *cachedFile) acquire() (*os.File, error) {
	c := cf.c
	c.mu.Lock()
	for {
		if cf.closed {
			c.mu.Unlock()
			return nil, os.ErrClosed
		}
		if cf.f != nil {
			if cf.elem != nil {
				c.idle.Remove(cf.elem)
				cf.elem = nil
			}
			cf.refs++
			f := cf.f
			c.mu.Unlock()
			return f, nil
		}
		// Reopen without holding the cache lock; another caller may race
		// us to it, in which case the loser closes its descriptor.
		c.mu.Unlock()
		f, err := os.OpenFile(cf.name, cf.flag, cf.perm)
		if err != nil {
			return nil, err
		}
		c.opens.Add(1)
		c.mu.Lock()
		if cf.f != nil || cf.closed {
			_ = f.Close()
			continue
		}
		cf.f = f
		c.open++
		c.evictLocked() // cf is not idle, so it stays
	}
}

// release unpins the descriptor acquire returned; the last release of a
// closed handle closes it.
func (cf *cachedFile) release() {
	c := cf.c
	c.mu.Lock()
	defer c.mu.Unlock()
	cf.refs--
	if cf.refs > 0 || cf.f == nil {
		return
	}
	if cf.closed {
		_ = cf.f.Close()
		cf.f = nil
		c.open--
		return
	}
	cf.elem = c.idle.PushBack(cf)
	c.evictLocked()
}

func (cf *cachedFile) ReadAt(p []byte, off int64) (int, error) {
	f, err := cf.acquire()
	if err != nil {
		return 0, err
	}
	defer cf.release()
	return f.ReadAt(p, off)
}

func (cf *cachedFile) WriteAt(p []byte, off int64) (int, error) {
	f, err := cf.acquire()
	if err != nil {
		return 0, err
	}
	defer cf.release()
	return f.WriteAt(p, off)
}

func (cf *cachedFile) Truncate(size int64) error {
	f, err := cf.acquire()
	if err != nil {
		return err
	}
	defer cf.release()
	return f.Truncate(size)
}

func (cf *cachedFile) Sync() error {
	f, err := cf.acquire()
	if err != nil {
		return err
	}
	defer cf.release()
	return f.Sync()
}

func (cf *cachedFile) Stat() (os.FileInfo, error) {
	f, err := cf.acquire()
	if err != nil {
		return nil, err
	}
	defer cf.release()
	return f.Stat()
}

// Close closes the handle: its descriptor at once, or when the operation in
// progress on it ends. Later operations fail with os.ErrClosed.
func (cf *cachedFile) Close() error {
	c := cf.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if cf.closed {
		return os.ErrClosed
	}
	cf.closed = true
	if cf.f == nil || cf.refs > 0 {
		return nil
	}
	if cf.elem != nil {
		c.idle.Remove(cf.elem)
		cf.elem = nil
	}
	err := cf.f.Close()
	cf.f = nil
	c.open--
	return err
}
