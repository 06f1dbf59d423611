package raftmeta

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// forwardConnByte is the first byte a forward-RPC client sends on a new
// connection to the raft port (see forward.go). raft's NetworkTransport
// starts every message, and so every connection, with its rpc type: 0..4 in
// raft v1.7 (append entries, request vote, install snapshot, timeout now,
// pre-vote), a small iota that only ever grows by one. 0xF5 is far from it,
// so a raft connection is never mistaken for a forward one.
const forwardConnByte = 0xF5

// sniffTimeout bounds how long an accepted connection may stay silent before
// its first byte tells raft and forward connections apart. Raft writes the
// request right after dialing, so only a broken or hostile peer hits it.
const sniffTimeout = transportTimeout

// tcpStream is raft's StreamLayer over plain TCP, shared with the forward
// RPCs of followers (forward.go). Unlike raft's own TCPStreamLayer it accepts
// a host name as advertise address (Kubernetes service names), fills in the
// bound port when port 0 was asked for, and closes every connection it
// accepted or dialed when closed: raft's NetworkTransport only closes the
// listener, which leaves the goroutines serving inbound connections (and
// pooled outbound ones) running after Shutdown.
//
// Multiplexing: an accept loop owned by the stream takes every inbound
// connection and hands it to a goroutine that reads the first byte (bounded
// by sniffTimeout, so a silent peer cannot stall raft's Accept). A
// connection starting with forwardConnByte goes to the forward handler, in
// that same goroutine; any other is given to raft's Accept with the
// byte put back in front. Close stops the loop, closes every connection and
// waits for all these goroutines.
type tcpStream struct {
	ln        net.Listener
	advertise net.Addr
	dial      dialFunc      // outbound connections (Config.Dial, authenticated: auth.go)
	keys      [][]byte      // Config.ClusterKeys: inbound connections must prove one (auth.go)
	tls       *tls.Config   // Config.TLS: inbound connections handshake TLS first (tls.go)
	raftCh    chan net.Conn // sniffed raft connections, for Accept
	done      chan struct{} // closed by Close
	wg        sync.WaitGroup

	mu      sync.Mutex
	conns   map[*trackedConn]struct{} // guarded by mu
	closed  bool                      // guarded by mu
	forward func(net.Conn)            // guarded by mu; nil: forward connections are refused
}

var _ raft.StreamLayer = (*tcpStream)(nil)

// advertiseAddr is a net.Addr that is just a host:port string, unresolved.
type advertiseAddr string

func (a advertiseAddr) Network() string { return "tcp" }
func (a advertiseAddr) String() string  { return string(a) }

// dialFunc opens an outbound connection (Config.Dial).
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// orNetDialer returns d, or a plain net.Dialer's DialContext when d is nil.
func orNetDialer(d dialFunc) dialFunc {
	if d != nil {
		return d
	}
	var nd net.Dialer
	return nd.DialContext
}

// listenRaft binds bind, works out the address peers should dial and starts
// accepting. Outbound connections go through dial (nil: net.Dialer).
func listenRaft(bind, advertise string, dial dialFunc, keys [][]byte, tlsConf *tls.Config) (*tcpStream, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("raftmeta: listen on %q: %w", bind, err)
	}
	bound := ln.Addr().(*net.TCPAddr)
	var adv string
	if advertise == "" {
		if bound.IP.IsUnspecified() {
			ln.Close()
			return nil, fmt.Errorf("%w: RaftBind %q is a wildcard address; set RaftAdvertise", ErrInvalidConfig, bind)
		}
		adv = bound.String()
	} else {
		host, port, err := net.SplitHostPort(advertise)
		if err != nil || host == "" {
			ln.Close()
			return nil, fmt.Errorf("%w: RaftAdvertise %q: want host:port", ErrInvalidConfig, advertise)
		}
		if port == "" || port == "0" {
			port = strconv.Itoa(bound.Port)
		}
		adv = net.JoinHostPort(host, port)
	}
	s := &tcpStream{
		ln:        ln,
		advertise: advertiseAddr(adv),
		dial:      orNetDialer(dial),
		keys:      keys,
		tls:       tlsConf,
		raftCh:    make(chan net.Conn),
		done:      make(chan struct{}),
		conns:     map[*trackedConn]struct{}{},
	}
	s.wg.Go(s.acceptLoop)
	return s, nil
}

// setForwardHandler installs the handler for forward connections; until then
// they are closed at once (the client retries). h runs on a goroutine the
// stream owns and must return once the connection is closed.
func (s *tcpStream) setForwardHandler(h func(net.Conn)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forward = h
}

func (s *tcpStream) Addr() net.Addr { return s.advertise }

// Accept returns the next raft connection.
func (s *tcpStream) Accept() (net.Conn, error) {
	select {
	case c := <-s.raftCh:
		return c, nil
	case <-s.done:
		return nil, net.ErrClosed
	}
}

// acceptLoop accepts until the listener is closed. Temporary errors (out of
// file descriptors) are retried after a pause that Close interrupts.
func (s *tcpStream) acceptLoop() {
	var delay time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			t := time.NewTimer(delay)
			select {
			case <-s.done:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		delay = 0
		tc, err := s.track(c)
		if err != nil {
			return // closed
		}
		s.wg.Go(func() { s.sniff(tc) })
	}
}

// sniff secures an inbound connection (TLS when configured, then the
// cluster-key handshake when the cluster has keys: auth.go), then reads its
// first byte and dispatches it.
func (s *tcpStream) sniff(tc *trackedConn) {
	c, err := serverTLS(tc, s.tls, time.Now().Add(sniffTimeout))
	if err != nil {
		tc.Close()
		return
	}
	if len(s.keys) > 0 {
		if err := serverAuth(c, s.keys, time.Now().Add(sniffTimeout)); err != nil {
			c.Close()
			return
		}
	}
	var first [1]byte
	_ = c.SetReadDeadline(time.Now().Add(sniffTimeout))
	if _, err := io.ReadFull(c, first[:]); err != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	if first[0] == forwardConnByte {
		s.mu.Lock()
		h := s.forward
		s.mu.Unlock()
		if h == nil {
			c.Close()
			return
		}
		h(c)
		return
	}
	pc := &prefixConn{Conn: c, first: first[0]}
	select {
	case s.raftCh <- pc:
	case <-s.done:
		c.Close()
	}
}

func (s *tcpStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := s.dial(ctx, "tcp", string(addr))
	if err != nil {
		return nil, err
	}
	return s.track(c)
}

// Close stops accepting, closes all live connections and waits for the
// stream's goroutines (including forward handlers, which end when their
// connection is closed).
func (s *tcpStream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	conns := s.conns
	s.conns = map[*trackedConn]struct{}{}
	s.mu.Unlock()
	err := s.ln.Close()
	for c := range conns {
		c.Conn.Close()
	}
	s.wg.Wait()
	return err
}

func (s *tcpStream) track(c net.Conn) (*trackedConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, s: s}
	s.conns[tc] = struct{}{}
	return tc, nil
}

// trackedConn removes itself from its stream when closed. Reads from a
// connection the stream closed report io.EOF, which raft treats as the peer
// going away instead of logging an error for every connection at shutdown.
type trackedConn struct {
	net.Conn
	s *tcpStream
}

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && errors.Is(err, net.ErrClosed) {
		err = io.EOF
	}
	return n, err
}

func (c *trackedConn) Close() error {
	c.s.mu.Lock()
	delete(c.s.conns, c)
	c.s.mu.Unlock()
	return c.Conn.Close()
}

// prefixConn is an accepted raft connection whose first byte was consumed by
// sniff; the first Read returns it. Only raft's connection goroutine reads.
type prefixConn struct {
	net.Conn // a *trackedConn, or TLS over one
	first    byte
	sent     bool
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if !c.sent && len(p) > 0 {
		p[0], c.sent = c.first, true
		return 1, nil
	}
	return c.Conn.Read(p)
}
