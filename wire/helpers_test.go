package wire

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitTimeout bounds every wait in these tests so a bug fails the test
// instead of hanging it; nothing asserts on speed.
const waitTimeout = 10 * time.Second

// eventually polls cond until it holds or waitTimeout passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// testVersions is the version table test servers advertise: deliberately
// narrower than kmsg so version checks are exercised.
var testVersions = map[int16]VersionRange{
	0:  {3, 9},  // Produce
	1:  {4, 13}, // Fetch
	3:  {0, 12}, // Metadata
	18: {0, 3},  // ApiVersions
	20: {0, 6},  // DeleteTopics: handler returns an error
	32: {0, 4},  // DescribeConfigs: handler panics
	33: {0, 2},  // AlterConfigs: handler returns a wrong response kind
}

// fakeHandler answers ApiVersions and Metadata like a tiny broker, records
// what it saw, and misbehaves on purpose for a few keys.
type fakeHandler struct {
	addr func() string // the broker address Metadata advertises

	mu      sync.Mutex
	seen    []*Request
	active  atomic.Int32 // handlers running right now
	maxSeen atomic.Int32 // most handlers ever running at once

	fetchEntered chan struct{}
	fetchCtxErr  chan error
}

func newFakeHandler() *fakeHandler {
	return &fakeHandler{fetchEntered: make(chan struct{}, 16), fetchCtxErr: make(chan error, 16)}
}

func (h *fakeHandler) requests() []*Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*Request(nil), h.seen...)
}

func (h *fakeHandler) ServeKafka(ctx context.Context, req *Request) (kmsg.Response, error) {
	n := h.active.Add(1)
	defer h.active.Add(-1)
	for {
		m := h.maxSeen.Load()
		if n <= m || h.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	h.mu.Lock()
	h.seen = append(h.seen, req)
	h.mu.Unlock()

	switch body := req.Body.(type) {
	case *kmsg.ApiVersionsRequest:
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.ApiKeys = versionTable(testVersions).apiKeys()
		return resp, nil
	case *kmsg.MetadataRequest:
		resp := kmsg.NewPtrMetadataResponse()
		if h.addr != nil {
			host, port, err := net.SplitHostPort(h.addr())
			if err != nil {
				return nil, err
			}
			var p int32
			fmt.Sscan(port, &p)
			b := kmsg.NewMetadataResponseBroker()
			b.NodeID, b.Host, b.Port = 0, host, p
			resp.Brokers = append(resp.Brokers, b)
		}
		resp.ControllerID = 0
		id := "wire-test"
		resp.ClusterID = &id
		return resp, nil
	case *kmsg.ProduceRequest:
		if body.Acks == 0 {
			return nil, nil
		}
		return body.ResponseKind(), nil
	case *kmsg.FetchRequest:
		// A long poll that only ends with the connection.
		h.fetchEntered <- struct{}{}
		<-ctx.Done()
		h.fetchCtxErr <- ctx.Err()
		return nil, ctx.Err()
	case *kmsg.DeleteTopicsRequest:
		return nil, errors.New("fake handler refuses DeleteTopics")
	case *kmsg.DescribeConfigsRequest:
		panic("fake handler panics on DescribeConfigs")
	case *kmsg.AlterConfigsRequest:
		return kmsg.NewPtrMetadataResponse(), nil
	}
	return nil, fmt.Errorf("fake handler: unexpected %s", kmsg.NameForKey(req.Key))
}

// logCapture is a slog.Handler that records every log line so tests can
// assert that a connection was closed for the stated reason.
type logCapture struct {
	mu    *sync.Mutex
	recs  *[]logRecord
	attrs []slog.Attr
}

type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (r logRecord) String() string { return fmt.Sprintf("%s %q %v", r.level, r.msg, r.attrs) }

func newLogCapture() *logCapture { return &logCapture{mu: new(sync.Mutex), recs: new([]logRecord)} }

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range l.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	*l.recs = append(*l.recs, rec)
	l.mu.Unlock()
	return nil
}

func (l *logCapture) WithAttrs(as []slog.Attr) slog.Handler {
	c := *l
	c.attrs = append(append([]slog.Attr(nil), l.attrs...), as...)
	return &c
}

func (l *logCapture) WithGroup(string) slog.Handler { return l }

func (l *logCapture) records() []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]logRecord(nil), *l.recs...)
}

// waitFor waits until a record matching remote and containing every
// fragment (in its message or err attribute) is logged, and returns it.
func (l *logCapture) waitFor(t *testing.T, remote string, fragments ...string) logRecord {
	t.Helper()
	var found logRecord
	match := func(r logRecord) bool {
		if r.attrs["remote"] != remote {
			return false
		}
		text := r.msg + " " + r.attrs["err"]
		for _, f := range fragments {
			if !strings.Contains(text, f) {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		for _, r := range l.records() {
			if match(r) {
				found = r
				return found
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line for %s containing %q; got:\n%v", remote, fragments, l.records())
		}
		time.Sleep(time.Millisecond)
	}
}

type testServer struct {
	srv  *Server
	addr string
	h    *fakeHandler
	logs *logCapture
}

// startServer runs a Server on 127.0.0.1:0 with a fakeHandler; cfg's zero
// Handler, Versions and Logger are filled in. Cleanup closes it and checks
// Serve returned nil.
func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{addr: ln.Addr().String(), h: newFakeHandler(), logs: newLogCapture()}
	ts.h.addr = func() string { return ts.addr }
	if cfg.Handler == nil {
		cfg.Handler = ts.h
	}
	if cfg.Versions == nil {
		cfg.Versions = testVersions
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(ts.logs)
	}
	ts.srv = NewServer(cfg)
	served := make(chan error, 1)
	go func() { served <- ts.srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := ts.srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve returned %v after Close, want nil", err)
		}
	})
	return ts
}

// rawConn is a hand-driven client connection for framing tests.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(waitTimeout))
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (rc *rawConn) local() string { return rc.nc.LocalAddr().String() }

func (rc *rawConn) write(b []byte) {
	rc.t.Helper()
	if _, err := rc.nc.Write(b); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

// send writes req (at its set version) with correlation id corr.
func (rc *rawConn) send(corr int32, req kmsg.Request) {
	rc.t.Helper()
	rc.write(appendRequest(nil, corr, "raw-test", req))
}

// readFrame reads one response frame and returns its correlation id and the
// bytes after it (header tags, if any, and body).
func (rc *rawConn) readFrame() (int32, []byte) {
	rc.t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(rc.br, size[:]); err != nil {
		rc.t.Fatalf("read size: %v", err)
	}
	frame := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(rc.br, frame); err != nil {
		rc.t.Fatalf("read frame: %v", err)
	}
	if len(frame) < 4 {
		rc.t.Fatalf("response frame of %d bytes", len(frame))
	}
	return int32(binary.BigEndian.Uint32(frame)), frame[4:]
}

// recv reads one response to req and decodes it at req's version,
// checking the correlation id and the header tag byte.
func (rc *rawConn) recv(corr int32, req kmsg.Request) kmsg.Response {
	rc.t.Helper()
	got, rest := rc.readFrame()
	if got != corr {
		rc.t.Fatalf("correlation id %d, want %d", got, corr)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && resp.Key() != apiVersionsKey {
		if len(rest) == 0 || rest[0] != 0 {
			rc.t.Fatalf("flexible %s response: header tags % x, want 00", kmsg.NameForKey(resp.Key()), rest[:min(1, len(rest))])
		}
		rest = rest[1:]
	}
	if err := resp.ReadFrom(rest); err != nil {
		rc.t.Fatalf("decode %s v%d response: %v", kmsg.NameForKey(resp.Key()), resp.GetVersion(), err)
	}
	return resp
}

// expectClosed reads until the server closes the connection and fails if
// it does not (a timeout means it was left open).
func (rc *rawConn) expectClosed() {
	rc.t.Helper()
	_, err := io.Copy(io.Discard, rc.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		rc.t.Fatalf("connection still open after %v", waitTimeout)
	}
}

// apiVersions sends ApiVersions at version v and returns the response.
func (rc *rawConn) apiVersions(corr int32, v int16) *kmsg.ApiVersionsResponse {
	rc.t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(v)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "wire-test", "1.0"
	rc.send(corr, req)
	return rc.recv(corr, req).(*kmsg.ApiVersionsResponse)
}

// recvWithin receives from ch, failing the test instead of hanging if
// nothing arrives within waitTimeout.
func recvWithin[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("nothing received within %v", waitTimeout)
		panic("unreachable")
	}
}
