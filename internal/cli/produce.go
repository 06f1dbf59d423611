package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// maxLineBytes bounds one stdin line (one record). Kafka's default
// max.message.bytes is about 1 MB, so longer lines would be refused anyway.
const maxLineBytes = 8 << 20

// parseAcks maps --acks to kgo options. kgo only allows acks=all with
// idempotent writes, so 1 and 0 turn idempotence off; they then also allow
// more than one produce request in flight, matching the idempotent default.
func parseAcks(s string) ([]kgo.Opt, error) {
	switch s {
	case "all", "-1":
		return []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}, nil
	case "1":
		return []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(5)}, nil
	case "0":
		return []kgo.Opt{kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(5)}, nil
	}
	return nil, usageErr("--acks %q: use all, 1 or 0", s)
}

type produceSummary struct {
	Topic   string  `json:"topic"`
	Records int64   `json:"records"`
	Failed  int64   `json:"failed"`
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
}

// produceTally collects promise outcomes; kgo calls promises from its own
// goroutines.
type produceTally struct {
	mu       sync.Mutex
	ok       int64
	failed   int64
	firstErr error
}

func (t *produceTally) promise(_ *kgo.Record, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err == nil {
		t.ok++
		return
	}
	t.failed++
	if t.firstErr == nil {
		t.firstErr = err
	}
}

func runProduce(e *env, args []string) error {
	fs, o := newFlags(e, "produce", "produce TOPIC [flags] < records.txt  (one record per line)", 30*time.Second, "fail a record not acknowledged within this time")
	keySep := fs.String("key-separator", "", "split each line at the first SEP into key and value (lines without SEP get a null key)")
	partition := fs.Int("partition", -1, "write every record to this partition (default: kgo's partitioner, by key when keys are set)")
	acks := fs.String("acks", "all", "acknowledgement level: all, 1 or 0 (1 and 0 disable idempotent writes)")
	linger := fs.Duration("linger", 10*time.Millisecond, "how long to wait to fill a batch before sending")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("produce needs exactly one topic — e.g. `echo hello | strom produce orders`")
	}
	topic := pos[0]
	opts, err := producerOpts(*acks, topic, *linger, o.timeout)
	if err != nil {
		return err
	}
	if *partition < -1 || *partition > 1<<31-1 {
		return usageErr("--partition must be >= 0")
	}
	opts = append(opts, kgo.AllowAutoTopicCreation())
	if *partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, _, err := o.client(e.ctx, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	start := time.Now()
	var tally produceTally
	readErr := produceLines(e, cl, topic, []byte(*keySep), *partition, &tally)
	flushErr := flushProducer(e, cl, o)

	tally.mu.Lock()
	sum := produceSummary{Topic: topic, Records: tally.ok, Failed: tally.failed, Seconds: time.Since(start).Seconds()}
	firstErr := tally.firstErr
	tally.mu.Unlock()
	err = deliveryErr(sum.Failed, sum.Failed+sum.Records, firstErr, flushErr, topic, o)
	if err == nil && readErr != nil {
		err = fmt.Errorf("reading stdin: %w", readErr)
	}
	if err != nil {
		sum.Error = err.Error()
	}
	if o.json {
		if err := writeJSON(e.stdout, sum); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stderr, "produced %d records to %s (%d failed) in %s\n", sum.Records, topic, sum.Failed, roundDur(time.Since(start)))
	}
	return err
}

// produceLines hands every stdin line to cl as one record (split into key
// and value at the first sep, if sep is set; on partition if it is >= 0)
// until stdin ends or e's context is cancelled. Outcomes go to tally. It
// returns the read error, if any, except the one our own interrupt of a
// blocked read causes.
func produceLines(e *env, cl *kgo.Client, topic string, sep []byte, partition int, tally *produceTally) error {
	stopWatch := watchStdin(e)
	sc := bufio.NewScanner(e.stdin)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	for sc.Scan() && e.ctx.Err() == nil {
		line := bytes.Clone(sc.Bytes())
		r := &kgo.Record{Topic: topic, Value: line}
		if len(sep) > 0 {
			if i := bytes.Index(line, sep); i >= 0 {
				r.Key, r.Value = line[:i], line[i+len(sep):]
			}
		}
		if partition >= 0 {
			r.Partition = int32(partition)
		}
		cl.Produce(e.ctx, r, tally.promise)
	}
	stopWatch()
	readErr := sc.Err()
	if errors.Is(readErr, os.ErrDeadlineExceeded) && e.ctx.Err() != nil {
		readErr = nil // our own interrupt of a blocked read, not a failure
	}
	if errors.Is(readErr, bufio.ErrTooLong) {
		readErr = fmt.Errorf("a line is longer than %d bytes — split it or produce it with another tool", maxLineBytes)
	}
	return readErr
}

// producerOpts are the kgo options produce and bench produce share: the
// --acks level, the topic, --linger and, with a --timeout, a delivery
// deadline per record.
func producerOpts(acks, topic string, linger, timeout time.Duration) ([]kgo.Opt, error) {
	opts, err := parseAcks(acks)
	if err != nil {
		return nil, err
	}
	opts = append(opts, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(linger))
	if timeout > 0 {
		opts = append(opts, kgo.RecordDeliveryTimeout(timeout))
	}
	return opts, nil
}

// flushProducer waits for the records already handed to cl. It runs even
// when e's context is cancelled: records already accepted should be
// delivered (or fail by --timeout), not dropped silently.
func flushProducer(e *env, cl *kgo.Client, o *common) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(e.ctx), flushWait(o.timeout))
	defer cancel()
	return cl.Flush(ctx)
}

// deliveryErr is a producer's verdict once flushed: failed of total records
// were not acknowledged (firstErr is the first cause), or the flush itself
// did not finish. Nil when every record was delivered.
func deliveryErr(failed, total int64, firstErr, flushErr error, topic string, o *common) error {
	switch {
	case failed > 0:
		return fmt.Errorf("%w: %d of %d records failed; first error: %w", ErrNotDelivered, failed, total, explainProduce(firstErr, topic, o))
	case flushErr != nil:
		return fmt.Errorf("%w: flush did not finish: %w", ErrNotDelivered, o.wrap(flushErr))
	}
	return nil
}

// explainProduce maps a record failure to a message with a fix.
func explainProduce(err error, topic string, o *common) error {
	if e := explainTopic(err, topic); errors.Is(e, ErrUnknownTopic) {
		return e
	}
	return o.wrap(err)
}

func flushWait(timeout time.Duration) time.Duration {
	if timeout <= 0 {
		return time.Minute
	}
	return timeout + time.Second
}

// watchStdin unblocks a stdin read when the context is cancelled, if stdin
// supports read deadlines (pipes and non-blocking files do). The returned
// function stops the watcher and waits for it.
func watchStdin(e *env) (stop func()) {
	d, ok := e.stdin.(interface{ SetReadDeadline(time.Time) error })
	if !ok {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-e.ctx.Done():
			_ = d.SetReadDeadline(time.Now())
		case <-done:
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(10 * time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d
}
