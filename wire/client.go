package wire

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// MaxResponseSize bounds a response frame read by Client. It is well above
// replica.fetch.response.max.bytes (10 MiB) so follower fetches fit, and
// stops a confused peer from sizing our allocations.
const MaxResponseSize = 256 << 20

// Client is a minimal Kafka client for broker-to-broker calls (follower
// fetches, forwarding): one connection, one request in flight at a time.
// Request may be called from several goroutines; calls are serialized.
// After any I/O or decode failure the connection's byte stream can no
// longer be trusted, so the Client closes itself and later calls return
// ErrClientClosed; dial a new one.
type Client struct {
	nc       net.Conn
	clientID string
	closed   atomic.Bool

	mu      sync.Mutex // serializes Request; guards everything below
	corr    int32
	br      *bufio.Reader
	buf     []byte
	scratch [4]byte
	rbuf    []byte // RequestScratch's response buffer
	broken  error  // why the stream is unusable, once it is
}

// Dial connects to a Kafka broker at addr ("host:port"). ctx bounds the
// dial only. clientID is sent in every request header.
func Dial(ctx context.Context, addr string, clientID string) (*Client, error) {
	return DialWith(ctx, nil, addr, clientID)
}

// DialFunc opens a network connection, as net.Dialer.DialContext does.
// Tests inject one to route broker-to-broker traffic through a
// fault-injecting network.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// DialWith is Dial over dial; nil dial uses a plain net.Dialer.
func DialWith(ctx context.Context, dial DialFunc, addr string, clientID string) (*Client, error) {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("wire: dial %s: %w", addr, err)
	}
	return &Client{nc: nc, clientID: clientID, br: bufio.NewReaderSize(nc, readBufferSize)}, nil
}

// RemoteAddr is the address the Client is connected to.
func (c *Client) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Request sends req at the version set on it (req.SetVersion; kmsg's
// default is 0) and returns the decoded response. ctx bounds the whole round
// trip; cancelling it breaks the connection (the response may be half
// read). A Produce with Acks 0 gets no response from Kafka, so Request
// returns (nil, nil) once it is written.
func (c *Client) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	return c.request(ctx, req, false)
}

// RequestScratch is Request for a caller that is done with the response
// before its next request on c: the response's byte fields (a Fetch
// answer's records) may alias a buffer c reuses for the next response. A
// follower copying a leader's log asks for megabytes a millisecond, and a
// fresh buffer for each cost it more CPU (zeroing, collection, returning
// memory to the kernel) than copying the records did.
func (c *Client) RequestScratch(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	return c.request(ctx, req, true)
}

func (c *Client) request(ctx context.Context, req kmsg.Request, scratch bool) (kmsg.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return nil, ErrClientClosed
	}
	if c.broken != nil {
		return nil, fmt.Errorf("%w: %v", ErrClientClosed, c.broken)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Deadline and cancellation both act through the socket deadline; the
	// AfterFunc is waited for so no goroutine outlives the call.
	dl, _ := ctx.Deadline()
	if err := c.nc.SetDeadline(dl); err != nil {
		return nil, c.fail(ctx, err)
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		c.nc.SetDeadline(time.Unix(1, 0))
	})
	defer func() {
		if !stop() {
			<-fired
		}
	}()

	c.corr++
	corr := c.corr
	c.buf = appendRequest(c.buf[:0], corr, c.clientID, req)
	_, err := c.nc.Write(c.buf)
	if cap(c.buf) > writeBatchMax {
		c.buf = nil
	}
	if err != nil {
		return nil, c.fail(ctx, err)
	}
	if p, ok := req.(*kmsg.ProduceRequest); ok && p.Acks == 0 {
		return nil, nil
	}
	resp, err := c.readResponse(req, corr, scratch)
	if err != nil {
		return nil, c.fail(ctx, err)
	}
	return resp, nil
}

// clientBodyChunk is a client's first allocation for a large response: the
// peer is a broker this client chose to dial and the size is bounded by
// MaxResponseSize, so it need not start as small as a server reading
// strangers (bodyChunk); a follower's 1 MiB fetch answers then arrive
// without four grow-and-copy steps.
const clientBodyChunk = 4 << 20

// readResponse reads and decodes the response frame for req.
// scratchKeepMax is the largest response buffer a Client keeps for
// RequestScratch: a follower's fetch answers (replica.fetch.response.max.bytes
// is 10 MiB) are reused, an odd giant one is left to the collector.
const scratchKeepMax = 16 << 20

// readResponse reads and decodes the response frame for req; with scratch,
// into c's reusable buffer (RequestScratch).
func (c *Client) readResponse(req kmsg.Request, corr int32, scratch bool) (kmsg.Response, error) {
	size, err := readSize(c.br, &c.scratch, 4, MaxResponseSize)
	if err != nil {
		return nil, err
	}
	var frame []byte
	if scratch && int(size) <= cap(c.rbuf) {
		frame = c.rbuf[:size]
		_, err = io.ReadFull(c.br, frame)
	} else {
		frame, err = readBodyFrom(c.br, int(size), clientBodyChunk)
		if scratch && err == nil && cap(frame) <= scratchKeepMax {
			c.rbuf = frame
		}
	}
	if err != nil {
		return nil, err
	}
	if got := int32(binary.BigEndian.Uint32(frame)); got != corr {
		return nil, fmt.Errorf("%w: sent %d, got %d", ErrCorrelationMismatch, corr, got)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	body := kbin.Reader{Src: frame[4:]}
	if resp.IsFlexible() && resp.Key() != apiVersionsKey {
		kmsg.SkipTags(&body)
		if !body.Ok() {
			return nil, fmt.Errorf("%w: %s v%d response header", ErrMalformed, kmsg.NameForKey(resp.Key()), resp.GetVersion())
		}
	}
	err = resp.ReadFrom(body.Src)
	if av, ok := resp.(*kmsg.ApiVersionsResponse); ok && (err != nil || av.ErrorCode == kerr.UnsupportedVersion.Code) {
		// KIP-511: a broker that does not speak our version answers
		// in the v0 format.
		v0 := kmsg.NewPtrApiVersionsResponse()
		if v0.ReadFrom(body.Src) == nil {
			return v0, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s v%d response: %v", ErrMalformed, kmsg.NameForKey(resp.Key()), resp.GetVersion(), err)
	}
	return resp, nil
}

// fail marks the stream unusable, closes the socket and returns the error
// to report: the context's when it caused the failure.
func (c *Client) fail(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		err = fmt.Errorf("wire: request aborted: %w", ctxErr)
	} else if c.closed.Load() || errors.Is(err, net.ErrClosed) {
		err = fmt.Errorf("%w: %v", ErrClientClosed, err)
	} else {
		err = fmt.Errorf("wire: request to %s: %w", c.nc.RemoteAddr(), err)
	}
	c.broken = err
	c.nc.Close()
	return err
}

// Close closes the connection; a Request in flight returns ErrClientClosed.
// Safe to call more than once and concurrently with Request.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	return c.nc.Close()
}

// appendRequest appends one request frame (size, header v1 or v2, body) at
// req's version to dst.
func appendRequest(dst []byte, corr int32, clientID string, req kmsg.Request) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0) // size, patched below
	dst = kbin.AppendInt16(dst, req.Key())
	dst = kbin.AppendInt16(dst, req.GetVersion())
	dst = kbin.AppendInt32(dst, corr)
	dst = kbin.AppendString(dst, clientID)
	if req.IsFlexible() {
		dst = append(dst, 0) // empty tagged fields
	}
	dst = req.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}
