package netfault

import (
	"net"
	"os"
	"sync"
	"time"
)

// connState is where a wrapped connection stands; it only moves forward.
type connState int

const (
	stateOpen    connState = iota
	stateStalled           // black-holed: I/O blocks until deadline or Close
	stateReset             // refused or healed after stalling: I/O fails with ErrReset
	stateClosed            // closed by its owner
)

// past is a deadline that has gone by: setting it interrupts I/O in flight.
var past = time.Unix(1, 0)

// conn is a connection from one node to another that a cut can stall or
// reset. Read and Write may be called concurrently (one reader, one writer,
// as with net.Conn).
type conn struct {
	net.Conn
	n        *Network
	from, to int32

	mu    sync.Mutex
	state connState     // guarded by mu
	rdl   time.Time     // guarded by mu; the owner's read deadline
	wdl   time.Time     // guarded by mu; the owner's write deadline
	wake  chan struct{} // guarded by mu; closed and replaced when state or a deadline changes
}

func newConn(nc net.Conn, n *Network, from, to int32) *conn {
	return &conn{Conn: nc, n: n, from: from, to: to, wake: make(chan struct{})}
}

// setState moves to s and wakes stalled callers. Called with mu held.
func (c *conn) setState(s connState) {
	c.state = s
	c.notify()
}

// notify wakes callers blocked in wait. Called with mu held.
func (c *conn) notify() {
	close(c.wake)
	c.wake = make(chan struct{})
}

// cut applies a cut link. Called with Network.mu held.
func (c *conn) cut(m Mode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.state == stateClosed || c.state == stateReset:
	case m == Refuse:
		c.setState(stateReset)
		c.Conn.Close()
	case c.state == stateOpen:
		c.setState(stateStalled)
		_ = c.Conn.SetDeadline(past) // interrupt Read and Write in flight
	}
}

// heal resets a stalled connection. Called with Network.mu held.
func (c *conn) heal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateStalled {
		c.setState(stateReset)
		c.Conn.Close()
	}
}

// wait returns nil while the connection is open. A stalled one blocks until
// the owner's deadline for this direction (os.ErrDeadlineExceeded), Close
// (net.ErrClosed) or Heal (ErrReset).
func (c *conn) wait(read bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		switch c.state {
		case stateOpen:
			return nil
		case stateReset:
			return ErrReset
		case stateClosed:
			return net.ErrClosed
		}
		dl := c.wdl
		if read {
			dl = c.rdl
		}
		var t *time.Timer
		var expire <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return os.ErrDeadlineExceeded
			}
			t = time.NewTimer(d)
			expire = t.C
		}
		wake := c.wake
		c.mu.Unlock()
		select {
		case <-wake:
		case <-expire:
		}
		if t != nil {
			t.Stop()
		}
		c.mu.Lock()
	}
}

// verdict is nil while the connection is open, else the cut's error for
// this direction (after blocking, if the connection is stalled).
func (c *conn) verdict(read bool) error {
	err := c.wait(read)
	if err == nil {
		return nil
	}
	op := "write"
	if read {
		op = "read"
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

func (c *conn) Read(p []byte) (int, error) {
	if err := c.verdict(true); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	// Bytes that arrive after a cut are lost with the link, so a cut seen
	// now wins even over a successful read.
	if cerr := c.verdict(true); cerr != nil {
		return 0, cerr
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	if err := c.verdict(false); err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(p)
	if err != nil {
		if cerr := c.verdict(false); cerr != nil { // a cut interrupted the write
			err = cerr
		}
	}
	return n, err
}

func (c *conn) Close() error {
	c.mu.Lock()
	was := c.state
	if was != stateClosed {
		c.setState(stateClosed)
	}
	c.mu.Unlock()
	c.n.untrack(c)
	if was == stateClosed {
		return net.ErrClosed
	}
	err := c.Conn.Close()
	if was == stateReset {
		err = nil // the cut closed it already
	}
	return err
}

func (c *conn) SetDeadline(t time.Time) error {
	return c.setDeadline(t, true, true)
}

func (c *conn) SetReadDeadline(t time.Time) error {
	return c.setDeadline(t, true, false)
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	return c.setDeadline(t, false, true)
}

// setDeadline records the owner's deadline, passes it on while the
// connection is open (a stalled one keeps its past deadline) and wakes
// stalled callers to re-check it.
func (c *conn) setDeadline(t time.Time, read, write bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if read {
		c.rdl = t
	}
	if write {
		c.wdl = t
	}
	c.notify()
	if c.state != stateOpen {
		return nil
	}
	switch {
	case read && write:
		return c.Conn.SetDeadline(t)
	case read:
		return c.Conn.SetReadDeadline(t)
	}
	return c.Conn.SetWriteDeadline(t)
}
