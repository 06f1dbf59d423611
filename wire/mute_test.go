package wire

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestThrottleMutesConnection: a handler that throttles answers at once,
// and the connection's next request reaches the handler no earlier than
// the end of the throttle; another connection is not muted.
func TestThrottleMutesConnection(t *testing.T) {
	var mu sync.Mutex
	var muteEnd time.Time
	var servedAt []time.Time
	h := HandlerFunc(func(ctx context.Context, req *Request) (kmsg.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		servedAt = append(servedAt, time.Now())
		if req.ClientID == "throttled" && len(servedAt) == 1 {
			req.Throttle(200 * time.Millisecond)
			muteEnd = req.Conn.MutedUntil()
		}
		return kmsg.NewPtrMetadataResponse(), nil
	})
	ts := startServer(t, Config{Handler: h})
	c, err := Dial(context.Background(), ts.addr, "throttled")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 2; i++ {
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 9
		if _, err := c.Request(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	if muteEnd.IsZero() || len(servedAt) != 2 || servedAt[1].Before(muteEnd) {
		t.Fatalf("second request served at %v, mute ends %v", servedAt, muteEnd)
	}
	mu.Unlock()
	other, err := Dial(context.Background(), ts.addr, "other")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 9
	if _, err := other.Request(ctx, req); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(servedAt) != 3 {
		t.Fatalf("served %d", len(servedAt))
	}
}

// acceptQuotaFunc adapts a function to AcceptQuota.
type acceptQuotaFunc func(ip string) (time.Duration, time.Duration)

func (f acceptQuotaFunc) Accept(ip string) (time.Duration, time.Duration) { return f(ip) }

// TestAcceptQuotaHoldsAndDelays: a connection AcceptQuota refuses is held
// unserved and closed when its throttle ends, or at Close, whichever is
// first; a delayed one is served after its delay.
func TestAcceptQuotaHoldsAndDelays(t *testing.T) {
	var mu sync.Mutex
	var refuse, delay time.Duration
	q := acceptQuotaFunc(func(ip string) (time.Duration, time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if ip != "127.0.0.1" {
			t.Errorf("AcceptQuota asked about %q", ip)
		}
		return delay, refuse
	})
	ts := startServer(t, Config{AcceptQuota: q})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ask := func() (time.Duration, error) {
		start := time.Now()
		c, err := Dial(ctx, ts.addr, "quota")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 9
		_, err = c.Request(ctx, req)
		return time.Since(start), err
	}
	mu.Lock()
	refuse = 150 * time.Millisecond
	mu.Unlock()
	if took, err := ask(); err == nil || took < refuse {
		t.Fatalf("refused connection: answered %v after %v, want closed after %v", err, took, refuse)
	}
	mu.Lock()
	refuse, delay = 0, 150*time.Millisecond
	mu.Unlock()
	if took, err := ask(); err != nil || took < delay {
		t.Fatalf("delayed connection: %v after %v, want an answer after %v", err, took, delay)
	}
	mu.Lock()
	refuse, delay = time.Hour, 0
	mu.Unlock()
	c, err := Dial(ctx, ts.addr, "held")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	eventually(t, "the refused connection held", func() bool {
		ts.srv.mu.Lock()
		defer ts.srv.mu.Unlock()
		return len(ts.srv.held) == 1
	})
	ts.srv.Close()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 9
	if _, err := c.Request(ctx, req); err == nil || ctx.Err() != nil {
		t.Fatalf("held connection after Close: %v (ctx %v), want closed", err, ctx.Err())
	}
}
