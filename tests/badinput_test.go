package tests

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// maxRequestBytes is the socket.request.max.bytes the bad-input broker runs with.
const maxRequestBytes = 64 << 10

// requestHeader encodes a v1 request header: api key, version, correlation
// id, client id.
func requestHeader(key, version int16, corr int32, clientID string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, uint16(len(clientID)))
	return append(b, clientID...)
}

// withLength prefixes payload with a 4-byte frame length of n.
func withLength(n uint32, payload []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, n), payload...)
}

// TestBadInputConnectionClosed sends hostile bytes on raw TCP connections.
// Each connection must be closed by the broker without an answer, and the
// broker must go on serving a well-behaved client on another connection.
func TestBadInputConnectionClosed(t *testing.T) {
	b := startBroker(t, "--socket-request-max-bytes", strconv.Itoa(maxRequestBytes))

	apiVersionsV0 := requestHeader(18, 0, 7, "raw")
	cases := []struct {
		name string
		send []byte
	}{
		{"http request", []byte("GET / HTTP/1.1\r\nHost: strom\r\n\r\n")},
		{"random bytes", bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0x7f}, 50)},
		{"negative length", withLength(0xffffffff, apiVersionsV0)},
		{"zero length", withLength(0, nil)},
		// The frame ends inside the correlation id.
		{"length shorter than header", withLength(6, apiVersionsV0)},
		// The client id claims 1000 bytes; the frame holds 3.
		{"client id longer than frame", withLength(13, append(requestHeader(18, 0, 8, "")[:8], 0x03, 0xe8, 'a', 'b', 'c'))},
		{"frame above socket.request.max.bytes", withLength(maxRequestBytes*4, make([]byte, 4096))},
		{"unknown api key", withLength(uint32(len(requestHeader(9999, 0, 9, "raw"))), requestHeader(9999, 0, 9, "raw"))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn := dialRaw(t, b.Addr())
			_, _ = conn.Write(c.send) // the broker may close before reading it all
			expectClosed(t, conn)
		})
	}

	t.Run("garbage after a valid request", func(t *testing.T) {
		conn := dialRaw(t, b.Addr())
		if _, err := conn.Write(withLength(uint32(len(apiVersionsV0)), apiVersionsV0)); err != nil {
			t.Fatalf("write ApiVersions: %v", err)
		}
		var hdr [10]byte // length, correlation id, error code
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			t.Fatalf("read ApiVersions response: %v", err)
		}
		size := binary.BigEndian.Uint32(hdr[0:])
		if corr := binary.BigEndian.Uint32(hdr[4:]); corr != 7 {
			t.Fatalf("ApiVersions response correlation id %d, want 7", corr)
		}
		if code := binary.BigEndian.Uint16(hdr[8:]); code != 0 {
			t.Fatalf("ApiVersions v0 error code %d, want 0", code)
		}
		if _, err := io.CopyN(io.Discard, conn, int64(size)-6); err != nil {
			t.Fatalf("read rest of ApiVersions response: %v", err)
		}
		_, _ = conn.Write([]byte("\xff\xff\xff\xf0 not kafka at all"))
		expectClosed(t, conn)
	})

	// A client on another connection is still served, and nothing panicked.
	const topic = "still-serving"
	createTopic(t, b.Addr(), topic, 1, nil)
	produceSync(t, b.Addr(), &kgo.Record{Topic: topic, Value: []byte("ok")})
	if recs := consumeAll(t, b.Addr(), topic, 1); string(recs[0].Value) != "ok" {
		t.Fatalf("read %q after bad input, want ok", recs[0].Value)
	}
	if !b.running() {
		t.Fatalf("broker process exited after bad input")
	}
	if logs := b.Logs(); strings.Contains(logs, "panic") || strings.Contains(logs, "goroutine ") {
		t.Fatalf("broker log mentions a panic after bad input")
	}
}

func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// expectClosed reads until the broker closes conn, failing if that does not
// happen within the deadline or if the broker sends anything first.
func expectClosed(t *testing.T, conn net.Conn) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	n, err := io.Copy(io.Discard, conn)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("connection still open after 15s (read %d bytes): the broker waits for more input instead of closing", n)
	case err != nil && !errors.Is(err, syscall.ECONNRESET):
		t.Fatalf("read: %v, want the connection closed", err)
	}
	if n > 0 {
		t.Fatalf("broker answered %d bytes to bad input, want the connection closed without an answer", n)
	}
}
