package raftmeta

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: every
// raft, transport and apply-waiter goroutine must end with Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
