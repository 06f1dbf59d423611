// Package testlog sends a component's log output to the test that runs it.
//
// Strom's packages take an injected *slog.Logger (or, through adapters, a
// writer for raft's hclog and memberlist's *log.Logger). Their tests want
// those lines in `go test -v` output, next to the test that produced them,
// and in nothing else: Logger and Writer forward every line to t.Log.
//
// Raft, memberlist and the storage recovery goroutines may log after the test
// function has returned, while its cleanups close them; testing panics when
// t.Log is called after a test has completed. A Writer therefore stops
// forwarding when the test's cleanups run: NewWriter registers the stop as the
// first cleanup, so it runs last, after every component the test opened
// afterwards has been closed, and lines after that are dropped.
//
// It is a non-test package so that every package's tests can import the one
// copy; it imports only the standard library.
package testlog
