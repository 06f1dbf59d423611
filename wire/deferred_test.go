package wire

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDeferredKeepsOrderWithoutBlocking: the first request is answered
// later; the second is served meanwhile, yet its response still arrives
// second.
func TestDeferredKeepsOrderWithoutBlocking(t *testing.T) {
	release := make(chan struct{})
	var served atomic.Int32
	h := HandlerFunc(func(ctx context.Context, req *Request) (kmsg.Response, error) {
		n := served.Add(1)
		resp := kmsg.NewPtrMetadataResponse()
		resp.ControllerID = n
		if n == 1 {
			finish := req.Defer()
			go func() {
				select {
				case <-release:
				case <-ctx.Done():
				}
				finish(resp, nil)
			}()
			return nil, nil
		}
		return resp, nil
	})
	ts := startServer(t, Config{Handler: h})
	rc := dialRaw(t, ts.addr)
	for corr := int32(1); corr <= 2; corr++ {
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 9
		rc.send(corr, req)
	}
	eventually(t, "second request served while the first waits", func() bool { return served.Load() == 2 })
	close(release)
	for corr := int32(1); corr <= 2; corr++ {
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 9
		resp := rc.recv(corr, req).(*kmsg.MetadataResponse)
		if resp.ControllerID != corr {
			t.Fatalf("response %d carries %d: out of order", corr, resp.ControllerID)
		}
	}
}

// A deferred response finished with an error closes the connection, like
// a handler error.
func TestDeferredErrorClosesConnection(t *testing.T) {
	h := HandlerFunc(func(ctx context.Context, req *Request) (kmsg.Response, error) {
		finish := req.Defer()
		go finish(nil, context.DeadlineExceeded)
		return nil, nil
	})
	ts := startServer(t, Config{Handler: h})
	c, err := Dial(context.Background(), ts.addr, "deferred-test")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 9
	if _, err := c.Request(ctx, req); err == nil {
		t.Fatal("want the connection closed")
	}
}

// TestObserveCountsDeferredAtFinish: Config.Observe sees a request answered
// at once when its handler returns, and a deferred one only when it is
// finished.
func TestObserveCountsDeferredAtFinish(t *testing.T) {
	release := make(chan struct{})
	var served, observed atomic.Int32
	h := HandlerFunc(func(ctx context.Context, req *Request) (kmsg.Response, error) {
		resp := kmsg.NewPtrMetadataResponse()
		if served.Add(1) == 1 {
			finish := req.Defer()
			go func() {
				select {
				case <-release:
				case <-ctx.Done():
				}
				finish(resp, nil)
			}()
			return nil, nil
		}
		return resp, nil
	})
	observe := func(key int16, took time.Duration) {
		if key != 3 || took < 0 {
			t.Errorf("observed key %d took %v, want Metadata (3) and a duration", key, took)
		}
		observed.Add(1)
	}
	ts := startServer(t, Config{Handler: h, Observe: observe})
	rc := dialRaw(t, ts.addr)
	for corr := int32(1); corr <= 2; corr++ {
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 9
		rc.send(corr, req)
	}
	eventually(t, "the second request observed", func() bool { return observed.Load() == 1 })
	close(release)
	for corr := int32(1); corr <= 2; corr++ {
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 9
		rc.recv(corr, req)
	}
	if n := observed.Load(); n != 2 {
		t.Fatalf("observed %d requests, want 2", n)
	}
}
