package wire

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkDecodeProduce decodes a ~16 KiB Produce v9 request (header and
// body; 16 records of 1 KiB values), the reader's per-frame work.
func BenchmarkDecodeProduce(b *testing.B) {
	frame := appendRequest(nil, 1, "bench", produceRequest(9, recordBatch(16, 1024)))[4:]
	if len(frame) < 16<<10 {
		b.Fatalf("frame %d bytes, want >= 16 KiB", len(frame))
	}
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeRequest(frame, testVersions); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoundTrip is one ApiVersions v3 request/response at a time over
// loopback through Client and Server: framing, both goroutine hand-offs
// and two syscalls each way.
func BenchmarkRoundTrip(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := NewServer(Config{Handler: newFakeHandlerNoRecord(), Versions: testVersions, Logger: slog.New(slog.DiscardHandler)})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		srv.Close()
		<-served
	}()
	cl, err := Dial(context.Background(), ln.Addr().String(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cl.Request(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// newFakeHandlerNoRecord answers ApiVersions without keeping requests, so a
// long benchmark does not grow memory.
func newFakeHandlerNoRecord() Handler {
	keys := versionTable(testVersions).apiKeys()
	return HandlerFunc(func(_ context.Context, req *Request) (kmsg.Response, error) {
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.ApiKeys = keys
		return resp, nil
	})
}

// BenchmarkReadRequestBody reads a 1 MB request body (a default producer's
// largest) from memory: the allocation and copying cost of framing alone.
func BenchmarkReadRequestBody(b *testing.B) {
	body := make([]byte, 1_000_000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		br := bufio.NewReaderSize(bytes.NewReader(body), readBufferSize)
		if _, err := readRequestBody(br, len(body)); err != nil {
			b.Fatal(err)
		}
	}
}
