package storage

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback submits the dirty pages of f in [off, off+n) for writing
// and returns without waiting for the disk: sync_file_range with
// SYNC_FILE_RANGE_WRITE alone makes nothing durable (no metadata, no
// cache flush), it only moves the writeback earlier.
func startWriteback(f *os.File, off, n int64) error {
	return unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
