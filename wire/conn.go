package wire

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	// readAheadRequests caps how many decoded requests may wait for the
	// handler; readAheadBytes caps their frames' total size. A frame
	// larger than readAheadBytes is still read, but only when nothing
	// else is pending, so one connection pins at most about
	// max(readAheadBytes, MaxRequestSize) of request memory.
	readAheadRequests = 4
	readAheadBytes    = 1 << 20

	// responseQueue caps how many handled responses may wait for the
	// writer.
	responseQueue = 4

	// writeBatchMax stops coalescing queued responses into one write once
	// the batch is this large.
	writeBatchMax = 1 << 20

	// writeBufKeepMax is the largest write buffer a connection keeps between
	// writes. Fetch responses are commonly ~1 MiB (the clients' default
	// partition max bytes); regrowing a buffer for each one costs more copying
	// and zeroing than the response itself, so buffers up to a few of those
	// are kept for the connection's life.
	writeBufKeepMax = 4 << 20

	// writeChunk is the unit of the write deadline: a response write gets
	// Config.WriteTimeout for each started writeChunk bytes.
	writeChunk = 1 << 20

	// readBufferSize is the bufio buffer for size prefixes and small
	// frames; large bodies bypass it.
	readBufferSize = 16 << 10
)

// inbound is a decoded request on its way to the serve loop.
type inbound struct {
	req  *Request
	resp kmsg.Response // set when the reader answered itself (KIP-511); the Handler is skipped
	size int           // frame bytes charged to the read-ahead budget
}

// outbound is a response on its way to the writer.
type outbound struct {
	corr       int32
	resp       kmsg.Response
	splices    []splice  // file ranges to send in place of placeholders
	deferred   *deferred // non-nil until a deferred response is finished
	closeAfter bool      // close the connection once this is written
	raw        bool      // a raw SASL token (auth.go), written without a header
	body       *[]byte   // a deferred request's pooled frame, released once it finished
}

// conn is one accepted connection and its three goroutines (reader, serve,
// writer). Any of them ending closes the whole connection.
type conn struct {
	srv    *Server
	nc     net.Conn // what requests and responses go through: raw, or TLS over raw
	raw    net.Conn // the accepted socket; closing it unblocks every goroutine
	info   *ConnInfo
	log    *slog.Logger
	ctx    context.Context // handed to the Handler; cancelled by close
	cancel context.CancelFunc

	in     chan inbound
	out    chan outbound
	budget budget

	// pending counts requests read whose response is not yet written (or
	// dropped); a connection with pending requests is never idle. lastIO is
	// when a frame was last read or a response last written (UnixNano).
	pending atomic.Int32
	lastIO  atomic.Int64

	closeOnce sync.Once
}

func newConn(s *Server, nc net.Conn, info *ConnInfo) *conn {
	ctx, cancel := context.WithCancel(s.ctx)
	c := &conn{
		srv:    s,
		nc:     nc,
		raw:    nc,
		info:   info,
		log:    s.log.With("conn", info.ID, "remote", info.RemoteAddr.String(), "listener", info.Listener),
		ctx:    ctx,
		cancel: cancel,
		in:     make(chan inbound, readAheadRequests),
		out:    make(chan outbound, responseQueue),
	}
	if s.cfg.TLS != nil {
		c.nc = tls.Server(nc, s.cfg.TLS)
	}
	c.budget.init(readAheadBytes)
	c.lastIO.Store(time.Now().UnixNano())
	return c
}

// run starts the reader and serve goroutines, runs the writer itself, and
// returns once all three have ended.
func (c *conn) run() {
	if !c.handshake() {
		c.close()
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		c.readLoop()
	}()
	go func() {
		defer wg.Done()
		c.serveLoop()
	}()
	c.writeLoop()
	c.close()
	wg.Wait()
	c.dropQueued() // anything the serve loop queued after the writer left
}

// close tears the connection down: cancels the handler's ctx, unblocks the
// reader (socket close, budget) and, through ctx, the serve loop and writer.
// Safe to call from any goroutine, any number of times. It closes the raw
// socket, not the TLS layer: a TLS close_notify could block on a peer that
// stopped reading, and close runs under Server.mu.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.cancel()
		c.raw.Close()
		c.budget.close()
	})
}

// recoverBug is the last-resort guard deferred by each connection
// goroutine: a panic here is a bug in this package or kmsg, and must cost
// one connection, not the broker.
func (c *conn) recoverBug(goroutine string) {
	if r := recover(); r != nil {
		c.log.Error("wire: BUG: panic in connection goroutine; closing connection",
			"goroutine", goroutine, "panic", r, "stack", string(debug.Stack()))
		c.close()
	}
}

// readLoop reads, validates and decodes frames and queues them for the
// serve loop, staying within the read-ahead limits.
func (c *conn) readLoop() {
	defer c.close()
	defer c.recoverBug("reader")

	br := bufio.NewReaderSize(c.nc, readBufferSize)
	var scratch [4]byte
	for {
		if !c.waitMuted() {
			return // closing
		}
		if err := c.awaitFrame(br); err != nil {
			c.readFailed(err)
			return
		}
		raw := c.info.rawSASL()
		size, err := c.readFrameSize(br, &scratch, raw)
		if err != nil {
			c.readFailed(err)
			return
		}
		if !c.budget.acquire(int(size)) {
			return // closing
		}
		frame, pooled, err := c.readFrame(br, int(size), raw)
		if err != nil {
			c.readFailed(fmt.Errorf("%d-byte frame: %w", size, err))
			return
		}
		now := time.Now()
		c.lastIO.Store(now.UnixNano())
		in := inbound{size: int(size)}
		req, err := rawSASLRequest(frame, c.info), error(nil)
		if !raw {
			req, err = decodeRequest(frame, c.srv.vt)
		}
		switch {
		case err == nil:
			req.Conn = c.info
			req.body = pooled
			req.received, req.observe = now, c.srv.cfg.Observe
			in.req = req
		case errors.Is(err, ErrUnsupportedVersion) && req.Key == apiVersionsKey:
			c.log.Debug("wire: ApiVersions at unsupported version; answering v0 UNSUPPORTED_VERSION (KIP-511)",
				"version", req.Version, "corr", req.CorrelationID)
			in.req = req
			in.resp = unsupportedAPIVersions(c.srv.apiKeys)
		default:
			c.log.Warn("wire: closing connection: unusable request",
				"key", req.Key, "version", req.Version, "corr", req.CorrelationID, "err", err)
			return
		}
		c.pending.Add(1)
		select {
		case c.in <- in:
		case <-c.ctx.Done():
			return
		}
	}
}

// readFrame reads a request body of n bytes: a large Produce into a pooled
// buffer (returned as pooled, for releaseBody), anything else as
// readRequestBody does.
func (c *conn) readFrame(br *bufio.Reader, n int, raw bool) (frame []byte, pooled *[]byte, err error) {
	if k, ok := pooledBodyKey(br, n); ok && k == produceKey && !raw {
		return readProduceBody(br, n)
	}
	frame, err = readRequestBody(br, n)
	return frame, nil, err
}

// errIdle ends a connection idle for longer than Config.ConnectionsMaxIdle.
var errIdle = errors.New("connection idle")

// awaitFrame waits for the first byte of the next request, returning errIdle
// once the connection has had no request in progress and no reads or writes
// for ConnectionsMaxIdle. The frame that follows must then arrive within
// ConnectionsMaxIdle too. A request in progress (a long-poll Fetch longer
// than the idle limit, a response being written) keeps the connection alive.
func (c *conn) awaitFrame(br *bufio.Reader) error {
	idle := c.srv.cfg.ConnectionsMaxIdle
	if idle < 0 {
		return nil
	}
	for {
		dl := time.Unix(0, c.lastIO.Load()).Add(idle)
		if !time.Now().Before(dl) {
			if c.pending.Load() == 0 {
				return errIdle
			}
			dl = time.Now().Add(idle)
		}
		if err := c.nc.SetReadDeadline(dl); err != nil {
			return err
		}
		_, err := br.Peek(1)
		if err == nil {
			return c.nc.SetReadDeadline(time.Now().Add(idle))
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
	}
}

// readFailed logs why the reader stopped: protocol violations loudly, a
// peer hanging up or our own shutdown quietly.
func (c *conn) readFailed(err error) {
	switch {
	case c.ctx.Err() != nil, errors.Is(err, net.ErrClosed):
		c.log.Debug("wire: connection closed", "err", err)
	case errors.Is(err, io.EOF):
		c.log.Debug("wire: client closed connection")
	case errors.Is(err, errIdle):
		c.log.Debug("wire: closing idle connection (connections.max.idle.ms)", "idle", c.srv.cfg.ConnectionsMaxIdle)
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.log.Info("wire: closing connection: request frame not received within connections.max.idle.ms")
	case errors.Is(err, ErrFrameTooSmall), errors.Is(err, ErrFrameTooLarge):
		c.log.Warn("wire: closing connection: bad frame size", "err", err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.log.Info("wire: connection closed mid-frame (truncated request)", "err", err)
	default:
		c.log.Info("wire: read failed; closing connection", "err", err)
	}
}

// serveLoop hands requests to the Handler one at a time, in order, and
// queues the responses for the writer.
func (c *conn) serveLoop() {
	defer c.close()
	for {
		if !c.waitMuted() {
			return // closing
		}
		var in inbound
		select {
		case in = <-c.in:
		case <-c.ctx.Done():
			return
		}
		if err := c.info.gate(in.req.Key, time.Now()); in.resp == nil && err != nil {
			in.req.DropSplices()
			c.log.Warn("wire: closing connection: "+err.Error(), "key", in.req.Key, "api", kmsg.NameForKey(in.req.Key),
				"principal", c.info.Principal().String())
			return
		}
		resp := in.resp
		if resp == nil {
			var err error
			resp, err = c.serve(in.req)
			if err != nil {
				in.req.DropSplices()
				c.serveFailed(in.req, err)
				return
			}
		}
		c.budget.release(in.size)
		if in.req.deferred == nil {
			releaseBody(in.req.body) // served and answered: nothing refers to it
		}
		if in.req.raw && rawFailed(resp) {
			c.log.Info("wire: closing connection: SASL authentication with raw tokens (SaslHandshake v0) failed")
			return
		}
		if in.req.deferred == nil {
			in.req.observed()
		}
		if resp == nil && in.req.deferred == nil {
			in.req.DropSplices()
			c.pending.Add(-1)
			continue // acks=0 Produce: nothing goes back
		}
		select {
		case c.out <- outbound{corr: in.req.CorrelationID, resp: resp, splices: in.req.splices, deferred: in.req.deferred, closeAfter: in.req.closeAfter, raw: in.req.raw, body: in.req.body}:
		case <-c.ctx.Done():
			in.req.DropSplices()
			return
		}
		if in.req.closeAfter {
			<-c.ctx.Done() // the writer closes the connection after this response
			return
		}
	}
}

// errHandlerPanic marks a recovered Handler panic, logged as a bug.
var errHandlerPanic = errors.New("handler panicked")

// serve calls the Handler, checks its response and sets the response
// version to the request's.
func (c *conn) serve(req *Request) (resp kmsg.Response, err error) {
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, fmt.Errorf("%w: %v\n%s", errHandlerPanic, r, debug.Stack())
		}
	}()
	resp, err = c.srv.cfg.Handler.ServeKafka(c.ctx, req)
	if err == nil && resp != nil && req.deferred != nil {
		return nil, fmt.Errorf("%w: %s handler both deferred and answered", ErrBadResponse, kmsg.NameForKey(req.Key))
	}
	if err != nil || resp == nil {
		return nil, err
	}
	if resp.Key() != req.Key {
		return nil, fmt.Errorf("%w: %s response to a %s request", ErrBadResponse, kmsg.NameForKey(resp.Key()), kmsg.NameForKey(req.Key))
	}
	resp.SetVersion(req.Version)
	return resp, nil
}

func (c *conn) serveFailed(req *Request, err error) {
	attrs := []any{"key", req.Key, "api", kmsg.NameForKey(req.Key), "version", req.Version, "corr", req.CorrelationID, "err", err}
	switch {
	case errors.Is(err, errHandlerPanic), errors.Is(err, ErrBadResponse):
		c.log.Error("wire: BUG: closing connection", attrs...)
	case c.ctx.Err() != nil:
		c.log.Debug("wire: handler stopped by connection close", attrs...)
	default:
		c.log.Info("wire: handler failed; closing connection", attrs...)
	}
}

// writeLoop encodes responses in order, coalescing whatever is already
// queued into one write. A response with spliced file ranges is written on
// its own, with sendfile for the ranges.
func (c *conn) writeLoop() {
	defer c.recoverBug("writer")
	defer c.dropQueued()
	var buf []byte
	var next *outbound
	for {
		var o outbound
		if next != nil {
			o, next = *next, nil
		} else {
			select {
			case o = <-c.out:
			case <-c.ctx.Done():
				return
			}
		}
		if o.deferred != nil {
			if !c.await(&o) {
				closeSplices(o.splices)
				c.close()
				return
			}
			releaseBody(o.body) // the deferred handler has finished with its request
		}
		buf = appendOut(buf[:0], &o)
		var err error
		written := 1
		if len(o.splices) > 0 {
			err = c.writeSpliced(buf, o.resp.IsFlexible(), o.splices)
		} else {
			var more int
			buf, next, more = c.drainInto(buf)
			written += more
			err = c.write(buf)
		}
		if err != nil {
			if next != nil {
				closeSplices(next.splices)
			}
			c.writeFailed(err)
			return
		}
		c.lastIO.Store(time.Now().UnixNano())
		c.pending.Add(-int32(written))
		if o.closeAfter {
			c.log.Debug("wire: closing connection after its response, as the handler asked")
			c.close()
			return
		}
		if cap(buf) > writeBufKeepMax {
			buf = nil
		}
	}
}

// writeFailed logs a failed response write and closes the connection.
func (c *conn) writeFailed(err error) {
	switch {
	case c.ctx.Err() != nil:
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.log.Info("wire: client not reading responses; closing connection", "write_timeout", c.srv.cfg.WriteTimeout)
	default:
		c.log.Info("wire: write failed; closing connection", "err", err)
	}
	c.close()
}

// armWrite sets the write deadline for writing n bytes: WriteTimeout for
// each started writeChunk, so a peer must take at least writeChunk bytes per
// WriteTimeout. A negative WriteTimeout clears it.
func (c *conn) armWrite(n int64) error {
	wt := c.srv.cfg.WriteTimeout
	if wt < 0 {
		return c.nc.SetWriteDeadline(time.Time{})
	}
	return c.nc.SetWriteDeadline(time.Now().Add(wt * time.Duration(1+n/writeChunk)))
}

// write writes b under the write deadline.
func (c *conn) write(b []byte) error {
	if err := c.armWrite(int64(len(b))); err != nil {
		return err
	}
	_, err := c.nc.Write(b)
	return err
}

// drainInto appends every response already queued, up to writeBatchMax, and
// says how many. It stops at a response with spliced ranges and returns it
// to be written next.
func (c *conn) drainInto(buf []byte) ([]byte, *outbound, int) {
	n := 0
	for len(buf) < writeBatchMax {
		select {
		case o := <-c.out:
			if len(o.splices) > 0 || o.deferred != nil || o.closeAfter {
				return buf, &o, n
			}
			buf = appendOut(buf, &o)
			n++
		default:
			return buf, nil, n
		}
	}
	return buf, nil, n
}

// dropQueued closes the files of responses that will never be written.
// The serve loop may still be handing one over, so it runs once the
// connection is closed and keeps draining without blocking.
func (c *conn) dropQueued() {
	c.close()
	for {
		select {
		case o := <-c.out:
			closeSplices(o.splices)
		default:
			return
		}
	}
}

// budget bounds the bytes of requests read ahead of the handler. A request
// always fits when nothing is pending, so frames larger than the limit are
// still served, one at a time.
type budget struct {
	mu     sync.Mutex
	cond   sync.Cond
	limit  int
	used   int
	closed bool
}

func (b *budget) init(limit int) {
	b.cond.L = &b.mu
	b.limit = limit
}

// acquire waits until n bytes fit; false means the connection is closing.
func (b *budget) acquire(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for !b.closed && b.used > 0 && b.used+n > b.limit {
		b.cond.Wait()
	}
	if b.closed {
		return false
	}
	b.used += n
	return true
}

func (b *budget) release(n int) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
	b.cond.Signal()
}

func (b *budget) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cond.Broadcast()
}
