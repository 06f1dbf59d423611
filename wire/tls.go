package wire

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
)

// errNoPrincipal is a client certificate that Config.PrincipalFromCert
// could not map to a principal.
var errNoPrincipal = errors.New("wire: client certificate maps to no principal")

// handshake runs the TLS handshake of a TLS connection, bounded by
// Config.TLSHandshakeTimeout and by the connection's ctx (Server.Close), and
// sets the principal from the client's certificate. It reports false when the
// connection must be closed; a plaintext connection passes at once. It runs
// on the connection's goroutine, before the reader starts, so the principal
// is in place before the first request is read.
func (c *conn) handshake() bool {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return true
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.srv.cfg.TLSHandshakeTimeout)
	defer cancel()
	err := tc.HandshakeContext(ctx)
	if err == nil {
		err = c.setCertPrincipal(tc.ConnectionState())
	}
	if err != nil {
		if ctx.Err() != nil && c.ctx.Err() == nil {
			err = fmt.Errorf("no TLS handshake within %v: %w", c.srv.cfg.TLSHandshakeTimeout, err)
		}
		c.srv.handshakeFailed(c, err)
		return false
	}
	return true
}

// setCertPrincipal maps a verified client certificate, if the client
// presented one, to the connection's principal.
func (c *conn) setCertPrincipal(st tls.ConnectionState) error {
	mapFn := c.srv.cfg.PrincipalFromCert
	if mapFn == nil || len(st.PeerCertificates) == 0 {
		return nil
	}
	p, err := mapFn(st.PeerCertificates[0])
	if err != nil {
		return fmt.Errorf("%w: %s: %v", errNoPrincipal, st.PeerCertificates[0].Subject, err)
	}
	c.info.SetPrincipal(p)
	return nil
}

// handshakeFailed logs a failed TLS handshake: the 1st, 2nd, 4th, 8th...
// at Warn, so a scanner or a flood of bad clients logs a handful of lines,
// and every one at Debug.
func (s *Server) handshakeFailed(c *conn, err error) {
	if s.ctx.Err() != nil {
		return // shutting down
	}
	n := s.tlsFailures.Add(1)
	level := slog.LevelDebug
	if n&(n-1) == 0 {
		level = slog.LevelWarn
	}
	c.log.Log(s.ctx, level, "wire: TLS handshake failed; closing connection", "err", err, "tls_failures_total", n)
}

// TLSDial returns a DialFunc that opens a connection over dial (nil: a plain
// net.Dialer) and runs a TLS client handshake on it, bounded by ctx. config
// is called for every connection, so reloaded client certificates and trust
// anchors reach new connections; when its ServerName is empty the host of
// addr is verified (the name or IP the peer advertises). The returned
// connection is ready for Kafka requests, or for a SASL exchange layered on
// top by another DialFunc wrapping this one (SASL_SSL).
func TLSDial(dial DialFunc, config func() *tls.Config) DialFunc {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cfg := config()
		if cfg == nil {
			nc.Close()
			return nil, fmt.Errorf("%w: no TLS client configuration", ErrInvalidConfig)
		}
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				host = addr
			}
			cfg.ServerName = host
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("wire: TLS handshake with %s: %w", addr, err)
		}
		return tc, nil
	}
}
