package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// consumedRecord is the --json shape of one record. Keys and values that are
// not valid UTF-8 go to the *_base64 fields instead, so no byte is lost.
type consumedRecord struct {
	Topic       string            `json:"topic"`
	Partition   int32             `json:"partition"`
	Offset      int64             `json:"offset"`
	Key         *string           `json:"key"`
	KeyBase64   []byte            `json:"key_base64,omitempty"`
	Value       *string           `json:"value"`
	ValueBase64 []byte            `json:"value_base64,omitempty"`
	Timestamp   int64             `json:"timestamp"`
	Headers     map[string]string `json:"headers,omitempty"`
}

func textOrBytes(b []byte) (*string, []byte) {
	if b == nil {
		return nil, nil
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, nil
	}
	return nil, b
}

type consumeOpts struct {
	topic       string
	group       string
	partition   int
	offset      string
	fromStart   bool
	max         int
	printKey    bool
	printOffset bool
}

func runConsume(e *env, args []string) error {
	fs, o := newFlags(e, "consume", "consume TOPIC [flags]", 0, "exit after this long without a record (0: wait forever)")
	var c consumeOpts
	fs.BoolVar(&c.fromStart, "from-beginning", false, "start at the earliest offset (with --group: only when the group has no committed offset)")
	fs.StringVar(&c.group, "group", "", "consume as this consumer group and commit offsets of printed records")
	fs.IntVar(&c.partition, "partition", -1, "consume only this partition")
	fs.StringVar(&c.offset, "offset", "", "with --partition: earliest, latest or an offset number")
	fs.IntVar(&c.max, "n", 0, "exit after N records (0: no limit)")
	fs.BoolVar(&c.printKey, "print-key", false, "print the key before the value, tab-separated")
	fs.BoolVar(&c.printOffset, "print-offset", false, "print partition:offset before the record, tab-separated")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("consume needs exactly one topic — e.g. `strom consume orders --from-beginning`")
	}
	c.topic = pos[0]
	opts, err := c.kgoOpts()
	if err != nil {
		return err
	}
	// --timeout is the idle exit here, so bound setup separately.
	setup := *o
	setup.timeout = adminTimeout
	cl, adm, err := (&setup).client(e.ctx, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	// kgo waits forever for a topic that does not exist; say so instead.
	mctx, cancel := setup.reqCtx(e.ctx)
	tds, err := adm.ListTopics(mctx, c.topic)
	cancel()
	if err != nil {
		return setup.wrap(err)
	}
	if err := requireTopics(tds, []string{c.topic}); err != nil {
		return err
	}
	if td := tds[c.topic]; c.partition >= len(td.Partitions) {
		return usageErr("topic %s has %d partitions (0..%d); --partition %d does not exist", c.topic, len(td.Partitions), len(td.Partitions)-1, c.partition)
	}

	n, err := consumeLoop(e, cl, c, o)
	if c.group != "" {
		// Commit what we printed even when interrupted; the parent context
		// may be cancelled already.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(e.ctx), adminTimeout)
		if cerr := cl.CommitMarkedOffsets(cctx); cerr != nil && err == nil {
			err = explainGroup(setup.wrap(cerr), c.group)
		}
		_ = cl.LeaveGroupContext(cctx)
		cancel()
	}
	if !o.json {
		fmt.Fprintf(e.stderr, "consumed %d records\n", n)
	}
	return err
}

func (c *consumeOpts) kgoOpts() ([]kgo.Opt, error) {
	if c.max < 0 {
		return nil, usageErr("-n must be >= 0")
	}
	if c.offset != "" && c.partition < 0 {
		return nil, usageErr("--offset needs --partition N")
	}
	if c.partition >= 0 && c.group != "" {
		return nil, usageErr("--partition and --group cannot be combined: a group assigns partitions itself")
	}
	if c.partition > 1<<31-1 {
		return nil, usageErr("--partition is too large")
	}
	start := kgo.NewOffset().AtEnd()
	if c.fromStart {
		start = kgo.NewOffset().AtStart()
	}
	if c.partition >= 0 {
		switch c.offset {
		case "":
		case "earliest", "beginning":
			start = kgo.NewOffset().AtStart()
		case "latest", "end":
			start = kgo.NewOffset().AtEnd()
		default:
			at, err := strconv.ParseInt(c.offset, 10, 64)
			if err != nil || at < 0 {
				return nil, usageErr("--offset %q: use earliest, latest or a non-negative number", c.offset)
			}
			start = kgo.NewOffset().At(at)
		}
		return []kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.topic: {int32(c.partition): start}})}, nil
	}
	opts := []kgo.Opt{kgo.ConsumeTopics(c.topic), kgo.ConsumeResetOffset(start)}
	if c.group != "" {
		opts = append(opts, kgo.ConsumerGroup(c.group), kgo.AutoCommitMarks())
	}
	return opts, nil
}

// consumeLoop polls and prints until -n records, the idle timeout, or ctx
// cancellation. It returns how many records it printed.
func consumeLoop(e *env, cl *kgo.Client, c consumeOpts, o *common) (int, error) {
	w := bufio.NewWriterSize(e.stdout, 64<<10)
	defer w.Flush()
	enc := json.NewEncoder(w)
	printed := 0
	for {
		want := -1
		if c.max > 0 {
			want = c.max - printed
			if want <= 0 {
				return printed, nil
			}
		}
		pctx, cancel := e.ctx, context.CancelFunc(func() {})
		if o.timeout > 0 {
			pctx, cancel = context.WithTimeout(e.ctx, o.timeout)
		}
		fetches := cl.PollRecords(pctx, want)
		cancel()
		if e.ctx.Err() != nil {
			return printed, nil // interrupted: a clean exit
		}
		if fetches.IsClientClosed() {
			return printed, nil
		}
		var fatal error
		fetches.EachError(func(t string, p int32, err error) {
			switch {
			case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			case errors.Is(err, kerr.UnknownTopicOrPartition):
				fatal = explainTopic(err, t)
			default:
				fmt.Fprintf(e.stderr, "strom consume: %s[%d]: %v\n", t, p, err)
			}
		})
		if fatal != nil {
			return printed, fatal
		}
		recs := fetches.Records()
		if len(recs) == 0 && o.timeout > 0 && pctx.Err() != nil {
			return printed, nil // idle for --timeout
		}
		for _, r := range recs {
			if err := printRecord(w, enc, r, c, o.json); err != nil {
				return printed, fmt.Errorf("writing output: %w", err)
			}
			printed++
		}
		if err := w.Flush(); err != nil {
			return printed, fmt.Errorf("writing output: %w", err)
		}
		if c.group != "" && len(recs) > 0 {
			cl.MarkCommitRecords(recs...)
		}
	}
}

func printRecord(w io.Writer, enc *json.Encoder, r *kgo.Record, c consumeOpts, asJSON bool) error {
	if asJSON {
		cr := consumedRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli()}
		cr.Key, cr.KeyBase64 = textOrBytes(r.Key)
		cr.Value, cr.ValueBase64 = textOrBytes(r.Value)
		if len(r.Headers) > 0 {
			cr.Headers = make(map[string]string, len(r.Headers))
			for _, h := range r.Headers {
				cr.Headers[h.Key] = string(h.Value)
			}
		}
		return enc.Encode(cr)
	}
	var err error
	write := func(b []byte) {
		if err == nil {
			_, err = w.Write(b)
		}
	}
	if c.printOffset {
		write(strconv.AppendInt(nil, int64(r.Partition), 10))
		write([]byte{':'})
		write(strconv.AppendInt(nil, r.Offset, 10))
		write([]byte{'\t'})
	}
	if c.printKey {
		if r.Key == nil {
			write([]byte("null"))
		} else {
			write(r.Key)
		}
		write([]byte{'\t'})
	}
	write(r.Value)
	write([]byte{'\n'})
	return err
}
