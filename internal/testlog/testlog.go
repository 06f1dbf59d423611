package testlog

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// Writer is an io.Writer that forwards each Write, its trailing newline
// trimmed, to t.Log until Stop. Write and Stop may be called concurrently;
// Write never blocks beyond t.Log and does not keep p.
type Writer struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

// NewWriter returns a Writer for t that stops when t's cleanups run. Call it
// before opening the components that log to it, so their own cleanups (which
// run first, in reverse order) close them while lines still reach t.
func NewWriter(t testing.TB) *Writer {
	t.Helper()
	w := &Writer{t: t}
	t.Cleanup(w.Stop)
	return w
}

// Write sends p to t.Log unless the writer has stopped; it always reports
// the whole of p written, so a logger never sees an error.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// Stop makes later Writes drop their lines; it is idempotent.
func (w *Writer) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}

// New returns a text slog.Logger at level that writes to t.Log through a
// Writer, until t's cleanups run.
func New(t testing.TB, level slog.Level) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(NewWriter(t), &slog.HandlerOptions{Level: level}))
}
