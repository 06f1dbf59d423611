package raftmeta

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// tcpStream is raft's StreamLayer over plain TCP. Unlike raft's own
// TCPStreamLayer it accepts a host name as advertise address (Kubernetes
// service names), fills in the bound port when port 0 was asked for, and
// closes every connection it accepted or dialed when closed: raft's
// NetworkTransport only closes the listener, which leaves the goroutines
// serving inbound connections (and pooled outbound ones) running after
// Shutdown.
type tcpStream struct {
	ln        net.Listener
	advertise net.Addr

	mu     sync.Mutex
	conns  map[*trackedConn]struct{} // guarded by mu
	closed bool                      // guarded by mu
}

var _ raft.StreamLayer = (*tcpStream)(nil)

// advertiseAddr is a net.Addr that is just a host:port string, unresolved.
type advertiseAddr string

func (a advertiseAddr) Network() string { return "tcp" }
func (a advertiseAddr) String() string  { return string(a) }

// listenRaft binds bind and works out the address peers should dial.
func listenRaft(bind, advertise string) (*tcpStream, error) {
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
	return &tcpStream{ln: ln, advertise: advertiseAddr(adv), conns: map[*trackedConn]struct{}{}}, nil
}

func (s *tcpStream) Addr() net.Addr { return s.advertise }

func (s *tcpStream) Accept() (net.Conn, error) {
	c, err := s.ln.Accept()
	if err != nil {
		return nil, err
	}
	return s.track(c)
}

func (s *tcpStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	if err != nil {
		return nil, err
	}
	return s.track(c)
}

// Close stops accepting and closes all live connections.
func (s *tcpStream) Close() error {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = map[*trackedConn]struct{}{}
	s.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
	return s.ln.Close()
}

func (s *tcpStream) track(c net.Conn) (net.Conn, error) {
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
