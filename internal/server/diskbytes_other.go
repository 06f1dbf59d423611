//go:build !unix

package server

// diskBytes is unknown (-1, -1) where statfs is not available.
func diskBytes(string) (total, usable int64) { return -1, -1 }
