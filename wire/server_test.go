package wire

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestApiVersionsRoundTrip(t *testing.T) {
	ts := startServer(t, Config{})
	want := versionTable(testVersions).apiKeys()
	for _, v := range []int16{0, 1, 2, 3} {
		rc := dialRaw(t, ts.addr)
		req := kmsg.NewPtrApiVersionsRequest()
		req.SetVersion(v)
		req.ClientSoftwareName, req.ClientSoftwareVersion = "wire-test", "1.0"
		rc.send(7, req)
		corr, rest := rc.readFrame()
		if corr != 7 {
			t.Fatalf("v%d: correlation id %d, want 7", v, corr)
		}
		// No header tags even at v3 (flexible): the body starts right
		// after the correlation id with ErrorCode 0.
		if len(rest) < 2 || binary.BigEndian.Uint16(rest) != 0 {
			t.Fatalf("v%d: body does not start with ErrorCode 0: % x", v, rest[:min(8, len(rest))])
		}
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.SetVersion(v)
		if err := resp.ReadFrom(rest); err != nil {
			t.Fatalf("v%d: decode: %v", v, err)
		}
		if !slices.EqualFunc(resp.ApiKeys, want, func(a, b kmsg.ApiVersionsResponseApiKey) bool {
			return a.ApiKey == b.ApiKey && a.MinVersion == b.MinVersion && a.MaxVersion == b.MaxVersion
		}) {
			t.Fatalf("v%d: ApiKeys %+v, want %+v", v, resp.ApiKeys, want)
		}
		// The handler got the body decoded at the right version.
		seen := ts.h.requests()
		last := seen[len(seen)-1]
		body := last.Body.(*kmsg.ApiVersionsRequest)
		if last.Version != v || body.Version != v || last.ClientID != "raw-test" || last.CorrelationID != 7 {
			t.Fatalf("v%d: handler saw key %d v%d (body v%d) client %q corr %d", v, last.Key, last.Version, body.Version, last.ClientID, last.CorrelationID)
		}
		if v >= 3 && body.ClientSoftwareName != "wire-test" {
			t.Fatalf("v%d: ClientSoftwareName %q", v, body.ClientSoftwareName)
		}
	}
}

func TestFlexibleResponseHeaderHasTags(t *testing.T) {
	ts := startServer(t, Config{})
	rc := dialRaw(t, ts.addr)
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(12) // flexible
	rc.send(3, req)
	resp := rc.recv(3, req).(*kmsg.MetadataResponse) // recv checks the 0x00 tag byte
	if resp.ClusterID == nil || *resp.ClusterID != "wire-test" || len(resp.Brokers) != 1 {
		t.Fatalf("metadata response %+v", resp)
	}
}

func TestPipelinedRequestsAnsweredInOrder(t *testing.T) {
	ts := startServer(t, Config{})
	rc := dialRaw(t, ts.addr)

	const n = 64
	var batch []byte
	reqs := make([]kmsg.Request, n)
	for i := range reqs {
		var req kmsg.Request
		switch i % 3 {
		case 0:
			req = kmsg.NewPtrApiVersionsRequest()
			req.SetVersion(int16(i % 4))
		case 1:
			req = kmsg.NewPtrMetadataRequest()
			req.SetVersion(int16(i % 13))
		case 2:
			p := kmsg.NewPtrProduceRequest()
			p.Acks = -1
			p.SetVersion(int16(3 + i%7))
			req = p
		}
		reqs[i] = req
		batch = appendRequest(batch, int32(1000+i), "pipeline", req)
	}
	rc.write(batch) // all at once: the server must read ahead and still answer in order
	for i, req := range reqs {
		resp := rc.recv(int32(1000+i), req)
		if resp.Key() != req.Key() || resp.GetVersion() != req.GetVersion() {
			t.Fatalf("response %d: key %d v%d for key %d v%d", i, resp.Key(), resp.GetVersion(), req.Key(), req.GetVersion())
		}
	}
	if got := ts.h.maxSeen.Load(); got != 1 {
		t.Fatalf("handler ran %d at once on one connection, want 1", got)
	}
	seen := ts.h.requests()
	for i, r := range seen {
		if r.CorrelationID != int32(1000+i) {
			t.Fatalf("handler call %d had correlation id %d, want %d", i, r.CorrelationID, 1000+i)
		}
	}
}

func TestAcksZeroProduceGetsNoResponse(t *testing.T) {
	ts := startServer(t, Config{})
	rc := dialRaw(t, ts.addr)
	p := kmsg.NewPtrProduceRequest()
	p.SetVersion(7)
	p.Acks = 0
	rc.send(1, p)
	rc.apiVersions(2, 3) // recv fails if the first frame back is not corr 2
	seen := ts.h.requests()
	if len(seen) != 2 || seen[0].Key != 0 || seen[0].Body.(*kmsg.ProduceRequest).Acks != 0 {
		t.Fatalf("handler saw %d requests, first %+v", len(seen), seen[0])
	}
}

// TestApiVersionsUnsupportedVersion checks the KIP-511 answer: v0 body,
// UNSUPPORTED_VERSION, the whole table, handler not involved.
func TestApiVersionsUnsupportedVersion(t *testing.T) {
	ts := startServer(t, Config{})
	for _, v := range []int16{4, 99, 32767} {
		rc := dialRaw(t, ts.addr)
		req := kmsg.NewPtrApiVersionsRequest()
		req.SetVersion(v) // kmsg encodes its newest format; we must not parse it anyway
		rc.send(42, req)
		corr, rest := rc.readFrame()
		if corr != 42 {
			t.Fatalf("v%d: correlation id %d", v, corr)
		}
		resp := kmsg.NewPtrApiVersionsResponse() // v0
		if err := resp.ReadFrom(rest); err != nil {
			t.Fatalf("v%d: not a v0 body: %v", v, err)
		}
		if resp.ErrorCode != kerr.UnsupportedVersion.Code {
			t.Fatalf("v%d: ErrorCode %d, want %d", v, resp.ErrorCode, kerr.UnsupportedVersion.Code)
		}
		if len(resp.ApiKeys) != len(testVersions) {
			t.Fatalf("v%d: %d ApiKeys, want the whole table (%d)", v, len(resp.ApiKeys), len(testVersions))
		}
		var found bool
		for _, k := range resp.ApiKeys {
			if k.ApiKey == 18 {
				found = k.MinVersion == 0 && k.MaxVersion == 3
			}
		}
		if !found {
			t.Fatalf("v%d: ApiKeys lack ApiVersions 0..3: %+v", v, resp.ApiKeys)
		}
		// The connection stays usable for the retry at a listed version.
		if got := rc.apiVersions(43, 3); got.ErrorCode != 0 {
			t.Fatalf("retry: ErrorCode %d", got.ErrorCode)
		}
	}
	for _, r := range ts.h.requests() {
		if r.Version > 3 {
			t.Fatalf("handler was called for ApiVersions v%d", r.Version)
		}
	}
}

// TestBadInputClosesOnlyThatConnection feeds each kind of bad input on its
// own connection and checks that the server logs the reason with the remote
// address, closes that connection, and keeps serving another one.
func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	sizeOnly := func(n int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }
	header := func(key, version int16, corr int32) []byte {
		b := kbin.AppendInt16(nil, key)
		b = kbin.AppendInt16(b, version)
		b = kbin.AppendInt32(b, corr)
		return kbin.AppendString(b, "bad")
	}
	frame := func(payload []byte) []byte { return append(sizeOnly(int32(len(payload))), payload...) }
	request := func(key, version int16) []byte {
		req := kmsg.RequestForKey(key)
		req.SetVersion(version)
		return appendRequest(nil, 9, "bad", req)
	}

	tests := []struct {
		name      string
		send      []byte
		halfClose bool     // close our write side after sending
		reason    []string // fragments of the logged reason
	}{
		{"oversized frame", sizeOnly(4096), false, []string{"bad frame size", "size 4096, maximum 1024"}},
		{"oversized max int32", sizeOnly(1<<31 - 1), false, []string{"bad frame size", "larger than maximum"}},
		{"negative size", sizeOnly(-1), false, []string{"bad frame size", "size -1"}},
		{"size below header", append(sizeOnly(3), 0, 18, 0), false, []string{"bad frame size", "size 3, minimum 10"}},
		{"truncated frame", append(sizeOnly(100), header(18, 0, 1)...), true, []string{"truncated", "100-byte frame"}},
		{"garbage body", frame(append(header(3, 1, 1), 0x7f, 0xff, 0xff, 0xff, 1, 2, 3)), false, []string{"unusable request", "Metadata v1 body"}},
		{"truncated header tags", frame(append(header(3, 12, 1), 0x05)), false, []string{"unusable request", "header truncated"}},
		{"unknown api key", frame(header(999, 0, 1)), false, []string{"unusable request", "unknown api key: 999"}},
		{"negative api key", frame(header(-1, 0, 1)), false, []string{"unusable request", "unknown api key: -1"}},
		{"unsupported metadata version", frame(header(3, 99, 1)), false, []string{"unusable request", "Metadata (key 3) v99"}},
		{"version below table", request(0, 2), false, []string{"unusable request", "Produce (key 0) v2"}},
		{"key not in table", request(19, 0), false, []string{"unusable request", "CreateTopics (key 19) v0"}},
		{"handler error", request(20, 1), false, []string{"handler failed", "refuses DeleteTopics"}},
		{"handler panic", request(32, 1), false, []string{"BUG", "panics on DescribeConfigs"}},
		{"wrong response kind", request(33, 1), false, []string{"BUG", "Metadata response to a AlterConfigs request"}},
	}
	ts := startServer(t, Config{MaxRequestSize: 1024})
	good := dialRaw(t, ts.addr)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := dialRaw(t, ts.addr)
			bad.write(tt.send)
			if tt.halfClose {
				bad.nc.(*net.TCPConn).CloseWrite()
			}
			bad.expectClosed()
			ts.logs.waitFor(t, bad.local(), tt.reason...)
			if resp := good.apiVersions(int32(i), 3); resp.ErrorCode != 0 {
				t.Fatalf("good connection: ErrorCode %d", resp.ErrorCode)
			}
		})
	}
}

func TestHandlerContextCancelledWhenClientCloses(t *testing.T) {
	ts := startServer(t, Config{})
	rc := dialRaw(t, ts.addr)
	f := kmsg.NewPtrFetchRequest()
	f.SetVersion(11)
	rc.send(1, f)
	recvWithin(t, ts.h.fetchEntered)
	rc.nc.Close()
	if err := recvWithin(t, ts.h.fetchCtxErr); !errors.Is(err, context.Canceled) {
		t.Fatalf("handler ctx error %v, want Canceled", err)
	}
}

func TestCloseCancelsHandlersAndWaits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := newFakeHandler()
	logs := newLogCapture()
	srv := NewServer(Config{Handler: h, Versions: testVersions, Logger: slog.New(logs)})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	conns := make([]*rawConn, 3)
	for i := range conns {
		conns[i] = dialRaw(t, ln.Addr().String())
		f := kmsg.NewPtrFetchRequest()
		f.SetVersion(4)
		conns[i].send(1, f)
		recvWithin(t, h.fetchEntered)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	// Close has returned, so every handler has returned: their ctx errors
	// are already queued.
	if got := len(h.fetchCtxErr); got != len(conns) {
		t.Fatalf("%d handlers finished before Close returned, want %d", got, len(conns))
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve returned %v after Close", err)
	}
	for _, rc := range conns {
		rc.expectClosed()
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("listener still accepting after Close")
	}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ln2); err != nil {
		t.Fatalf("Serve after Close: %v, want nil", err)
	}
	if _, err := net.Dial("tcp", ln2.Addr().String()); err == nil {
		t.Fatal("Serve after Close left its listener open")
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestConnInfo(t *testing.T) {
	ts := startServer(t, Config{ListenerName: "INTERNAL"})
	a, b := dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	a.apiVersions(1, 0)
	b.apiVersions(1, 0)
	seen := ts.h.requests()
	if len(seen) != 2 {
		t.Fatalf("%d requests", len(seen))
	}
	byRemote := map[string]*ConnInfo{}
	for _, r := range seen {
		byRemote[r.Conn.RemoteAddr.String()] = r.Conn
	}
	ia, ib := byRemote[a.local()], byRemote[b.local()]
	if ia == nil || ib == nil {
		t.Fatalf("remote addrs %v, want %s and %s", byRemote, a.local(), b.local())
	}
	if ia.ID == ib.ID || ia.ID == 0 || ib.ID == 0 {
		t.Fatalf("conn ids %d and %d, want distinct and non-zero", ia.ID, ib.ID)
	}
	for _, ci := range []*ConnInfo{ia, ib} {
		if ci.LocalAddr.String() != ts.addr || ci.Listener != "INTERNAL" {
			t.Fatalf("conn info %+v, want local %s listener INTERNAL", ci, ts.addr)
		}
	}
}

func TestDefaultListenerName(t *testing.T) {
	ts := startServer(t, Config{})
	dialRaw(t, ts.addr).apiVersions(1, 0)
	if got := ts.h.requests()[0].Conn.Listener; got != DefaultListenerName {
		t.Fatalf("listener %q, want %q", got, DefaultListenerName)
	}
}

func TestConfigValidate(t *testing.T) {
	h := HandlerFunc(func(context.Context, *Request) (kmsg.Response, error) { return nil, nil })
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"ok", Config{Handler: h, Versions: testVersions}, true},
		{"nil versions", Config{Handler: h}, true},
		{"no handler", Config{Versions: testVersions}, false},
		{"tiny max", Config{Handler: h, MaxRequestSize: 5}, false},
		{"unknown key", Config{Handler: h, Versions: map[int16]VersionRange{18: {0, 3}, 999: {0, 0}}}, false},
		{"min above max", Config{Handler: h, Versions: map[int16]VersionRange{18: {3, 1}}}, false},
		{"beyond kmsg", Config{Handler: h, Versions: map[int16]VersionRange{18: {0, 99}}}, false},
		{"negative min", Config{Handler: h, Versions: map[int16]VersionRange{18: {-1, 3}}}, false},
		{"no ApiVersions", Config{Handler: h, Versions: map[int16]VersionRange{3: {0, 12}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Config{})
	if err := srv.Serve(ln); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Serve with no handler: %v", err)
	}
	srv.Close()
}

func TestReadBodyGrowsWithData(t *testing.T) {
	// A peer announcing 64 MiB and sending 100 bytes must not cost 64 MiB.
	const announced, runs = 64 << 20, 10
	sent := make([]byte, 100)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		if _, err := readBody(bytes.NewReader(sent), announced); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("readBody of a truncated frame: %v, want ErrUnexpectedEOF", err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 2*bodyChunk {
		t.Fatalf("truncated 64 MiB frame allocated %d bytes, want <= %d", per, 2*bodyChunk)
	}
	// And a full frame comes back exactly sized.
	full := bytes.Repeat([]byte{7}, 3*bodyChunk+5)
	got, err := readBody(bytes.NewReader(full), len(full))
	if err != nil || !bytes.Equal(got, full) || cap(got) != len(full) {
		t.Fatalf("readBody: err %v, len %d cap %d", err, len(got), cap(got))
	}
}

// TestReadRequestBodyAllocatesOnData: a body up to exactBodyMax is one exact
// allocation, made only once its first byte is there: a peer that announces
// 1 MiB and closes (or goes silent) costs no megabyte.
func TestReadRequestBodyAllocatesOnData(t *testing.T) {
	const runs = 10
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		br := bufio.NewReaderSize(bytes.NewReader(nil), readBufferSize)
		if _, err := readRequestBody(br, 1<<20); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("readRequestBody of an announced, never sent frame: %v, want ErrUnexpectedEOF", err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 2*readBufferSize {
		t.Fatalf("an announced 1 MiB frame with no body allocated %d bytes, want <= %d", per, 2*readBufferSize)
	}
	for _, n := range []int{100, 3*bodyChunk + 5, exactBodyMax, exactBodyMax + 1} {
		full := bytes.Repeat([]byte{7}, n)
		got, err := readRequestBody(bufio.NewReaderSize(bytes.NewReader(full), readBufferSize), n)
		if err != nil || !bytes.Equal(got, full) || cap(got) != n {
			t.Fatalf("readRequestBody(%d): err %v, len %d cap %d", n, err, len(got), cap(got))
		}
	}
}

// TestLargePipelinedFrames pipelines requests bigger than the read-ahead
// byte budget: they must still all be served, in order.
func TestLargePipelinedFrames(t *testing.T) {
	ts := startServer(t, Config{})
	rc := dialRaw(t, ts.addr)
	var batch []byte
	var reqs []kmsg.Request
	for i := range 4 {
		p := produceRequest(9, recordBatch(3, 300<<10)) // ~900 KiB each
		reqs = append(reqs, p)
		batch = appendRequest(batch, int32(i), "big", p)
	}
	wrote := make(chan error, 1)
	go func() { // the server only reads as fast as it serves
		_, err := rc.nc.Write(batch)
		wrote <- err
	}()
	for i, req := range reqs {
		rc.recv(int32(i), req)
	}
	if err := recvWithin(t, wrote); err != nil {
		t.Fatal(err)
	}
	seen := ts.h.requests()
	if len(seen) != len(reqs) {
		t.Fatalf("handler saw %d requests", len(seen))
	}
	want := reqs[3].(*kmsg.ProduceRequest).Topics[0].Partitions[0].Records
	got := seen[3].Body.(*kmsg.ProduceRequest).Topics[0].Partitions[0].Records
	if !bytes.Equal(got, want) {
		t.Fatalf("records corrupted: %d bytes, want %d", len(got), len(want))
	}
}

func TestBudget(t *testing.T) {
	var b budget
	b.init(100)
	if !b.acquire(500) {
		t.Fatal("a frame larger than the budget must fit when nothing is pending")
	}
	got := make(chan bool, 1)
	go func() { got <- b.acquire(10) }() // waits: 500 pending
	b.release(500)
	if !recvWithin(t, got) {
		t.Fatal("acquire after release failed")
	}
	go func() { got <- b.acquire(100) }() // waits: 10 pending, 110 > 100
	b.close()
	if recvWithin(t, got) {
		t.Fatal("acquire succeeded after close")
	}
	if b.acquire(1) {
		t.Fatal("acquire on a closed budget succeeded")
	}
}
