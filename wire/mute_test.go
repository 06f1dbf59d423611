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
