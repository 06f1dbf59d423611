package wire

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// spliceHandler answers Fetch with two partitions whose records come from a
// file through Splice (and one in-memory partition between them), so the
// test sees placeholders swapped in place and in order.
type spliceHandler struct {
	path   string
	ranges [][2]int64 // offset, length per spliced partition
	short  bool       // promise more bytes than the file has
}

func (h *spliceHandler) ServeKafka(_ context.Context, req *Request) (kmsg.Response, error) {
	if _, ok := req.Body.(*kmsg.FetchRequest); !ok {
		return nil, nil
	}
	resp := kmsg.NewPtrFetchResponse()
	t := kmsg.NewFetchResponseTopic()
	t.Topic = "t"
	for i, r := range h.ranges {
		f, err := os.Open(h.path)
		if err != nil {
			return nil, err
		}
		length := r[1]
		if h.short {
			length += 1000
		}
		p := kmsg.NewFetchResponseTopicPartition()
		p.Partition = int32(2 * i)
		p.RecordBatches = req.Splice(FileRange{File: f, Offset: r[0], Length: length})
		t.Partitions = append(t.Partitions, p)
		mem := kmsg.NewFetchResponseTopicPartition()
		mem.Partition = int32(2*i + 1)
		mem.RecordBatches = []byte("in-memory")
		t.Partitions = append(t.Partitions, mem)
	}
	resp.Topics = append(resp.Topics, t)
	return resp, nil
}

func TestSpliceSendsFileRangesInPlace(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 40000) // 640 KB
	path := filepath.Join(t.TempDir(), "seg.log")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	h := &spliceHandler{path: path, ranges: [][2]int64{{5, 300000}, {400000, 17}}}
	ts := startServer(t, Config{Handler: h})
	for _, version := range []int16{4, 11, 12} { // non-flexible and flexible
		c, err := Dial(context.Background(), ts.addr, "splice-test")
		if err != nil {
			t.Fatal(err)
		}
		req := kmsg.NewPtrFetchRequest()
		req.Version = version
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		kresp, err := c.Request(ctx, req)
		cancel()
		c.Close()
		if err != nil {
			t.Fatalf("v%d: %v", version, err)
		}
		parts := kresp.(*kmsg.FetchResponse).Topics[0].Partitions
		if len(parts) != 4 {
			t.Fatalf("v%d: %d partitions", version, len(parts))
		}
		for i, r := range h.ranges {
			want := content[r[0] : r[0]+r[1]]
			if got := parts[2*i].RecordBatches; !bytes.Equal(got, want) {
				t.Fatalf("v%d partition %d: %d bytes, want %d", version, 2*i, len(got), len(want))
			}
			if got := string(parts[2*i+1].RecordBatches); got != "in-memory" {
				t.Fatalf("v%d partition %d: %q", version, 2*i+1, got)
			}
		}
	}
}

func TestSpliceShortFileClosesConnection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seg.log")
	if err := os.WriteFile(path, []byte("tiny"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{Handler: &spliceHandler{path: path, ranges: [][2]int64{{0, 4}}, short: true}})
	c, err := Dial(context.Background(), ts.addr, "splice-test")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := kmsg.NewPtrFetchRequest()
	req.Version = 11
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Request(ctx, req); err == nil {
		t.Fatal("a frame that cannot be finished must close the connection")
	}
}
