package storage

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	checkpointFormat  = 0 // version line of both checkpoint files
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
