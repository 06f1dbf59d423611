package raftmeta

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Cluster authentication of the Raft port (Config.ClusterKeys).
//
// Every connection to the Raft port, Raft RPCs and forwarded writes alike,
// starts with a mutual challenge-response over a key the brokers share, so
// that a stranger who reaches the port can neither vote, nor append, nor
// send a command, and a broker never talks to a stranger posing as a peer:
//
//	dialer   → acceptor: authMagic, client nonce (32 bytes)
//	acceptor → dialer:   server nonce (32), HMAC-SHA256(key, "strom-raft-server" ‖ cn ‖ sn)
//	dialer   → acceptor: HMAC-SHA256(key, "strom-raft-client" ‖ cn ‖ sn)
//
// Each side MACs with its first key and accepts a MAC made with any of its
// keys, so keys rotate with rolling restarts as gossip keys do. Fresh nonces
// on both sides defeat replay. It authenticates the peer; it does not
// encrypt or protect the traffic that follows from someone on the network
// path (that is TLS's job).

// authMagic opens the handshake; it is not a Raft rpc type nor
// forwardConnByte, so a peer without a key is told apart at once.
var authMagic = [4]byte{0xA7, 's', 'r', '1'}

const authNonceSize = 32

// errAuth is a failed handshake: wrong key, or not a Strom broker.
var errAuth = errors.New("raftmeta: cluster authentication failed")

func authMAC(key []byte, role string, cn, sn []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(role))
	m.Write(cn)
	m.Write(sn)
	return m.Sum(nil)
}

// anyKeyMAC reports whether mac is authMAC under one of keys.
func anyKeyMAC(keys [][]byte, role string, cn, sn, mac []byte) bool {
	for _, k := range keys {
		if hmac.Equal(mac, authMAC(k, role, cn, sn)) {
			return true
		}
	}
	return false
}

// serverAuth runs the acceptor's side on c within deadline.
func serverAuth(c net.Conn, keys [][]byte, deadline time.Time) error {
	_ = c.SetDeadline(deadline)
	defer c.SetDeadline(time.Time{})
	var hello [len(authMagic) + authNonceSize]byte
	if _, err := io.ReadFull(c, hello[:]); err != nil {
		return fmt.Errorf("%w: reading hello: %v", errAuth, err)
	}
	if [4]byte(hello[:4]) != authMagic {
		return fmt.Errorf("%w: the peer did not start the handshake (a broker without cluster keys?)", errAuth)
	}
	cn := hello[4:]
	sn := make([]byte, authNonceSize)
	if _, err := rand.Read(sn); err != nil {
		return err
	}
	if _, err := c.Write(append(sn, authMAC(keys[0], "strom-raft-server", cn, sn)...)); err != nil {
		return fmt.Errorf("%w: %v", errAuth, err)
	}
	mac := make([]byte, sha256.Size)
	if _, err := io.ReadFull(c, mac); err != nil {
		return fmt.Errorf("%w: reading the peer's proof: %v", errAuth, err)
	}
	if !anyKeyMAC(keys, "strom-raft-client", cn, sn, mac) {
		return fmt.Errorf("%w: the peer does not hold a cluster key", errAuth)
	}
	return nil
}

// clientAuth runs the dialer's side on c within deadline.
func clientAuth(c net.Conn, keys [][]byte, deadline time.Time) error {
	_ = c.SetDeadline(deadline)
	defer c.SetDeadline(time.Time{})
	cn := make([]byte, authNonceSize)
	if _, err := rand.Read(cn); err != nil {
		return err
	}
	if _, err := c.Write(append(authMagic[:], cn...)); err != nil {
		return fmt.Errorf("%w: %v", errAuth, err)
	}
	var reply [authNonceSize + sha256.Size]byte
	if _, err := io.ReadFull(c, reply[:]); err != nil {
		return fmt.Errorf("%w: reading the peer's answer (a broker with other keys closes the connection): %v", errAuth, err)
	}
	sn, mac := reply[:authNonceSize], reply[authNonceSize:]
	if !anyKeyMAC(keys, "strom-raft-server", cn, sn, mac) {
		return fmt.Errorf("%w: the peer does not hold a cluster key", errAuth)
	}
	if _, err := c.Write(authMAC(keys[0], "strom-raft-client", cn, sn)); err != nil {
		return fmt.Errorf("%w: %v", errAuth, err)
	}
	return nil
}

// authDialer wraps dial so that every connection it opens has passed
// clientAuth with keys (none: dial itself).
func authDialer(dial dialFunc, keys [][]byte) dialFunc {
	if len(keys) == 0 {
		return dial
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		deadline, ok := ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(transportTimeout)
		}
		if err := clientAuth(c, keys, deadline); err != nil {
			c.Close()
			return nil, fmt.Errorf("%s: %w", addr, err)
		}
		return c, nil
	}
}
