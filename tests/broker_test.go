package tests

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Timeouts of the broker process lifecycle. They are failure deadlines, not
// expectations: a healthy broker starts and stops in well under a second.
const (
	brokerStartTimeout = 60 * time.Second
	brokerStopTimeout  = 30 * time.Second
	// maxDumpedLog caps how much broker stderr a failing test prints.
	maxDumpedLog = 256 << 10
)

var (
	// listeningRe matches the slog line the broker prints once it accepts
	// Kafka clients, e.g.
	//   level=INFO msg="listening for Kafka clients" listener=PLAINTEXT bind=127.0.0.1:40123 advertised=127.0.0.1:40123
	listeningRe = regexp.MustCompile(`msg="listening for Kafka clients".*\badvertised=("?)([^\s"]+)`)
	// raftAddrRe picks up the Raft transport address a fresh node reports,
	// so that restarts reuse it (the stored Raft configuration names it).
	raftAddrRe = regexp.MustCompile(`\braft_addr=("?)([^\s"]+)`)
)

// broker is one `strom broker` process with its own data directory, restartable
// on the same data directory and Kafka port. Its methods are called from the
// test goroutine only; the one goroutine per process that reads stderr is
// owned by the broker and waited for by Stop and Kill.
type broker struct {
	t        *testing.T
	nodeID   int32 // --node-id; 0 means 1 (a single broker)
	dataDir  string
	extra    []string // additional flags, e.g. --log-fsync always
	port     int      // Kafka port; 0 until the first start chose one
	raftAddr string   // Raft bind address; 127.0.0.1:0 until learned
	addr     string   // advertised host:port clients bootstrap from
	starts   int

	logMu sync.Mutex
	log   bytes.Buffer // stderr of every run, runs separated by a marker line

	paused  bool // SIGSTOPped by Pause, until Resume
	cmd     *exec.Cmd
	exited  chan struct{} // closed once cmd has been waited for
	exitErr error         // written before exited is closed
}

// startBroker starts a broker on ephemeral ports in a fresh temp dir, with
// flags for fast tests plus extra. It is stopped when the test ends, and its
// stderr is printed if the test failed.
func startBroker(t *testing.T, extra ...string) *broker {
	t.Helper()
	b := newBroker(t, extra)
	b.Start()
	return b
}

// newBroker prepares a broker in a fresh temp dir without starting it, and
// registers the cleanups that stop it and report its stderr.
func newBroker(t *testing.T, extra []string) *broker {
	t.Helper()
	b := &broker{t: t, dataDir: t.TempDir(), extra: extra, raftAddr: "127.0.0.1:0"}
	// Cleanups run last-in first-out: stop first, so the dump includes the
	// shutdown lines.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("broker stderr (%s):\n%s", b.dataDir, b.logTail(maxDumpedLog))
			b.keepLog()
		}
	})
	t.Cleanup(func() {
		if b.paused {
			b.Resume()
		}
		if b.running() {
			b.Stop()
		}
		// A broker built with STROM_TEST_RACE=1 reports races on stderr; a
		// Go panic prints "panic:" and goroutine dumps.
		for _, mark := range []string{"WARNING: DATA RACE", "panic:"} {
			if strings.Contains(b.Logs(), mark) {
				t.Errorf("broker: stderr contains %q", mark)
			}
		}
	})
	return b
}

// Addr is the advertised host:port of the broker.
func (b *broker) Addr() string { return b.addr }

// Start starts the process and waits until it logs that it listens for Kafka
// clients. After the first start it reuses the Kafka port and Raft address.
func (b *broker) Start() {
	b.t.Helper()
	b.awaitReady(b.launch())
}

// launch starts the process without waiting for it to serve clients: brokers
// of a cluster only listen once their controller quorum has formed, so a
// cluster launches all of them before waiting for any (awaitReady).
func (b *broker) launch() <-chan string {
	b.t.Helper()
	if b.running() {
		b.t.Fatalf("broker: Start while running")
	}
	id := b.nodeID
	if id == 0 {
		id = 1
	}
	args := []string{"broker",
		"--node-id", strconv.Itoa(int(id)),
		"--listen", net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)),
		"--raft-addr", b.raftAddr,
		"--data-dir", b.dataDir,
		"--group-initial-rebalance-delay-ms", "0",
		"--offsets-topic-num-partitions", "4",
	}
	args = append(args, b.extra...)
	b.starts++
	b.appendLog(fmt.Sprintf("===== start #%d: strom %q", b.starts, args))

	cmd := exec.Command(stromBin, args...)
	setChildAttrs(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.t.Fatalf("broker: stderr pipe: %v", err)
	}
	cmd.Stdout = logWriter{b}
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("broker: start %s: %v", stromBin, err)
	}
	b.cmd = cmd
	b.exited = make(chan struct{})
	ready := make(chan string, 1)
	go b.readStderr(stderr, ready)
	return ready
}

// awaitReady waits for the "listening for Kafka clients" line of the process
// launch started, and records the Kafka address it advertises.
func (b *broker) awaitReady(ready <-chan string) {
	b.t.Helper()
	if err := b.awaitReadyErr(ready); err != nil {
		b.t.Fatal(err)
	}
}

// awaitReadyErr is awaitReady returning what went wrong; a broker that
// exited has its last log lines in the error (a port taken under it shows
// there as "address already in use").
func (b *broker) awaitReadyErr(ready <-chan string) error {
	select {
	case adv := <-ready:
		return b.readyAt(adv)
	case <-b.exited:
		return b.exitedEarly()
	case <-time.After(brokerStartTimeout):
		b.Kill()
		return fmt.Errorf("broker %d: no %q line within %v", b.nodeID, "listening for Kafka clients", brokerStartTimeout)
	}
}

// readyAt takes the advertised address a started broker printed.
func (b *broker) readyAt(adv string) error {
	_, portStr, err := net.SplitHostPort(adv)
	port, perr := strconv.Atoi(portStr)
	if err != nil || perr != nil || port == 0 {
		b.Kill()
		return fmt.Errorf("broker: cannot parse advertised address %q", adv)
	}
	if b.port != 0 && port != b.port {
		b.Kill()
		return fmt.Errorf("broker: restarted on port %d, want %d", port, b.port)
	}
	b.port, b.addr = port, adv
	return nil
}

// exitedEarly describes a broker that exited before it was ready.
func (b *broker) exitedEarly() error {
	return fmt.Errorf("broker %d: exited before listening for clients: %v; last lines:\n%s", b.nodeID, b.exitErr, b.logTail(2000))
}

// readStderr copies the process's stderr into the log, reports the advertised
// address on ready, then reaps the process.
func (b *broker) readStderr(r io.Reader, ready chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		b.appendLog(line)
		if m := listeningRe.FindStringSubmatch(line); m != nil {
			select {
			case ready <- m[2]:
			default:
			}
		}
		if m := raftAddrRe.FindStringSubmatch(line); m != nil {
			// Read by Start only after exited is closed below.
			b.raftAddr = m[2]
		}
	}
	_, _ = io.Copy(io.Discard, r) // after a scanner error, keep the pipe drained
	err := b.cmd.Wait()
	b.exitErr = err
	close(b.exited)
}

// running reports whether the current process is still alive.
func (b *broker) running() bool {
	if b.cmd == nil {
		return false
	}
	select {
	case <-b.exited:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM and waits for a clean exit. An earlier unexpected exit,
// a non-zero exit status or a hang are test errors: they are broker bugs.
func (b *broker) Stop() {
	b.t.Helper()
	if !b.running() {
		if b.cmd != nil && b.exitErr != nil {
			b.t.Errorf("broker: had already exited: %v", b.exitErr)
		}
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
		if b.exitErr != nil {
			b.t.Errorf("broker: unclean exit after SIGTERM: %v", b.exitErr)
		}
	case <-time.After(brokerStopTimeout):
		b.t.Errorf("broker: still running %v after SIGTERM; its goroutines follow in its log (SIGQUIT)", brokerStopTimeout)
		b.dumpAndKill()
	}
}

// dumpAndKill ends a hung broker with SIGQUIT, on which the Go runtime
// writes every goroutine's stack to stderr (kept in the broker's log) and
// exits, so that the hang can be read afterwards; SIGKILL if even that does
// not end it.
func (b *broker) dumpAndKill() {
	b.t.Helper()
	_ = b.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-b.exited:
	case <-time.After(10 * time.Second):
		b.Kill()
	}
}

// Kill sends SIGKILL, as a crash would, and waits for the process to be gone.
func (b *broker) Kill() {
	b.t.Helper()
	if !b.running() {
		b.t.Errorf("broker: Kill, but it had already exited: %v", b.exitErr)
		return
	}
	_ = b.cmd.Process.Kill()
	<-b.exited
}

// Pause freezes the process with SIGSTOP, as a long GC pause, a stalled VM
// or a `docker pause` would: its sockets stay open but nothing answers.
func (b *broker) Pause() {
	b.t.Helper()
	if !b.running() {
		b.t.Errorf("broker: Pause, but it had exited: %v", b.exitErr)
		return
	}
	if err := b.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		b.t.Errorf("broker: SIGSTOP: %v", err)
		return
	}
	b.paused = true
}

// Resume lets a paused process run again (SIGCONT).
func (b *broker) Resume() {
	b.t.Helper()
	if err := b.cmd.Process.Signal(syscall.SIGCONT); err != nil && b.running() {
		b.t.Errorf("broker: SIGCONT: %v", err)
	}
	b.paused = false
}

// keepLog writes the broker's whole stderr (every run) to a file that
// outlives the test's temp dirs: $STROM_TEST_LOGS, else a strom-failed-*
// directory under the system temp dir, one per test, and says where.
func (b *broker) keepLog() {
	dir := os.Getenv("STROM_TEST_LOGS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "strom-failed-"+strings.NewReplacer("/", "_", " ", "_").Replace(b.t.Name()))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Logf("cannot keep broker log: %v", err)
		return
	}
	name := filepath.Join(dir, fmt.Sprintf("broker-%d.log", max(b.nodeID, 1)))
	if err := os.WriteFile(name, []byte(b.Logs()), 0o644); err != nil {
		b.t.Logf("cannot keep broker log: %v", err)
		return
	}
	b.t.Logf("broker %d's full log kept in %s", max(b.nodeID, 1), name)
}

// Restart stops the broker gracefully and starts it again on the same data
// directory and port.
func (b *broker) Restart() {
	b.t.Helper()
	b.Stop()
	b.Start()
}

func (b *broker) appendLog(line string) {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	b.log.WriteString(line)
	b.log.WriteByte('\n')
}

// Logs returns everything the broker printed so far, over all runs.
func (b *broker) Logs() string {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	return b.log.String()
}

func (b *broker) logTail(n int) string {
	s := b.Logs()
	if len(s) > n {
		return "[...]\n" + s[len(s)-n:]
	}
	return s
}

// logWriter appends the process's stdout to the broker log.
type logWriter struct{ b *broker }

func (w logWriter) Write(p []byte) (int, error) {
	w.b.appendLog(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
