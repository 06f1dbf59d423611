//go:build !unix

package replica

import "github.com/strombroker/strom/storage"

// defaultMaxOpenFiles: without RLIMIT_NOFILE, storage's default.
func defaultMaxOpenFiles() int { return storage.DefaultMaxOpenFiles }
