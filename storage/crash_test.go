package storage

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// crashChildEnv makes the test binary act as a crash-test child (see
// TestMain): it appends to the log in that directory until killed.
const crashChildEnv = "STROM_STORAGE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(crashChildEnv); spec != "" {
		os.Exit(runCrashChild(spec))
	}
	// Every Log a test opens must be closed, stopping its flusher.
	goleak.VerifyTestMain(m)
}

const crashWriters = 3

// runCrashChild appends batches from crashWriters goroutines, printing
// "ack <round> <writer> <lastSeq>" after each Append (and, for writer 0,
// its Sync) returned. Values are "r<round>w<writer>s<seq>".
func runCrashChild(spec string) int {
	var dir string
	var round int
	if _, err := fmt.Sscanf(spec, "%d:%s", &round, &dir); err != nil {
		fmt.Fprintln(os.Stderr, "bad spec", spec, err)
		return 2
	}
	cfg := DefaultConfig()
	cfg.SegmentBytes = 256 << 10
	cfg.IndexIntervalBytes = 1024
	cfg.Fsync = FsyncAlways
	l, err := Open(dir, cfg, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 3
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := 0; w < crashWriters; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; ; {
				n := 1 + seq%7
				vals := make([][]byte, n)
				for i := range vals {
					vals[i] = []byte(fmt.Sprintf("r%dw%ds%d%s", round, w, seq+i, strings.Repeat(".", 100)))
				}
				b := makeBatch(nopTB{}, batchSpec{values: vals, timestamp: time.Now().UnixMilli()})
				if _, err := l.Append(b, int32(round)); err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(4)
				}
				if w == 0 {
					if err := l.Sync(); err != nil {
						fmt.Fprintln(os.Stderr, "sync:", err)
						os.Exit(5)
					}
				}
				seq += n
				mu.Lock()
				fmt.Fprintf(out, "ack %d %d %d\n", round, w, seq-1)
				_ = out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return 0
}

// nopTB lets makeBatch run outside a test (in the crash child).
type nopTB struct{ testing.TB }

func (nopTB) Helper() {}

// TestCrashKill9 appends from a child process, SIGKILLs it mid-flight, and
// checks after reopening that every batch whose Append returned is readable,
// in order, exactly once. Three rounds on the same directory, so recovered
// logs are appended to and crashed again.
func TestCrashKill9(t *testing.T) {
	dir := t.TempDir()
	acked := map[[2]int]int{} // (round, writer) -> last acked seq
	for round := 0; round < 3; round++ {
		runAndKill(t, dir, round, acked)
		verifyCrashLog(t, dir, round, acked)
	}
}

func runAndKill(t *testing.T, dir string, round int, acked map[[2]int]int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d:%s", crashChildEnv, round, dir))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acks atomic.Int64
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var r, w, seq int
			if _, err := fmt.Sscanf(sc.Text(), "ack %d %d %d", &r, &w, &seq); err != nil {
				continue // a line torn by the kill
			}
			mu.Lock()
			acked[[2]int{r, w}] = seq
			mu.Unlock()
			acks.Add(1)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for acks.Load() < 2000 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	<-done
	_ = cmd.Wait()
	if acks.Load() < 2000 {
		t.Fatalf("child made only %d acks; stderr: %s", acks.Load(), stderr.String())
	}
}

func verifyCrashLog(t *testing.T, dir string, lastRound int, acked map[[2]int]int) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 256 << 10
	l, err := Open(dir, cfg, testLogger(t))
	if err != nil {
		t.Fatalf("Open after SIGKILL: %v", err)
	}
	defer l.Close()
	next := map[[2]int]int{}
	round := 0
	for _, v := range values(readAllBatches(t, l, 64<<10)) {
		var r, w, seq int
		if _, err := fmt.Sscanf(v, "r%dw%ds%d", &r, &w, &seq); err != nil {
			t.Fatalf("bad value %q", v)
		}
		if r < round {
			t.Fatalf("round %d record after round %d", r, round)
		}
		round = r
		k := [2]int{r, w}
		if seq != next[k] {
			t.Fatalf("round %d writer %d: seq %d, want %d (duplicate or gap)", r, w, seq, next[k])
		}
		next[k] = seq + 1
	}
	for r := 0; r <= lastRound; r++ {
		for w := 0; w < crashWriters; w++ {
			k := [2]int{r, w}
			if a, ok := acked[k]; ok && next[k] <= a {
				t.Fatalf("round %d writer %d: acked up to %d but log has up to %d", r, w, a, next[k]-1)
			}
		}
	}
	t.Logf("round %d: %d bytes, log end %d", lastRound, l.Size(), l.LogEndOffset())
}
