//go:build unix

package replica

import (
	"syscall"

	"github.com/strombroker/strom/storage"
)

// defaultMaxOpenFiles is half the process's descriptor limit (the Go
// runtime raises the soft limit to the hard one at start-up), leaving the
// other half to client connections, Raft and checkpoint files.
func defaultMaxOpenFiles() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return storage.DefaultMaxOpenFiles
	}
	return int(min(rl.Cur/2, 1<<20))
}
