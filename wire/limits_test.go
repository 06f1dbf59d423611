package wire

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// expectClosed waits until the server closes nc (a read returns EOF or a
// reset), failing if it stays open for waitTimeout.
func expectClosed(t *testing.T, nc net.Conn, what string) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(waitTimeout))
	var b [1]byte
	_, err := nc.Read(b[:])
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: connection still open (read err %v)", what, err)
	}
}

// expectOpen checks nc is still served: an ApiVersions round trip works.
func expectOpen(t *testing.T, rc *rawConn, corr int32) {
	t.Helper()
	rc.send(corr, kmsg.NewPtrApiVersionsRequest())
	if got, _ := rc.readFrame(); got != corr {
		t.Fatalf("corr %d, want %d", got, corr)
	}
}

func TestIdleConnectionClosed(t *testing.T) {
	ts := startServer(t, Config{ConnectionsMaxIdle: 200 * time.Millisecond})

	idle := dialRaw(t, ts.addr)
	expectOpen(t, idle, 1)
	start := time.Now()
	expectClosed(t, idle.nc, "idle connection")
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("closed after %v, before the 200ms idle limit", d)
	}
	ts.logs.waitFor(t, idle.local(), "idle")

	// Activity more often than the limit keeps a connection open.
	busy := dialRaw(t, ts.addr)
	for i := range 8 {
		expectOpen(t, busy, int32(i))
		time.Sleep(80 * time.Millisecond)
	}

	// A request in progress (a long poll) is not idleness.
	polling := dialRaw(t, ts.addr)
	polling.send(1, &kmsg.FetchRequest{Version: 4})
	<-ts.h.fetchEntered
	polling.nc.SetReadDeadline(time.Now().Add(600 * time.Millisecond))
	var b [1]byte
	if _, err := polling.nc.Read(b[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection with a long poll in progress: read %v, want it open and silent", err)
	}
	expectClosed(t, busy.nc, "the busy connection once it falls idle")
	if n := ts.srv.NumConns(); n != 1 {
		t.Fatalf("%d connections open, want only the polling one", n)
	}
}

func TestMaxConnectionsPerIP(t *testing.T) {
	ts := startServer(t, Config{MaxConnectionsPerIP: 2})
	a, b := dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	expectOpen(t, a, 1)
	expectOpen(t, b, 1)
	over := dialRaw(t, ts.addr)
	expectClosed(t, over.nc, "third connection from one IP")
	expectOpen(t, a, 2)

	b.nc.Close()
	eventually(t, "the closed connection to be forgotten", func() bool { return ts.srv.NumConns() == 1 })
	expectOpen(t, dialRaw(t, ts.addr), 1)
}

func TestMaxConnections(t *testing.T) {
	ts := startServer(t, Config{MaxConnections: 3})
	var open []*rawConn
	for range 3 {
		rc := dialRaw(t, ts.addr)
		expectOpen(t, rc, 1)
		open = append(open, rc)
	}
	for range 5 {
		expectClosed(t, dialRaw(t, ts.addr).nc, "connection over max.connections")
	}
	for _, rc := range open {
		expectOpen(t, rc, 2)
	}
	if n := ts.srv.NumConns(); n != 3 {
		t.Fatalf("%d connections open, want 3", n)
	}
}

// bigHandler answers every Metadata with a response of about 1 MiB.
type bigHandler struct{}

func (bigHandler) ServeKafka(_ context.Context, req *Request) (kmsg.Response, error) {
	switch req.Body.(type) {
	case *kmsg.ApiVersionsRequest:
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.ApiKeys = versionTable(testVersions).apiKeys()
		return resp, nil
	case *kmsg.MetadataRequest:
		resp := kmsg.NewPtrMetadataResponse()
		msg := strings.Repeat("x", 1<<20)
		resp.ClusterID = &msg
		return resp, nil
	}
	return nil, errors.New("unexpected")
}

// TestWriteTimeoutClientNotReading pipelines requests for large responses
// and never reads: the writer must give up after the write timeout instead
// of pinning the connection forever.
func TestWriteTimeoutClientNotReading(t *testing.T) {
	ts := startServer(t, Config{Handler: bigHandler{}, WriteTimeout: 200 * time.Millisecond, ConnectionsMaxIdle: -1})
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetReadBuffer(64 << 10)
	}
	req := appendRequest(nil, 1, "stalled", &kmsg.MetadataRequest{Version: 4})
	go func() {
		for range 64 { // far more than socket buffers and queues hold
			if _, err := nc.Write(req); err != nil {
				return
			}
		}
	}()
	eventually(t, "the stalled connection to be closed", func() bool { return ts.srv.NumConns() == 0 })
	ts.logs.waitFor(t, nc.LocalAddr().String(), "not reading")
	// Draining now ends in EOF: the server hung up.
	nc.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, err := io.Copy(io.Discard, nc); err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("draining: %v", err)
	}
}
