package replica

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strombroker/strom/storage"
)

// snapshotCrashChildEnv makes the test binary act as the child of
// TestSnapshotKill9 (see TestMain): it produces to the partition in that
// directory until killed.
const snapshotCrashChildEnv = "STROM_REPLICA_SNAPSHOT_CRASH_CHILD"

// snapshotKillAtEnv, set to k, makes the crash child SIGKILL itself in the
// middle of writing its k'th snapshot: half of the temp file written, not
// fsynced, not renamed.
const snapshotKillAtEnv = "STROM_REPLICA_SNAPSHOT_KILL_AT"

// killInSnapshotWrite arranges for the k'th snapshot write of this
// process to die half-way (crash child only).
func killInSnapshotWrite(k int) {
	n := 0
	writeSnapshotFile = func(path string, data []byte) error {
		if n++; n < k {
			return storage.WriteFileAtomic(path, data)
		}
		f, err := os.Create(path + ".tmp")
		if err == nil {
			_, _ = f.Write(data[:len(data)/2])
		}
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}

// Producers of the crash child: an idempotent one, and a transactional
// one whose every transaction is aborted.
const (
	crashPID    = 5
	crashTxnPID = 6
)

func crashSettings() Settings {
	s := testSettings()
	s.Log.SegmentBytes = 1024 // a roll, and a snapshot, every few batches
	return s
}

// runSnapshotCrashChild produces idempotent batches (printing "ack <seq>"
// once each is appended) and, every tenth, an aborted transaction
// (printing "abort <marker offset>"), continuing the sequences the
// partition's state holds, until it is killed.
func runSnapshotCrashChild(dir string) int {
	if k, err := strconv.Atoi(os.Getenv(snapshotKillAtEnv)); err == nil {
		killInSnapshotWrite(k)
	}
	m, err := NewManager(Config{NodeID: self, DataDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 2
	}
	p, err := m.Open("crash", 0, crashSettings())
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 3
	}
	p.BecomeLeader(1, []int32{self})
	seq, txnSeq := int32(0), int32(0)
	for _, pi := range p.Producers() {
		switch pi.ProducerID {
		case crashPID:
			seq = pi.LastSequence + 1
		case crashTxnPID:
			txnSeq = pi.LastSequence + 1
		}
	}
	out := bufio.NewWriter(os.Stdout)
	ctx := context.Background()
	for ; ; seq++ {
		if _, err := p.Produce(ctx, batch(crashPID, 0, seq, fmt.Sprintf("v%d-%s", seq, strings.Repeat(".", 100))), 1); err != nil {
			fmt.Fprintln(os.Stderr, "produce:", err)
			return 4
		}
		fmt.Fprintf(out, "ack %d\n", seq)
		if seq%10 == 0 {
			if _, err := p.Produce(ctx, txnBatch(crashTxnPID, 0, txnSeq, "t"), 1); err != nil {
				fmt.Fprintln(os.Stderr, "produce txn:", err)
				return 5
			}
			txnSeq++
			off, err := p.WriteTxnMarker(ctx, crashTxnPID, 0, false, 0)
			if err != nil {
				fmt.Fprintln(os.Stderr, "marker:", err)
				return 6
			}
			fmt.Fprintf(out, "abort %d\n", off)
		}
		_ = out.Flush()
	}
}

// TestSnapshotKill9 SIGKILLs a process producing to a partition whose tiny
// segments make it write a producer-state snapshot every few batches, at
// random points and half-way through a snapshot write. Each time, the reopened partition
// must still know the last acknowledged batch (its retry is a duplicate)
// and every aborted transaction the child saw, and the child continues
// the producer's sequence where the state says it stopped.
func TestSnapshotKill9(t *testing.T) {
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var aborts []int64
	for round := range 6 {
		// Odd rounds: the child dies half-way through a snapshot write.
		// Even ones: a kill lands just after an acknowledgement, while
		// the child appends the next batch; a random count varies which
		// batch of a segment that is.
		n, killAt := 100+rand.IntN(100), 0
		if round%2 == 1 {
			n, killAt = math.MaxInt, 10+rand.IntN(20)
		}
		last, ab := runUntilKilled(t, exe, dir, n, killAt)
		aborts = append(aborts, ab...)
		tmps, _ := filepath.Glob(filepath.Join(dir, "crash-0", "*.tmp"))
		if killAt > 0 && len(tmps) != 1 {
			t.Fatalf("round %d: %d temp files after a kill in a snapshot write, want 1", round, len(tmps))
		}
		m := newManager(t, dir)
		p, err := m.Open("crash", 0, crashSettings())
		if err != nil {
			t.Fatal(err)
		}
		p.BecomeLeader(1, []int32{self})
		if left, _ := filepath.Glob(filepath.Join(dir, "crash-0", "*.tmp")); len(left) != 0 {
			t.Fatalf("round %d: temp files left after the reopen: %v", round, left)
		}
		t.Logf("round %d: last acknowledged sequence %d, %d leftover temp files, replayed from %d of %d",
			round, last, len(tmps), p.replayedFrom, p.LogEndOffset())
		res, err := p.Produce(testCtx(t), batch(crashPID, 0, last, fmt.Sprintf("v%d-%s", last, strings.Repeat(".", 100))), 1)
		if err != nil || !res.Duplicate {
			t.Fatalf("round %d: retry of the last acknowledged batch (sequence %d): %+v, %v; want a duplicate", round, last, res, err)
		}
		got := map[int64]bool{}
		for _, a := range abortedTxns(t, p, 0, p.LogEndOffset()) {
			got[a.LastOffset] = true
		}
		for _, off := range aborts {
			if !got[off] {
				t.Fatalf("round %d: the aborted transaction with marker %d is not in the index", round, off)
			}
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		// Kill the next child with no clean close behind it either.
		if err := os.Remove(filepath.Join(dir, "crash-0", ".clean-shutdown")); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(snapshotPath(filepath.Join(dir, "crash-0"), p.LogEndOffset())); err != nil {
			t.Fatal(err)
		}
	}
}

// runUntilKilled runs the crash child on dir until it acknowledged n more
// batches and SIGKILLs it (or, with killAt > 0, until it kills itself in
// its killAt'th snapshot write), and returns the last acknowledged sequence and
// the aborted transactions' marker offsets it reported.
func runUntilKilled(t *testing.T, exe, dir string, n, killAt int) (last int32, aborts []int64) {
	t.Helper()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), snapshotCrashChildEnv+"="+dir)
	if killAt > 0 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", snapshotKillAtEnv, killAt))
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	defer deadline.Stop()
	sc := bufio.NewScanner(stdout)
	last = -1
	// Until n acknowledgements, then kill, then read what the child
	// printed before it died: it may have run ahead of us by a pipe's
	// worth of lines.
	for acks := 0; sc.Scan(); {
		var v int64
		if _, err := fmt.Sscanf(sc.Text(), "ack %d", &v); err == nil {
			last = int32(v)
			if acks++; acks == n {
				_ = cmd.Process.Kill()
			}
		} else if _, err := fmt.Sscanf(sc.Text(), "abort %d", &v); err == nil {
			aborts = append(aborts, v)
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if last < 0 {
		t.Fatalf("the child acknowledged nothing; stderr: %s", stderr.String())
	}
	return last, aborts
}
