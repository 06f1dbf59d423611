//go:build unix

package server

import "syscall"

// diskBytes is the total and available size of the file system holding
// dir, or -1, -1 when it cannot be read.
func diskBytes(dir string) (total, usable int64) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1, -1
	}
	return int64(st.Blocks) * int64(st.Bsize), int64(st.Bavail) * int64(st.Bsize)
}
