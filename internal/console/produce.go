package console

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceFormData is the produce page's data.
type produceFormData struct {
	Token     string
	Topic     string
	Partition string
	Done      string // "produced at topic/partition@offset" after a write
	Offset    string // the written record's offset, for a link to it
}

// produceForm serves the test-message form, or 404 when writes are off:
// a read-only console has no write page at all.
func (c *Console) produceForm(w http.ResponseWriter, r *http.Request) {
	if !c.cfg.WriteEnable {
		c.render(w, http.StatusNotFound, "error", pageData{Title: "Not Found", Data: "writes are disabled (console.write.enable=false)"})
		return
	}
	d := produceFormData{Token: c.token, Topic: r.URL.Query().Get("topic"), Partition: r.URL.Query().Get("partition"), Done: r.URL.Query().Get("done"), Offset: r.URL.Query().Get("offset")}
	c.render(w, http.StatusOK, "produce", pageData{Title: "Produce a test message", WriteEnable: true, Data: d})
}

// produce handles the form's POST: writes must be enabled, the CSRF token
// must match and a browser's Origin, when sent, must be this console's.
// It answers with a redirect to the form (POST/redirect/GET), saying where
// the record landed.
func (c *Console) produce(w http.ResponseWriter, r *http.Request) {
	if !c.cfg.WriteEnable {
		c.render(w, http.StatusForbidden, "error", pageData{Title: "Forbidden", Data: "writes are disabled (console.write.enable=false)"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, fmt.Errorf("%w: form: %v", ErrBadParam, err))
		return
	}
	if !c.sameOrigin(r) || subtle.ConstantTimeCompare([]byte(r.PostForm.Get("token")), []byte(c.token)) != 1 {
		c.render(w, http.StatusForbidden, "error", pageData{Title: "Forbidden", WriteEnable: true, Data: "missing or wrong CSRF token, or cross-origin request"})
		return
	}
	rec, err := recordFromForm(r.PostForm)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), c.cfg.Timeout)
	defer cancel()
	if err := c.checkPartition(ctx, rec.Topic, rec.Partition); err != nil {
		c.fail(w, r, err)
		return
	}
	if err := c.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		c.fail(w, r, fmt.Errorf("produce: %w", err))
		return
	}
	done := fmt.Sprintf("produced at %s/%d@%d", rec.Topic, rec.Partition, rec.Offset)
	q := url.Values{"topic": {rec.Topic}, "partition": {strconv.Itoa(int(rec.Partition))}, "done": {done}, "offset": {strconv.FormatInt(rec.Offset, 10)}}
	http.Redirect(w, r, "/console/produce?"+q.Encode(), http.StatusSeeOther)
}

// checkPartition makes sure the record's partition exists before producing:
// the console writes to existing topics only (a produce to an unknown topic
// could auto-create it), and the client's manual partitioner would fail an
// out-of-range partition with a less helpful error.
func (c *Console) checkPartition(ctx context.Context, topic string, partition int32) error {
	tds, err := c.adm.ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("describe topic: %w", err)
	}
	td, ok := tds[topic]
	if !ok || td.Err != nil {
		return fmt.Errorf("%w: %q", ErrUnknownTopic, topic)
	}
	if int(partition) >= len(td.Partitions) {
		return fmt.Errorf("%w: topic %q has %d partitions", ErrBadParam, topic, len(td.Partitions))
	}
	return nil
}

// sameOrigin accepts requests without an Origin header (non-browser
// clients, which cannot be tricked into sending the token) and browser
// requests whose Origin names the host they were sent to.
func (c *Console) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// recordFromForm builds the record: topic, partition (the console's client
// partitions manually; empty means 0), key, value and up to one header.
func recordFromForm(f url.Values) (*kgo.Record, error) {
	topic := f.Get("topic")
	if err := checkTopicName(topic); err != nil {
		return nil, err
	}
	rec := &kgo.Record{Topic: topic, Value: []byte(f.Get("value"))}
	if k := f.Get("key"); k != "" {
		rec.Key = []byte(k)
	}
	if hk := f.Get("header_key"); hk != "" {
		rec.Headers = []kgo.RecordHeader{{Key: hk, Value: []byte(f.Get("header_value"))}}
	}
	if s := f.Get("partition"); s != "" {
		p, err := strconv.ParseInt(s, 10, 32)
		if err != nil || p < 0 {
			return nil, fmt.Errorf("%w: partition %q is not a partition number", ErrBadParam, s)
		}
		rec.Partition = int32(p)
	}
	return rec, nil
}

// throughputSample is what the live chart polls.
type throughputSample struct {
	TimeMs  int64 `json:"time_ms"`
	Records int64 `json:"records"` // sum of high watermarks of non-internal topics
}

// throughput answers the chart's poll with the cluster's total record
// count; the page turns successive samples into a rate.
func (c *Console) throughput(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), c.cfg.Timeout)
	defer cancel()
	tds, err := c.adm.ListTopics(ctx)
	if err != nil {
		http.Error(w, "list topics: "+err.Error(), http.StatusBadGateway)
		return
	}
	s := throughputSample{TimeMs: time.Now().UnixMilli()}
	if names := tds.Names(); len(names) > 0 {
		ends, err := c.adm.ListEndOffsets(ctx, names...)
		if err != nil {
			http.Error(w, "list offsets: "+err.Error(), http.StatusBadGateway)
			return
		}
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err == nil {
				s.Records += o.Offset
			}
		})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(s)
}
