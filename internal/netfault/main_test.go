package netfault

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the network starts (the gossip packet filter) and every
// one a test starts must end by the time the tests do.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
