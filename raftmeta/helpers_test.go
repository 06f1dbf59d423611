package raftmeta

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/strombroker/strom/internal/testlog"
)

// testLogger sends slog output to t.Log until the test's cleanups run, so a
// straggling raft line cannot fail a finished test. Called before the
// nodes are opened, so their cleanups run first.
func testLogger(t testing.TB) *slog.Logger {
	t.Helper()
	return testlog.New(t, slog.LevelInfo)
}

// testConfig is a one-voter, tight-timer config on loopback port 0.
func testConfig(t testing.TB, id int32, dir string) Config {
	t.Helper()
	c := DefaultConfig()
	FastTimers(&c)
	c.NodeID = id
	c.DataDir = dir
	c.RaftBind = "127.0.0.1:0"
	c.BootstrapSelf = true
	c.Logger = testLogger(t)
	return c
}

// openNode opens a node that is closed when the test ends.
func openNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	n, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return n
}

// waitController waits (bounded) for n to have a caught-up controller.
func waitController(t testing.TB, n *Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.WaitController(ctx); err != nil {
		t.Fatalf("WaitController: %v", err)
	}
}

// checkFor polls cond until it returns nil or the deadline passes.
func checkFor(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
