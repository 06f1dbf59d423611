package testlog

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that keeps what is logged to it and runs its
// cleanups on demand, so the test can look at the lines and at what happens
// after the cleanups.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	lines    []string
	cleanups []func()
}

func (r *recorder) Helper() {}

func (r *recorder) Log(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range args {
		r.lines = append(r.lines, a.(string))
	}
}

func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

func (r *recorder) runCleanups() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func TestLoggerForwardsUntilCleanup(t *testing.T) {
	r := &recorder{TB: t}
	l := New(r, slog.LevelInfo)
	l.Debug("below the level")
	l.Info("first", "k", 1)
	r.runCleanups()
	l.Info("after cleanup")
	if len(r.lines) != 1 {
		t.Fatalf("lines %q, want just the info line before cleanup", r.lines)
	}
	if got := r.lines[0]; !strings.Contains(got, "msg=first k=1") || strings.HasSuffix(got, "\n") {
		t.Errorf("line %q: want the slog text line without its newline", got)
	}
}

func TestWriterConcurrentWritesAndStop(t *testing.T) {
	r := &recorder{TB: t}
	w := NewWriter(r)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				if n, err := w.Write([]byte("line\n")); n != 5 || err != nil {
					t.Errorf("Write = %d, %v; want 5, nil", n, err)
				}
			}
		})
	}
	w.Stop()
	w.Stop()
	wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lines) > 400 {
		t.Errorf("%d lines from 400 writes", len(r.lines))
	}
}
