package raftmeta

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"
)

// TLS on the Raft port (Config.TLS, Config.TLSClient). The acceptor
// handshakes on the connection's own sniff goroutine, bounded like the rest
// of sniffing, so a silent or garbage-sending peer costs one goroutine for
// at most sniffTimeout and never stalls the accept loop. The cluster-key
// handshake, when configured, runs inside TLS: TLS keeps the metadata
// (SCRAM verifiers and ACLs among it) from the network path, the keys keep
// out a holder of some other certificate the truststore happens to accept.

// serverTLS runs the acceptor's TLS handshake on c within deadline and
// returns the connection to use from then on (c itself without TLS).
func serverTLS(c net.Conn, conf *tls.Config, deadline time.Time) (net.Conn, error) {
	if conf == nil {
		return c, nil
	}
	tc := tls.Server(c, conf)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("raftmeta: TLS handshake with %s: %w", c.RemoteAddr(), err)
	}
	return tc, nil
}

// tlsDialer wraps dial so that every connection it opens has completed a
// TLS handshake with conf() (nil conf: dial itself). The peer's certificate
// is checked against the host dialled unless conf names a server.
func tlsDialer(dial dialFunc, conf func() *tls.Config) dialFunc {
	if conf == nil {
		return dial
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cfg := conf()
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			if host, _, err := net.SplitHostPort(addr); err == nil {
				cfg.ServerName = host
			}
		}
		tc := tls.Client(c, cfg)
		hctx, cancel := ctx, context.CancelFunc(func() {})
		if _, ok := ctx.Deadline(); !ok {
			hctx, cancel = context.WithTimeout(ctx, transportTimeout)
		}
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("raftmeta: TLS handshake with %s: %w", addr, err)
		}
		return tc, nil
	}
}
