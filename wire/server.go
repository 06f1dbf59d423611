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
	wg        sync.WaitGroup // Serve calls and connections; Add only under mu while !closed
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
		s.startConn(nc)
	}
}

// startConn registers nc and starts its goroutines, or closes it when the
// Server is closing.
func (s *Server) startConn(nc net.Conn) {
	info := &ConnInfo{
		ID:         s.nextID.Add(1),
		LocalAddr:  nc.LocalAddr(),
		RemoteAddr: nc.RemoteAddr(),
		Listener:   s.cfg.ListenerName,
	}
	c := newConn(s, nc, info)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.cancel()
		nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c.run()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
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
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}
