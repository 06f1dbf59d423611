package wire

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func dialClient(t *testing.T, addr string) *Client {
	t.Helper()
	cl, err := Dial(context.Background(), addr, "wire-client-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func TestClientRoundTrips(t *testing.T) {
	ts := startServer(t, Config{})
	cl := dialClient(t, ts.addr)
	ctx := testCtx(t)

	for _, v := range []int16{0, 3} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.SetVersion(v)
		resp, err := cl.Request(ctx, req)
		if err != nil {
			t.Fatalf("ApiVersions v%d: %v", v, err)
		}
		av := resp.(*kmsg.ApiVersionsResponse)
		if av.ErrorCode != 0 || len(av.ApiKeys) != len(testVersions) || av.Version != v {
			t.Fatalf("ApiVersions v%d: %+v", v, av)
		}
	}
	for _, v := range []int16{1, 9, 12} { // non-flexible and flexible
		req := kmsg.NewPtrMetadataRequest()
		req.SetVersion(v)
		resp, err := cl.Request(ctx, req)
		if err != nil {
			t.Fatalf("Metadata v%d: %v", v, err)
		}
		md := resp.(*kmsg.MetadataResponse)
		if len(md.Brokers) != 1 || md.Brokers[0].Host != "127.0.0.1" {
			t.Fatalf("Metadata v%d brokers %+v", v, md.Brokers)
		}
	}
	seen := ts.h.requests()
	if seen[0].ClientID != "wire-client-test" {
		t.Fatalf("client id %q", seen[0].ClientID)
	}
	for i, r := range seen {
		if r.CorrelationID != int32(i+1) {
			t.Fatalf("request %d: correlation id %d, want %d", i, r.CorrelationID, i+1)
		}
	}
}

func TestClientAcksZero(t *testing.T) {
	ts := startServer(t, Config{})
	cl := dialClient(t, ts.addr)
	ctx := testCtx(t)
	p := kmsg.NewPtrProduceRequest()
	p.SetVersion(9)
	p.Acks = 0
	resp, err := cl.Request(ctx, p)
	if resp != nil || err != nil {
		t.Fatalf("acks=0 produce: %v, %v; want nil, nil", resp, err)
	}
	// The stream is still in sync: the next response is ours.
	if _, err := cl.Request(ctx, kmsg.NewPtrApiVersionsRequest()); err != nil {
		t.Fatal(err)
	}
	if n := len(ts.h.requests()); n != 2 {
		t.Fatalf("handler saw %d requests, want 2", n)
	}
}

// TestClientApiVersionsFallback asks for an ApiVersions version the server
// does not speak and gets the KIP-511 v0 answer back, decoded.
func TestClientApiVersionsFallback(t *testing.T) {
	ts := startServer(t, Config{})
	cl := dialClient(t, ts.addr)
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(4)
	resp, err := cl.Request(testCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	av := resp.(*kmsg.ApiVersionsResponse)
	if av.ErrorCode != kerr.UnsupportedVersion.Code || av.Version != 0 || len(av.ApiKeys) != len(testVersions) {
		t.Fatalf("fallback response %+v", av)
	}
}

func TestClientCancelBreaksConnection(t *testing.T) {
	ts := startServer(t, Config{})
	cl := dialClient(t, ts.addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		f := kmsg.NewPtrFetchRequest()
		f.SetVersion(11)
		_, err := cl.Request(ctx, f)
		errc <- err
	}()
	recvWithin(t, ts.h.fetchEntered)
	cancel()
	if err := recvWithin(t, errc); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v, want context.Canceled", err)
	}
	if _, err := cl.Request(testCtx(t), kmsg.NewPtrApiVersionsRequest()); !errors.Is(err, ErrClientClosed) {
		t.Fatalf("request after cancel: %v, want ErrClientClosed", err)
	}
	// The server sees the close and cancels its handler.
	if err := recvWithin(t, ts.h.fetchCtxErr); !errors.Is(err, context.Canceled) {
		t.Fatalf("server handler ctx: %v", err)
	}
}

func TestClientCloseDuringRequest(t *testing.T) {
	ts := startServer(t, Config{})
	cl := dialClient(t, ts.addr)
	errc := make(chan error, 1)
	go func() {
		f := kmsg.NewPtrFetchRequest()
		f.SetVersion(4)
		_, err := cl.Request(context.Background(), f)
		errc <- err
	}()
	recvWithin(t, ts.h.fetchEntered)
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if err := recvWithin(t, errc); !errors.Is(err, ErrClientClosed) {
		t.Fatalf("request during Close: %v, want ErrClientClosed", err)
	}
	if err := cl.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	recvWithin(t, ts.h.fetchCtxErr)
}

func TestClientServerClosesConnection(t *testing.T) {
	ts := startServer(t, Config{})
	cl := dialClient(t, ts.addr)
	// The server refuses DeleteTopics by closing the connection.
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.SetVersion(1)
	if _, err := cl.Request(testCtx(t), req); err == nil {
		t.Fatal("request on a connection the server closed succeeded")
	}
	if _, err := cl.Request(testCtx(t), kmsg.NewPtrApiVersionsRequest()); !errors.Is(err, ErrClientClosed) {
		t.Fatalf("next request: %v, want ErrClientClosed", err)
	}
}

func TestDialFails(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Dial(ctx, "127.0.0.1:1", "x"); err == nil {
		t.Fatal("Dial with a cancelled context succeeded")
	}
}
