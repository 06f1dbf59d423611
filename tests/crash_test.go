package tests

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	crashTopic      = "crash"
	crashPartitions = 3
	crashKills      = 3
	// crashMinAcks is how many new acknowledgements a round waits for before
	// the next SIGKILL (and after the last restart, to prove recovery).
	crashMinAcks = 2000
	// crashMinRound is the least time the producer runs between kills, so the
	// kill lands in the middle of full-speed production.
	crashMinRound = time.Second
)

// TestCrashAcksAllKill9 runs an idempotent acks=all franz-go producer at full
// speed and SIGKILLs the broker under it several times, restarting it on the
// same data directory and port. Afterwards every acknowledged record must be
// in the log, each partition must hold its records in production order, and
// no record may appear twice (the idempotent producer's retries across the
// crash must be deduplicated). With 16 KiB segments every partition rolls,
// and writes a producer-state snapshot, many times a second, so the kills
// land among snapshot writes and the restarts rebuild the producer state
// from a roll snapshot and the tail after it.
func TestCrashAcksAllKill9(t *testing.T) {
	for _, c := range []struct {
		name  string
		flags []string
	}{
		{"fsync=interval", nil},
		{"fsync=always", []string{"--log-fsync", "always"}},
		{"segment.bytes=16KiB", []string{"--log-segment-bytes", "16384"}},
	} {
		t.Run(c.name, func(t *testing.T) { crashAcksAll(t, c.flags...) })
	}
}

func crashAcksAll(t *testing.T, flags ...string) {
	b := startBroker(t, flags...)
	createTopic(t, b.Addr(), crashTopic, crashPartitions, nil)

	p := startCrashProducer(t, b.Addr())
	for kill := 1; kill <= crashKills; kill++ {
		p.waitProgress(t)
		b.Kill()
		acks := p.ackCount.Load()
		t.Logf("kill -9 #%d after %d acknowledged records, %d unanswered at the kill", kill, acks, p.produced.Load()-acks)
		b.Start()
	}
	p.waitProgress(t) // the producer recovers after the last restart
	acked, failed := p.stop(t)

	read := readCrashTopic(t, b.Addr())

	var nAcked, nRead, lost, dups, disorder int
	for part := range crashPartitions {
		// Sequence numbers are dense per partition, so a slice is the set.
		seen := make([]bool, len(acked[part]))
		last := int64(-1)
		for _, seq := range read[part] {
			nRead++
			if seq < 0 || seq >= int64(len(seen)) {
				t.Errorf("partition %d: sequence %d was never produced", part, seq)
				continue
			}
			if seen[seq] {
				dups++
				if dups <= 10 {
					t.Errorf("partition %d: sequence %d appears twice", part, seq)
				}
				continue
			}
			seen[seq] = true
			if seq < last {
				disorder++
				if disorder <= 10 {
					t.Errorf("partition %d: sequence %d stored after %d", part, seq, last)
				}
			}
			last = max(last, seq)
		}
		for seq, ok := range acked[part] {
			if !ok {
				continue
			}
			nAcked++
			if !seen[seq] {
				lost++
				if lost <= 10 {
					t.Errorf("partition %d: acknowledged sequence %d is missing", part, seq)
				}
			}
		}
	}
	t.Logf("acked=%d read=%d lost=%d dups=%d out-of-order=%d (unacknowledged: %d failed: %s)",
		nAcked, nRead, lost, dups, disorder, len(failed), summarize(failed))
	if nAcked < crashMinAcks*(crashKills+1) {
		t.Errorf("only %d records acknowledged; the producer made too little progress to test anything", nAcked)
	}
	if lost != 0 || dups != 0 || disorder != 0 {
		t.Errorf("after %d kills: %d acknowledged records lost, %d duplicates, %d out of order", crashKills, lost, dups, disorder)
	}
}

// crashProducer produces records with value "<partition>:<sequence>" round
// robin over the partitions, sequence numbers counting up per partition, and
// remembers which ones the broker acknowledged. One goroutine produces; the
// promises run in franz-go's goroutines.
type crashProducer struct {
	cl       *kgo.Client
	stopCh   chan struct{}
	done     chan struct{}
	ackCount atomic.Int64
	produced atomic.Int64

	mu     sync.Mutex
	acked  [crashPartitions][]bool // acked[p][seq]
	failed []error

	lastCount int64
	lastAt    time.Time
}

func startCrashProducer(t *testing.T, addr string) *crashProducer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.DefaultProduceTopic(crashTopic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotence is on by default
	)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	p := &crashProducer{cl: cl, stopCh: make(chan struct{}), done: make(chan struct{}), lastAt: time.Now()}
	t.Cleanup(func() {
		select {
		case <-p.stopCh:
		default:
			close(p.stopCh)
		}
		<-p.done
		cl.Close()
	})
	go p.run()
	return p
}

func (p *crashProducer) run() {
	defer close(p.done)
	var next [crashPartitions]int
	for i := 0; ; i++ {
		select {
		case <-p.stopCh:
			return
		default:
		}
		part := i % crashPartitions
		seq := next[part]
		next[part]++
		p.mu.Lock()
		p.acked[part] = append(p.acked[part], false)
		p.mu.Unlock()
		p.produced.Add(1)
		rec := &kgo.Record{Partition: int32(part), Value: []byte(fmt.Sprintf("%d:%d", part, seq))}
		// Background context: a record is never cancelled, only retried
		// until the broker answers.
		p.cl.Produce(context.Background(), rec, func(_ *kgo.Record, err error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if err != nil {
				p.failed = append(p.failed, err)
				return
			}
			p.acked[part][seq] = true
			p.ackCount.Add(1)
		})
	}
}

// waitProgress waits until crashMinAcks more records were acknowledged and
// crashMinRound has passed since the previous call.
func (p *crashProducer) waitProgress(t *testing.T) {
	t.Helper()
	from := p.lastCount
	waitFor(t, 90*time.Second, fmt.Sprintf("%d more acknowledged records", crashMinAcks), func() error {
		n := p.ackCount.Load()
		if n-from < crashMinAcks || time.Since(p.lastAt) < crashMinRound {
			return fmt.Errorf("%d acknowledged since the last round", n-from)
		}
		return nil
	})
	p.lastCount, p.lastAt = p.ackCount.Load(), time.Now()
}

// stop ends production, waits for every outstanding record to be answered
// and returns what was acknowledged and what failed.
func (p *crashProducer) stop(t *testing.T) ([crashPartitions][]bool, []error) {
	t.Helper()
	close(p.stopCh)
	<-p.done
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := p.cl.Flush(ctx); err != nil {
		t.Fatalf("flush producer: %v", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acked, p.failed
}

// readCrashTopic reads every partition from the start up to its end offset
// and returns the sequence numbers in offset order.
func readCrashTopic(t *testing.T, addr string) [crashPartitions][]int64 {
	t.Helper()
	ctx := testCtx(t, 120*time.Second)
	ends, err := newAdmin(t, addr).ListEndOffsets(ctx, crashTopic)
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	remaining := 0
	want := map[int32]int64{}
	for part := range int32(crashPartitions) {
		o, ok := ends.Lookup(crashTopic, part)
		if !ok || o.Err != nil {
			t.Fatalf("end offset of partition %d: %+v", part, o)
		}
		if o.Offset > 0 {
			want[part] = o.Offset
			remaining++
		}
	}
	cl := newKgo(t, addr, kgo.ConsumeTopics(crashTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(64<<20))
	var out [crashPartitions][]int64
	for remaining > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading back: %d partitions not read to their end offsets %v", remaining, want)
		}
		fs.EachError(func(tp string, part int32, err error) { t.Errorf("fetch %s/%d: %v", tp, part, err) })
		fs.EachRecord(func(r *kgo.Record) {
			ps, ss, ok := strings.Cut(string(r.Value), ":")
			vp, err1 := strconv.Atoi(ps)
			seq, err2 := strconv.ParseInt(ss, 10, 64)
			if !ok || err1 != nil || err2 != nil || vp != int(r.Partition) {
				t.Errorf("partition %d offset %d: unexpected value %q", r.Partition, r.Offset, r.Value)
				return
			}
			out[r.Partition] = append(out[r.Partition], seq)
			if r.Offset == want[r.Partition]-1 {
				remaining--
			}
		})
	}
	return out
}

// summarize counts errors by message.
func summarize(errs []error) string {
	counts := map[string]int{}
	for _, err := range errs {
		counts[err.Error()]++
	}
	var parts []string
	for msg, n := range counts {
		parts = append(parts, fmt.Sprintf("%d× %s", n, msg))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}
