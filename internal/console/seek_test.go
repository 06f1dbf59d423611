package console_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

var firstOffsetRe = regexp.MustCompile(`<tr class="record" data-offset="(\d+)">`)

// TestConsoleSeekByTimestamp: the browser starts at the first record at or
// after a timestamp, given as Unix milliseconds or RFC 3339.
func TestConsoleSeekByTimestamp(t *testing.T) {
	c := oneBroker(t)
	hs := serve(t, c, false)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var recs []*kgo.Record
	for i := range 5 {
		recs = append(recs, &kgo.Record{Topic: "t", Partition: 1, Timestamp: t0.Add(time.Duration(i) * time.Second), Value: []byte("r" + strconv.Itoa(i))})
	}
	produce(t, c, recs...)
	for _, tc := range []struct {
		ts   string
		want string
	}{
		{strconv.FormatInt(t0.UnixMilli(), 10), "0"},
		{strconv.FormatInt(t0.Add(1500*time.Millisecond).UnixMilli(), 10), "2"},
		{t0.Add(3 * time.Second).Format(time.RFC3339), "3"},
		{"0", "0"},
	} {
		code, body := get(t, hs, "/console/browse?topic=t&partition=1&n=2&timestamp="+url.QueryEscape(tc.ts))
		m := firstOffsetRe.FindStringSubmatch(body)
		if code != http.StatusOK || m == nil || m[1] != tc.want {
			t.Errorf("timestamp %s: %d, first offset %v, want %s", tc.ts, code, m, tc.want)
		}
	}
	code, body := get(t, hs, "/console/browse?topic=t&partition=1&timestamp="+strconv.FormatInt(t0.Add(time.Hour).UnixMilli(), 10))
	if code != http.StatusOK || firstOffsetRe.MatchString(body) || !strings.Contains(body, "no records at or after") {
		t.Errorf("timestamp after the last record: %d, records shown %v", code, firstOffsetRe.MatchString(body))
	}
}

// TestConsoleOddGroupName: a group name with '/', '?', '#' and markup is
// linked as one path segment and its page found through the link.
func TestConsoleOddGroupName(t *testing.T) {
	c := oneBroker(t)
	hs := serve(t, c, false)
	produce(t, c, &kgo.Record{Topic: "t", Value: []byte("x")})
	const group = `team/a?b#c <i>x</i>`
	offs := kadm.Offsets{}
	offs.AddOffset("t", 0, 1, -1)
	if _, err := c.Admin().CommitOffsets(ctxFor(t, 20*time.Second), group, offs); err != nil {
		t.Fatal(err)
	}
	_, body := get(t, hs, "/console/groups")
	link := `href="/console/groups/` + url.PathEscape(group) + `"`
	if !strings.Contains(body, link) || strings.Contains(body, "<i>x</i>") {
		t.Fatalf("groups page: want link %s and the name escaped\n%s", link, body)
	}
	code, body := get(t, hs, "/console/groups/"+url.PathEscape(group))
	if code != http.StatusOK || !strings.Contains(body, "team/a?b#c &lt;i&gt;x&lt;/i&gt;") || !strings.Contains(body, `id="total-lag">0<`) {
		t.Errorf("group page: %d\n%s", code, body)
	}
}

// TestConsoleThroughputSample: the chart's endpoint answers JSON with the
// sum of the high watermarks of the cluster's topics.
func TestConsoleThroughputSample(t *testing.T) {
	c := oneBroker(t)
	hs := serve(t, c, false)
	produce(t, c, &kgo.Record{Topic: "t", Partition: 0}, &kgo.Record{Topic: "t", Partition: 1}, &kgo.Record{Topic: "t", Partition: 1})
	code, body := get(t, hs, "/console/api/throughput")
	var s struct {
		TimeMs  int64 `json:"time_ms"`
		Records int64 `json:"records"`
	}
	if err := json.Unmarshal([]byte(body), &s); code != http.StatusOK || err != nil || s.Records != 3 || s.TimeMs <= 0 {
		t.Errorf("throughput: %d %v %+v, want 3 records", code, err, s)
	}
}
