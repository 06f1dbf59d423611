package storage

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
)

// file is the subset of *os.File the log uses for segment and index files.
// It exists so tests can inject I/O faults (ENOSPC, EIO); production code uses
// osFS. Implementations must allow concurrent ReadAt with other calls.
type file interface {
	io.ReaderAt
	io.WriterAt
	Truncate(size int64) error
	Sync() error
	Close() error
	Stat() (os.FileInfo, error)
}

// fileSystem opens segment and index files.
type fileSystem interface {
	OpenFile(name string, flag int, perm os.FileMode) (file, error)
}

// trackingFS hands out the files a log writes as trackedFiles. A file opened
// while Open loads a cleanly closed log (clean) starts out synced: the
// previous Close fsynced it. Any other starts out dirty, as it may hold
// writes of a process that crashed before fsyncing them.
type trackingFS struct {
	fileSystem
	clean *atomic.Bool
}

func (fs trackingFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	f, err := fs.fileSystem.OpenFile(name, flag, perm)
	if err != nil || flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return f, err
	}
	t := &trackedFile{file: f}
	t.dirty.Store(flag&os.O_TRUNC != 0 || !fs.clean.Load())
	return t, nil
}

// trackedFile knows whether it was written since its last fsync, so that
// Sync of an unchanged file costs nothing. Close fsyncs a log's segment and
// index files; with thousands of idle partitions it reopened (through the
// FileCache) and fsynced three unchanged files per partition.
type trackedFile struct {
	file
	dirty atomic.Bool
}

// WriteAt and Truncate mark the file dirty after the write, so that a Sync
// running concurrently either covers the write or leaves the file dirty.
func (f *trackedFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.file.WriteAt(p, off)
	f.dirty.Store(true)
	return n, err
}

func (f *trackedFile) Truncate(size int64) error {
	err := f.file.Truncate(size)
	f.dirty.Store(true)
	return err
}

func (f *trackedFile) Sync() error {
	if !f.dirty.Swap(false) {
		return nil
	}
	if err := f.file.Sync(); err != nil {
		f.dirty.Store(true)
		return err
	}
	return nil
}

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // a typed nil *os.File must not become a non-nil file
	}
	return f, nil
}

// File names, as in Kafka: the base offset zero-padded to 20 digits.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	tmpSuffix       = ".tmp"
	epochCheckpoint = "leader-epoch-checkpoint"
	startCheckpoint = "log-start-offset-checkpoint"
	// recoveryCheckpoint holds the recovery point: every batch below it
	// was fsynced (Kafka's recovery-point-offset-checkpoint, one per
	// partition here).
	recoveryCheckpoint = "recovery-point-offset-checkpoint"
	// cleanShutdownFile exists only between a successful Close and the
	// next Open (Kafka's .kafka_cleanshutdown).
	cleanShutdownFile = ".clean-shutdown"
	// openMarkerFile is the clean-shutdown marker while the log is open:
	// Open renames the marker to it and Close renames it back, rather than
	// deleting the file and creating a new one. With thousands of logs,
	// freeing and allocating an inode per log made a broker's stop
	// CPU-bound in the filesystem (ext4 skips recently freed inodes when
	// it allocates, scanning its bitmaps). Its presence means nothing: a
	// crash leaves it behind, and only cleanShutdownFile counts.
	openMarkerFile   = ".open"
	checkpointFormat = 0 // version line of both checkpoint files
)

func segmentPrefix(dir string, base int64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d", base))
}

// parseSegmentName returns the base offset of a "<20 digits>.log" name.
func parseSegmentName(name string) (int64, bool) {
	stem, ok := strings.CutSuffix(name, logSuffix)
	if !ok || len(stem) != 20 {
		return 0, false
	}
	base, err := strconv.ParseInt(stem, 10, 64)
	if err != nil || base < 0 {
		return 0, false
	}
	return base, true
}

// ioErr wraps an I/O failure with ErrStorage while keeping the cause
// reachable by errors.Is / errors.As.
func ioErr(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrStorage, what, err)
}

// SyncDir fsyncs a directory so that created, renamed and removed entries are
// durable. Exported for the replica layer's own files beside the log
// (partition.metadata, moved-aside directories).
func SyncDir(dir string) error { return syncDir(dir) }

// syncDir fsyncs a directory so that created, renamed and removed entries are
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteFileAtomic replaces path with data durably: write a temp file,
// fsync it, rename it over path, fsync the directory. A crash leaves either
// the old or the new content (plus perhaps a *.tmp that Open removes from a
// log directory). Exported for the replica layer's files beside the log.
func WriteFileAtomic(path string, data []byte) error { return writeFileAtomic(path, data) }

// writeFileAtomic is WriteFileAtomic.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}
