package membership

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: the event
// pump, leave-intent senders and memberlist's own goroutines must all end
// with Shutdown.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
