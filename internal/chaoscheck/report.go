package chaoscheck

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Report prints a result line both to the test log and to stdout, prefixed
// with the test's name, so `make chaos` and `make chaos-docker` show the
// numbers even without -v.
func Report(t testing.TB, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	t.Log(line)
	fmt.Println(t.Name() + ": " + line)
}

// WaitFor calls fn every 100ms until it returns nil and fails the test
// with fn's last error once timeout has passed or ctx is done: how a chaos
// scenario waits for the cluster (a controller, leaders, acknowledgements)
// without sleeping a fixed time.
func WaitFor(ctx context.Context, t testing.TB, timeout time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}
