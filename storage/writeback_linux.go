package storage

import "golang.org/x/sys/unix"

// startWriteback submits the dirty pages of fd in [off, off+n) for writing
// and returns without waiting for the disk: sync_file_range with
// SYNC_FILE_RANGE_WRITE alone makes nothing durable (no metadata, no
// cache flush), it only moves the writeback earlier.
func startWriteback(fd uintptr, off, n int64) error {
	return unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
