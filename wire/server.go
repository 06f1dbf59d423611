package wire

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Server accepts Kafka connections on any number of listeners and runs the
// per-connection loop for each (see the package doc).
//
// Lock order: Server.mu, then a connection's budget.mu (Close tears
// connections down under Server.mu). Neither is held while calling the
// Handler or blocking on the network; closing a socket is the only I/O done
// under Server.mu.
type Server struct {
	cfg     Config
	log     *slog.Logger
	vt      versionTable
	apiKeys []kmsg.ApiVersionsResponseApiKey // our table, for KIP-511 answers

	ctx    context.Context // cancelled by Close; parent of every connection's ctx
	cancel context.CancelFunc
	nextID atomic.Uint64

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	perIP     map[string]int // open connections per remote IP, for MaxConnectionsPerIP
	refused   uint64         // connections closed over a limit, for rate-limited logging
	// held are connections refused by AcceptQuota, each closed by its
	// timer when its throttle ends (or by Close).
	held map[net.Conn]*time.Timer
	// tlsFailures counts failed TLS handshakes, for rate-limited logging.
	tlsFailures atomic.Uint64
	wg          sync.WaitGroup // Serve calls and connections; Add only under mu while !closed
}

// NewServer returns a server; call Serve with a listener. Zero Config fields
// take their defaults; Serve reports a Config that fails Validate.
func NewServer(cfg Config) *Server {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		vt:        versionTable(cfg.Versions),
		apiKeys:   versionTable(cfg.Versions).apiKeys(),
		ctx:       ctx,
		cancel:    cancel,
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		perIP:     make(map[string]int),
	}
}

// Serve accepts connections on ln until Close and returns nil after Close.
// It may be called for several listeners at once, and closes ln when it
// returns. Serve on an already closed Server closes ln and returns nil at
// once, so `go srv.Serve(ln)` racing a Close is harmless. An invalid Config
// returns an error wrapping ErrInvalidConfig.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.cfg.Validate(); err != nil {
		ln.Close()
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.listeners[ln] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			// Resource exhaustion (EMFILE and friends) is temporary:
			// back off, but never past shutdown.
			if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("wire: accept failed; retrying", "listener", ln.Addr().String(), "backoff", backoff, "err", err)
				t := time.NewTimer(backoff)
				select {
				case <-t.C:
				case <-s.ctx.Done():
					t.Stop()
					return nil
				}
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return nil // listener closed under us by its owner
			}
			return err
		}
		backoff = 0
		if !s.admit(nc) {
			continue
		}
		s.startConn(nc)
	}
}

// maxHeld bounds the refused connections held open until their throttle
// ends; beyond it they are closed at once.
const maxHeld = 1024

// admit applies Config.AcceptQuota to a new connection: it waits out a
// rate delay (false if the Server closed meanwhile, nc closed), and holds
// a connection over its IP's rate until its throttle ends, then closes it
// (false).
func (s *Server) admit(nc net.Conn) bool {
	q := s.cfg.AcceptQuota
	if q == nil {
		return true
	}
	delay, refuse := q.Accept(remoteIP(nc.RemoteAddr()))
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			nc.Close()
			return false
		}
	}
	if refuse <= 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		nc.Close()
		return false
	}
	s.refused++
	if n := s.refused; n&(n-1) == 0 {
		s.log.Warn("wire: connection refused: connection_creation_rate quota of its IP", "remote", nc.RemoteAddr().String(), "close_in", refuse, "refused_total", n)
	}
	if len(s.held) >= maxHeld {
		nc.Close() // a flood: do not hold more descriptors
		return false
	}
	if s.held == nil {
		s.held = map[net.Conn]*time.Timer{}
	}
	s.held[nc] = time.AfterFunc(refuse, func() {
		s.mu.Lock()
		delete(s.held, nc)
		s.mu.Unlock()
		nc.Close()
	})
	return false
}

// startConn registers nc and starts its goroutines, or closes it when the
// Server is closing or nc is over MaxConnections or MaxConnectionsPerIP.
// Over-limit connections are closed as soon as they are accepted, so a flood
// of them costs the broker a descriptor for an instant, never a goroutine.
func (s *Server) startConn(nc net.Conn) {
	ip := remoteIP(nc.RemoteAddr())
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if reason := s.overLimit(ip); reason != "" {
		s.refused++
		n := s.refused
		s.mu.Unlock()
		nc.Close()
		if n&(n-1) == 0 { // 1st, 2nd, 4th, 8th...: a flood logs a handful of lines
			s.log.Warn("wire: connection refused: "+reason, "remote", nc.RemoteAddr().String(), "refused_total", n)
		}
		return
	}
	info := &ConnInfo{
		ID:         s.nextID.Add(1),
		LocalAddr:  nc.LocalAddr(),
		RemoteAddr: nc.RemoteAddr(),
		Listener:   s.cfg.ListenerName,

		SecurityProtocol: s.cfg.SecurityProtocol,
	}
	c := newConn(s, nc, info)
	s.conns[c] = struct{}{}
	s.perIP[ip]++
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c.run()
		s.mu.Lock()
		delete(s.conns, c)
		if s.perIP[ip]--; s.perIP[ip] <= 0 {
			delete(s.perIP, ip)
		}
		s.mu.Unlock()
	}()
}

// overLimit names the connection limit a new connection from ip would
// exceed, or returns "". Called with s.mu held.
func (s *Server) overLimit(ip string) string {
	if m := s.cfg.MaxConnections; m > 0 && len(s.conns) >= m {
		return "max.connections reached"
	}
	if m := s.cfg.MaxConnectionsPerIP; m > 0 && s.perIP[ip] >= m {
		return "max.connections.per.ip reached"
	}
	return ""
}

// remoteIP is the IP part of a remote address, the key of the per-IP count.
func remoteIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

// NumConns returns how many connections are open right now.
func (s *Server) NumConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Close stops accepting, cancels in-flight handlers, closes every
// connection and waits for every Serve call and connection goroutine to
// return. Handlers that ignore their ctx make Close wait for them. Calling
// Close more than once is safe.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.cancel()
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.close()
	}
	for nc, t := range s.held {
		t.Stop()
		nc.Close()
	}
	clear(s.held)
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}
