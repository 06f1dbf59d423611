//go:build unix

package replica

import (
	"syscall"

	"github.com/strombroker/strom/storage"
)

// defaultMaxOpenFiles is three quarters of the process's descriptor limit
// (the Go runtime raises the soft limit to the hard one at start-up), but
// leaving at least 1024 (or half the limit, if that is less) to client
// connections, Raft and checkpoint files. Enough to keep the active
// segment of every partition open is what keeps produce from reopening
// files: 10 000 partitions under a limit of 20 000 get 15 000.
func defaultMaxOpenFiles() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return storage.DefaultMaxOpenFiles
	}
	n := min(rl.Cur, 1<<22)
	return int(max(n/2, min(n*3/4, n-1024)))
}
