package wire

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestPooledProduceBodiesStayIntact: large Produce bodies come from pools,
// so a body must not be reused while its request still needs it. Five
// pipelined produces of 200 KiB to 3.2 MiB (the larger ones move up the
// size classes as they arrive), each filled with its own byte; every other
// one is deferred and checks its records only after the requests behind it
// were read and served. Any early reuse shows up as foreign bytes.
func TestPooledProduceBodiesStayIntact(t *testing.T) {
	const n = 5 // fits the response queue behind a waiting deferred answer
	size := func(p int32) int { return 200 << 10 << p }
	var bad atomic.Int32
	release := make(chan struct{})
	check := func(r *kmsg.ProduceRequest) {
		p := r.Topics[0].Partitions[0].Partition
		recs := r.Topics[0].Partitions[0].Records
		want := bytes.Repeat([]byte{byte(p)}, size(p))
		if !bytes.Equal(recs, want) {
			bad.Add(1)
		}
	}
	var served atomic.Int32
	h := HandlerFunc(func(ctx context.Context, req *Request) (kmsg.Response, error) {
		r := req.Body.(*kmsg.ProduceRequest)
		if req.body == nil {
			t.Errorf("produce %d not read into a pooled body", r.Topics[0].Partitions[0].Partition)
		}
		served.Add(1)
		resp := r.ResponseKind().(*kmsg.ProduceResponse)
		if r.Topics[0].Partitions[0].Partition%2 == 1 {
			check(r)
			return resp, nil
		}
		finish := req.Defer()
		go func() {
			select {
			case <-release:
			case <-ctx.Done():
			}
			check(r)
			finish(resp, nil)
		}()
		return nil, nil
	})
	ts := startServer(t, Config{Handler: h})
	rc := dialRaw(t, ts.addr)
	for i := range n {
		rc.send(int32(i+1), produceOf(i, size(int32(i))))
	}
	eventually(t, "every produce served", func() bool { return served.Load() == n })
	close(release)
	for i := range n {
		rc.recv(int32(i+1), produceOf(i, size(int32(i))))
	}
	if b := bad.Load(); b > 0 {
		t.Fatalf("%d produce bodies changed while their request still used them", b)
	}
}

func produceOf(p, size int) *kmsg.ProduceRequest {
	r := kmsg.NewPtrProduceRequest()
	r.Version = 9
	r.Acks = -1
	r.TimeoutMillis = 1000
	tp := kmsg.NewProduceRequestTopic()
	tp.Topic = "t"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Partition = int32(p)
	pp.Records = bytes.Repeat([]byte{byte(p)}, size)
	tp.Partitions = append(tp.Partitions, pp)
	r.Topics = append(r.Topics, tp)
	return r
}

// TestRequestScratchReusesOneBuffer: RequestScratch answers are correct
// whatever their size order (a small answer after a large one reuses the
// buffer, a larger one replaces it), and the buffer is the same across
// answers that fit, which is the point of it.
func TestRequestScratchReusesOneBuffer(t *testing.T) {
	h := HandlerFunc(func(ctx context.Context, req *Request) (kmsg.Response, error) {
		r := req.Body.(*kmsg.FetchRequest)
		resp := r.ResponseKind().(*kmsg.FetchResponse)
		n := int(r.MaxBytes)
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic = "t"
		rp := kmsg.NewFetchResponseTopicPartition()
		rp.RecordBatches = bytes.Repeat([]byte{byte(n)}, n)
		rt.Partitions = append(rt.Partitions, rp)
		resp.Topics = append(resp.Topics, rt)
		return resp, nil
	})
	ts := startServer(t, Config{Handler: h})
	c, err := Dial(context.Background(), ts.addr, "scratch-test")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var first *byte
	for i, n := range []int{300 << 10, 100 << 10, 7, 300 << 10, 5 << 20, 200 << 10} {
		req := kmsg.NewPtrFetchRequest()
		req.Version = 12
		req.MaxBytes = int32(n)
		kresp, err := c.RequestScratch(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		recs := kresp.(*kmsg.FetchResponse).Topics[0].Partitions[0].RecordBatches
		if !bytes.Equal(recs, bytes.Repeat([]byte{byte(n)}, n)) {
			t.Fatalf("answer %d (%d bytes) corrupted", i, n)
		}
		switch {
		case i == 0:
			first = &c.rbuf[0]
		case n <= 300<<10 && i < 4 && &c.rbuf[0] != first:
			t.Fatalf("answer %d (%d bytes) did not reuse the buffer", i, n)
		}
	}
}

// TestPooledProduceTruncated: a Produce frame cut off in the middle of a
// size-class step (3 MiB announced, 1.5 MiB sent) costs only its
// connection; the next connection is served and gets intact records.
func TestPooledProduceTruncated(t *testing.T) {
	var served atomic.Int32
	h := HandlerFunc(func(ctx context.Context, req *Request) (kmsg.Response, error) {
		r := req.Body.(*kmsg.ProduceRequest)
		p := r.Topics[0].Partitions[0]
		if !bytes.Equal(p.Records, bytes.Repeat([]byte{byte(p.Partition)}, len(p.Records))) {
			t.Errorf("records of partition %d corrupted", p.Partition)
		}
		served.Add(1)
		return r.ResponseKind(), nil
	})
	ts := startServer(t, Config{Handler: h})
	frame := appendRequest(nil, 1, "cut", produceOf(9, 3<<20))
	cut := dialRaw(t, ts.addr)
	cut.write(frame[:len(frame)/2])
	cut.nc.Close()
	rc := dialRaw(t, ts.addr)
	rc.send(1, produceOf(7, 3<<20))
	rc.recv(1, produceOf(7, 3<<20))
	if served.Load() != 1 {
		t.Fatalf("served %d requests, want only the whole one", served.Load())
	}
}
