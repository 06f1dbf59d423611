//go:build !linux

package tests

import "os/exec"

// setChildAttrs has nothing to set outside Linux (no parent-death signal).
func setChildAttrs(cmd *exec.Cmd) {}
