package tests

import (
	"os/exec"
	"syscall"
)

// setChildAttrs makes the kernel kill a broker whose test process died, so an
// aborted `go test` leaves no broker behind holding ports and temp dirs.
func setChildAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
