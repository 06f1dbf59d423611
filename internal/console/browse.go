package console

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// browseQuery is a parsed message browser request.
type browseQuery struct {
	Topic     string
	Partition int32
	Offset    int64  // -1 when seeking by time
	Timestamp string // as typed, when seeking by time
	N         int
}

// shownValue is a key, value or header value made safe to show.
type shownValue struct {
	Text   string // the text, pretty-printed JSON, or hex
	Kind   string // "null", "text", "json" or "binary"
	Cut    bool   // longer than maxValueShown, shown cut
	Length int
}

// shownRecord is one record in the browser.
type shownRecord struct {
	Offset    int64
	Timestamp string
	Key       shownValue
	Value     shownValue
	Headers   []shownHeader
}

type shownHeader struct {
	Key   string
	Value shownValue
}

// browsePage is the browser's data.
type browsePage struct {
	Query      browseQuery
	Searched   bool
	Max        int
	Start, End int64 // the partition's log start and high watermark
	From       int64 // the offset the fetch started at
	Records    []shownRecord
	Note       string
}

// parseBrowse reads topic, partition, offset or timestamp and n. No topic
// means the empty form; anything malformed is ErrBadParam.
func (c *Console) parseBrowse(r *http.Request) (browseQuery, error) {
	v := r.URL.Query()
	q := browseQuery{Topic: v.Get("topic"), Offset: 0, N: 10, Timestamp: v.Get("timestamp")}
	if q.Topic == "" {
		return q, nil
	}
	if err := checkTopicName(q.Topic); err != nil {
		return q, err
	}
	if s := v.Get("partition"); s != "" {
		p, err := strconv.ParseInt(s, 10, 32)
		if err != nil || p < 0 {
			return q, fmt.Errorf("%w: partition %q is not a partition number", ErrBadParam, s)
		}
		q.Partition = int32(p)
	}
	if s := v.Get("n"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > c.cfg.MaxRecords {
			return q, fmt.Errorf("%w: n must be 1 to %d", ErrBadParam, c.cfg.MaxRecords)
		}
		q.N = n
	}
	if q.Timestamp != "" {
		q.Offset = -1
		_, err := parseTimestamp(q.Timestamp)
		return q, err
	}
	if s := v.Get("offset"); s != "" {
		o, err := strconv.ParseInt(s, 10, 64)
		if err != nil || o < 0 {
			return q, fmt.Errorf("%w: offset %q is not an offset", ErrBadParam, s)
		}
		q.Offset = o
	}
	return q, nil
}

// parseTimestamp accepts Unix milliseconds or RFC 3339.
func parseTimestamp(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms >= 0 {
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("%w: timestamp %q is neither Unix milliseconds nor RFC 3339", ErrBadParam, s)
	}
	return t.UnixMilli(), nil
}

// browseData finds where to start (the offset, or the first offset at or
// after the timestamp), then reads up to N records, stopping at the high
// watermark so that a quiet partition does not hold the request until its
// timeout.
func (c *Console) browseData(ctx context.Context, r *http.Request) (string, any, error) {
	q, err := c.parseBrowse(r)
	p := browsePage{Query: q, Max: c.cfg.MaxRecords}
	if err != nil || q.Topic == "" {
		return "Messages", p, err
	}
	p.Searched = true
	if err := c.partitionBounds(ctx, &p); err != nil {
		return "", nil, err
	}
	p.From = q.Offset
	if q.Offset < 0 {
		ms, _ := parseTimestamp(q.Timestamp)
		lo, err := c.adm.ListOffsetsAfterMilli(ctx, ms, q.Topic)
		if err != nil {
			return "", nil, fmt.Errorf("list offsets: %w", err)
		}
		o, ok := lo.Lookup(q.Topic, q.Partition)
		if !ok || o.Err != nil {
			return "", nil, fmt.Errorf("list offsets for %s/%d: %v", q.Topic, q.Partition, o.Err)
		}
		p.From = o.Offset
	}
	p.From = max(p.From, p.Start)
	if p.From >= p.End {
		p.Note = "no records at or after this position (high watermark " + strconv.FormatInt(p.End, 10) + ")"
		return "Messages", p, nil
	}
	recs, err := c.readRecords(ctx, q.Topic, q.Partition, p.From, p.End, q.N)
	if err != nil {
		return "", nil, err
	}
	for _, rec := range recs {
		p.Records = append(p.Records, showRecord(rec))
	}
	return "Messages", p, nil
}

// partitionBounds fills the partition's log start and high watermark, and
// says 404 for a topic or partition that does not exist.
func (c *Console) partitionBounds(ctx context.Context, p *browsePage) error {
	q := p.Query
	starts, err := c.adm.ListStartOffsets(ctx, q.Topic)
	if err != nil {
		return fmt.Errorf("list offsets: %w", err)
	}
	ends, err := c.adm.ListEndOffsets(ctx, q.Topic)
	if err != nil {
		return fmt.Errorf("list offsets: %w", err)
	}
	s, okS := starts.Lookup(q.Topic, q.Partition)
	e, okE := ends.Lookup(q.Topic, q.Partition)
	if !okS || !okE {
		return fmt.Errorf("%w: %s partition %d", ErrUnknownTopic, q.Topic, q.Partition)
	}
	if s.Err != nil || e.Err != nil {
		return fmt.Errorf("list offsets for %s/%d: %w", q.Topic, q.Partition, firstErr(s.Err, e.Err))
	}
	p.Start, p.End = s.Offset, e.Offset
	return nil
}

// readRecords reads up to n records of one partition from offset from with
// a short-lived consumer (no group, nothing committed), stopping once it has
// seen offset end-1. Control records (transaction markers) are kept by the
// client so that a marker at the tail still shows the end was reached, and
// dropped here; compaction gaps need nothing, since the stop is by offset.
func (c *Console) readRecords(ctx context.Context, topic string, partition int32, from, end int64, n int) ([]*kgo.Record, error) {
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(c.cfg.Seeds...), kgo.ClientID("strom-console"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(from)}}),
		kgo.FetchMaxBytes(8 << 20), kgo.FetchMaxPartitionBytes(4 << 20), kgo.KeepControlRecords(),
	}, c.cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []*kgo.Record
	for seen := from - 1; len(out) < n && seen < end-1; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("read records: %w", err)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return out, fmt.Errorf("read records: %w", errs[0].Err)
		}
		for _, r := range fs.Records() {
			seen = max(seen, r.Offset)
			if !r.Attrs.IsControl() && r.Offset < end && len(out) < n {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// showRecord makes a record safe and readable.
func showRecord(r *kgo.Record) shownRecord {
	s := shownRecord{Offset: r.Offset, Timestamp: r.Timestamp.UTC().Format("2006-01-02 15:04:05.000Z07:00"), Key: showValue(r.Key), Value: showValue(r.Value)}
	for _, h := range r.Headers {
		s.Headers = append(s.Headers, shownHeader{Key: h.Key, Value: showValue(h.Value)})
	}
	return s
}

// showValue renders bytes as pretty JSON when they parse as JSON, as text
// when they are valid UTF-8 without control characters, and as hex
// otherwise; html/template escapes whatever comes out.
func showValue(b []byte) shownValue {
	if b == nil {
		return shownValue{Kind: "null", Text: "null"}
	}
	v := shownValue{Length: len(b)}
	if len(b) > maxValueShown {
		b, v.Cut = b[:maxValueShown], true
	}
	if !v.Cut && json.Valid(b) && len(bytes.TrimSpace(b)) > 0 && (b[0] == '{' || b[0] == '[') {
		var out bytes.Buffer
		if json.Indent(&out, b, "", "  ") == nil {
			v.Kind, v.Text = "json", out.String()
			return v
		}
	}
	if utf8.Valid(b) && printable(b) {
		v.Kind, v.Text = "text", string(b)
		return v
	}
	v.Kind, v.Text = "binary", hex.Dump(b)
	return v
}

// printable reports whether b has no control characters other than tab,
// newline and carriage return.
func printable(b []byte) bool {
	for _, r := range string(b) {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f {
			return false
		}
	}
	return true
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
