package raftmeta

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Write forwarding, like Consul's RPC forwarding to the leader: every
// forwardable write runs on the controller, whichever node it is called on.
// On the controller the method runs locally. Elsewhere the call goes to the
// controller over the raft port (forward_wire.go); the controller runs the
// same local method (so planning — replica placement, topic ids — uses its
// fresh state) and answers with the result or error and its applied index;
// the caller then waits until its own state has applied that index. While no
// controller is known, or it changes or is unreachable mid-call, the call is
// retried with backoff until ctx ends.

const (
	// forwardMinBackoff and forwardMaxBackoff space retries while there is
	// no (reachable) controller.
	forwardMinBackoff = 5 * time.Millisecond
	forwardMaxBackoff = 250 * time.Millisecond
	// forwardMaxTimeout caps one forwarded request on the controller (and
	// is the budget of callers without a deadline).
	forwardMaxTimeout = 30 * time.Second
	// forwardIOSlack is how much longer than the request's budget the client
	// waits for the response before it gives up on the connection.
	forwardIOSlack = 5 * time.Second
	// forwardDialTimeout bounds connecting to the controller.
	forwardDialTimeout = 5 * time.Second
	// forwardMaxIdle is how many idle connections the client keeps; a
	// burst needing more dials more and closes the extras after use.
	forwardMaxIdle = 4
	// forwardIdleClose is how long the client keeps an idle connection;
	// it is well below forwardServerIdle so the server never closes a
	// connection the client is about to reuse.
	forwardIdleClose = 30 * time.Second
)

// forwardMethod is one forwardable write: its wire name and the local
// implementation that runs on the controller. The same value serves the
// caller (call) and the controller (serve), so both sides agree on the
// argument and result types.
type forwardMethod[A, R any] struct {
	name  string
	local func(n *Node, ctx context.Context, args A) (R, error)
}

// call runs the method on the controller: here if this node leads, otherwise
// by forwarding. See the package doc (Forwarding) for the contract.
func (m forwardMethod[A, R]) call(ctx context.Context, n *Node, args A) (R, error) {
	var zero R
	backoff := forwardMinBackoff
	for {
		if n.isClosed() {
			return zero, ErrClosed
		}
		var (
			res R
			err error
		)
		addr, sid := n.raft.LeaderWithID()
		switch {
		case sid == n.id:
			res, err = m.local(n, ctx, args)
		case sid == "" || addr == "":
			err = &NotControllerError{ControllerID: -1}
		default:
			var idx uint64
			res, idx, err = m.forward(ctx, n, string(addr), args)
			if err == nil || !retryForward(err) {
				if werr := n.waitApplied(ctx, idx); werr != nil && err == nil {
					return res, fmt.Errorf("raftmeta: %s was applied by the controller at index %d but not yet here: %w", m.name, idx, werr)
				}
				return res, err
			}
		}
		if !retryForward(err) {
			return res, err
		}
		if cerr := ctx.Err(); cerr != nil {
			return zero, fmt.Errorf("%w: %w", err, cerr)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return zero, fmt.Errorf("%w: %w", err, ctx.Err())
		case <-n.shutdownCh:
			t.Stop()
			return zero, ErrClosed
		case <-t.C:
		}
		backoff = min(2*backoff, forwardMaxBackoff)
	}
}

// retryForward reports whether a forwarded call may be retried: the
// controller said it no longer leads, or it could not be reached.
func retryForward(err error) bool {
	var ce *connError
	return errors.Is(err, ErrNotController) || errors.As(err, &ce)
}

// forward sends one request to the controller at addr and decodes the
// answer. It returns the controller's applied index with both results and
// errors the controller decided.
func (m forwardMethod[A, R]) forward(ctx context.Context, n *Node, addr string, args A) (R, uint64, error) {
	var res R
	raw, err := json.Marshal(args)
	if err != nil {
		return res, 0, fmt.Errorf("raftmeta: encode %s arguments: %w", m.name, err)
	}
	resp, err := n.fwd.roundTrip(ctx, addr, forwardRequest{Method: m.name, Args: raw})
	if err != nil {
		return res, 0, err
	}
	if err := decodeError(resp); err != nil {
		return res, resp.Index, err
	}
	if err := json.Unmarshal(resp.Result, &res); err != nil {
		return res, 0, fmt.Errorf("raftmeta: decode %s result from %s: %w", m.name, addr, err)
	}
	return res, resp.Index, nil
}

// waitApplied blocks until this node's state has applied index, ctx ends or
// the node closes.
func (n *Node) waitApplied(ctx context.Context, index uint64) error {
	for {
		changed := n.Changed()
		if n.State().Index >= index {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-n.shutdownCh:
			return ErrClosed
		}
	}
}

// connError is a failure to exchange a request with the controller. The
// request may or may not have been executed; the call retries it. It matches
// ErrNoController: for the caller, an unreachable controller is no
// controller.
type connError struct {
	addr string
	err  error
}

func (e *connError) Error() string {
	return fmt.Sprintf("raftmeta: cannot reach the controller at %s: %v", e.addr, e.err)
}

func (e *connError) Unwrap() []error { return []error{ErrNoController, e.err} }

// forwarder is the client side: a small pool of connections to the current
// controller. Connections are used by one call at a time; Close closes all,
// idle and busy, which interrupts calls in flight.
type forwarder struct {
	mu     sync.Mutex
	addr   string            // guarded by mu; the controller the idle connections lead to
	idle   []*fwdConn        // guarded by mu; most recently used last
	busy   map[*fwdConn]bool // guarded by mu
	closed bool              // guarded by mu
	dial   dialFunc
}

type fwdConn struct {
	c      net.Conn
	r      *bufio.Reader
	addr   string
	idleAt time.Time
	fresh  bool // nothing sent yet: the connection byte goes first
}

func newForwarder(dial dialFunc) *forwarder {
	return &forwarder{busy: map[*fwdConn]bool{}, dial: orNetDialer(dial)}
}

// get returns a connection to addr: an idle one or a new one.
func (f *forwarder) get(ctx context.Context, addr string) (*fwdConn, error) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, ErrClosed
	}
	if addr != f.addr {
		for _, c := range f.idle {
			c.c.Close()
		}
		f.idle, f.addr = nil, addr
	}
	for len(f.idle) > 0 {
		c := f.idle[len(f.idle)-1]
		f.idle = f.idle[:len(f.idle)-1]
		if time.Since(c.idleAt) > forwardIdleClose {
			c.c.Close()
			continue
		}
		f.busy[c] = true
		f.mu.Unlock()
		return c, nil
	}
	f.mu.Unlock()

	dctx, cancel := context.WithTimeout(ctx, forwardDialTimeout)
	nc, err := f.dial(dctx, "tcp", addr)
	cancel()
	if err != nil {
		return nil, err
	}
	c := &fwdConn{c: nc, r: bufio.NewReader(nc), addr: addr, fresh: true}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		nc.Close()
		return nil, ErrClosed
	}
	f.busy[c] = true
	return c, nil
}

// put returns c after a call: to the idle pool if the call went well and c
// still leads to the controller, else closed.
func (f *forwarder) put(c *fwdConn, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.busy, c)
	if !ok || f.closed || c.addr != f.addr || len(f.idle) >= forwardMaxIdle {
		c.c.Close()
		return
	}
	c.idleAt = time.Now()
	f.idle = append(f.idle, c)
}

// close closes every connection; later calls fail with ErrClosed.
func (f *forwarder) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for _, c := range f.idle {
		c.c.Close()
	}
	for c := range f.busy {
		c.c.Close()
	}
	f.idle, f.busy = nil, map[*fwdConn]bool{}
}

// roundTrip sends req to addr and reads the response. Transport failures
// come back as *connError, ctx ending as ctx's error (wrapped).
func (f *forwarder) roundTrip(ctx context.Context, addr string, req forwardRequest) (*forwardResponse, error) {
	budget := forwardMaxTimeout
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(dl))
	}
	if budget <= 0 {
		return nil, context.DeadlineExceeded
	}
	req.TimeoutMS = max(budget.Milliseconds(), 1)
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("raftmeta: encode forward request: %w", err)
	}

	c, err := f.get(ctx, addr)
	if err != nil {
		if errors.Is(err, ErrClosed) {
			return nil, err
		}
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("raftmeta: forward %s: %w", req.Method, cerr)
		}
		return nil, &connError{addr: addr, err: err}
	}
	ok := false
	defer func() { f.put(c, ok) }()

	// ctx ending interrupts the exchange through the connection deadline;
	// the connection is then dropped, the response being unread.
	_ = c.c.SetDeadline(time.Now().Add(budget + forwardIOSlack))
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(interrupted)
		_ = c.c.SetDeadline(time.Unix(1, 0))
	})
	defer func() {
		if !stop() {
			<-interrupted
		}
	}()

	var out []byte
	if c.fresh {
		out = append(out, forwardConnByte)
	}
	if out, err = appendFrame(out, body); err != nil {
		return nil, err
	}
	resp, err := func() (*forwardResponse, error) {
		if _, err := c.c.Write(out); err != nil {
			return nil, err
		}
		c.fresh = false
		frame, err := readFrame(c.r)
		if err != nil {
			return nil, err
		}
		var resp forwardResponse
		if err := json.Unmarshal(frame, &resp); err != nil {
			return nil, fmt.Errorf("%w: %v", errBadFrame, err)
		}
		return &resp, nil
	}()
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("raftmeta: forward %s: %w", req.Method, cerr)
		}
		return nil, &connError{addr: addr, err: err}
	}
	ok = true
	return resp, nil
}
