package wire

import (
	"encoding/binary"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// SASL gate. On a SASL_PLAINTEXT or SASL_SSL listener Kafka serves only
// ApiVersions, SaslHandshake and SaslAuthenticate until the SASL exchange
// completes, and closes the connection on any other request (Kafka's
// SaslServerAuthenticator: "Unexpected Kafka request of type ... during SASL
// handshake"). With KIP-152 re-authentication a session has a lifetime; once
// it has passed, any request other than SaslHandshake / SaslAuthenticate
// (the start of a re-authentication) closes the connection too.
//
// The gate lives here because wire sees every request before any handler
// does; the exchange itself (mechanisms, credentials) is the server's: its
// SaslAuthenticate handler calls ConnInfo.Authenticated once a client has
// proved who it is.

// API keys the gate lets through before authentication.
const (
	saslHandshakeKey    = 17
	saslAuthenticateKey = 36
)

// Reasons the gate closes a connection.
var (
	// ErrUnauthenticated: a request other than ApiVersions, SaslHandshake
	// or SaslAuthenticate before the SASL exchange completed.
	ErrUnauthenticated = errors.New("wire: request before SASL authentication")
	// ErrSessionExpired: a request other than a re-authentication after the
	// session lifetime (connections.max.reauth.ms, KIP-152) ended.
	ErrSessionExpired = errors.New("wire: SASL session expired")
)

// authState is a connection's SASL progress, read by the gate on the serve
// goroutine and written by the SASL handlers on the same goroutine (so the
// atomics only keep the race detector and readers on other goroutines, such
// as logging, honest).
type authState struct {
	done   atomic.Bool  // a SASL exchange completed on this connection
	expiry atomic.Int64 // session end in UnixNano; 0 = no lifetime
	sasl   atomic.Pointer[saslBox]
	raw    atomic.Bool // SaslHandshake v0: the next frames are raw tokens
}

// saslBox holds the server's per-connection exchange state.
type saslBox struct{ v any }

// RequiresSASL reports whether the connection's listener is SASL_PLAINTEXT
// or SASL_SSL, where requests other than ApiVersions, SaslHandshake and
// SaslAuthenticate wait for a completed SASL exchange.
func (c *ConnInfo) RequiresSASL() bool {
	return c.SecurityProtocol == ProtocolSASLPlaintext || c.SecurityProtocol == ProtocolSASLSSL
}

// Authenticated records a completed SASL exchange (or KIP-152
// re-authentication): the connection acts as p from now on, until expiry
// (the zero time: no lifetime). Only the SaslAuthenticate handler calls it.
func (c *ConnInfo) Authenticated(p Principal, expiry time.Time) {
	c.SetPrincipal(p)
	var ns int64
	if !expiry.IsZero() {
		ns = expiry.UnixNano()
	}
	c.auth.expiry.Store(ns)
	c.auth.done.Store(true)
	c.auth.raw.Store(false)
}

// IsAuthenticated reports whether a SASL exchange has completed on the
// connection (it stays true after the session expires; see SessionExpiry).
func (c *ConnInfo) IsAuthenticated() bool { return c.auth.done.Load() }

// SessionExpiry is when the authenticated session ends (KIP-152), or the
// zero time when it has no lifetime or nothing was authenticated.
func (c *ConnInfo) SessionExpiry() time.Time {
	if ns := c.auth.expiry.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// SASLState returns what SetSASLState stored, or nil. The value is opaque to
// wire: the server's SASL handlers keep the mechanism chosen by SaslHandshake
// and the exchange in progress there, one per connection.
func (c *ConnInfo) SASLState() any {
	if b := c.auth.sasl.Load(); b != nil {
		return b.v
	}
	return nil
}

// SetSASLState replaces the connection's SASL exchange state (nil clears it).
func (c *ConnInfo) SetSASLState(v any) { c.auth.sasl.Store(&saslBox{v: v}) }

// gate decides whether req may be served on this connection now; an error
// closes the connection (Kafka's behaviour, see above).
func (c *ConnInfo) gate(key int16, now time.Time) error {
	if !c.RequiresSASL() {
		return nil
	}
	sasl := key == saslHandshakeKey || key == saslAuthenticateKey
	if !c.auth.done.Load() {
		if sasl || key == apiVersionsKey {
			return nil
		}
		return ErrUnauthenticated
	}
	if ns := c.auth.expiry.Load(); ns != 0 && !sasl && now.UnixNano() >= ns {
		return ErrSessionExpired
	}
	return nil
}

// CloseAfterResponse asks for the connection to be closed once this
// request's response is written; requests after it are not served. The
// SaslAuthenticate handler uses it after a failed authentication, which
// Kafka answers and then disconnects.
func (r *Request) CloseAfterResponse() { r.closeAfter = true }

// SaslHandshake v0 (KIP-43's first form). After a v0 handshake the client
// sends its SASL tokens as bare size-prefixed frames, without a Kafka
// request header, and reads the server's tokens the same way, until the
// exchange completes; a failure is answered by closing the connection.
// Kafka 4 dropped it, but clients still in use need it: kafka-python 2.0.2
// always authenticates this way, and librdkafka before 2.10 only enables
// SCRAM when the broker lists SaslHandshake v0 (it then uses v1). wire turns
// each raw token into a SaslAuthenticate v0 request for the Handler and
// writes the response's bytes back raw, so the server handles both forms
// with one SaslAuthenticate handler.

// maxRawSASLToken bounds a raw token (Kafka's sasl.server.max.receive.size
// default, 512 KiB).
const maxRawSASLToken = 512 << 10

// StartRawSASL switches the connection to raw SASL tokens from its next
// frame on, until Authenticated. Only a successful SaslHandshake v0 calls it.
func (c *ConnInfo) StartRawSASL() { c.auth.raw.Store(true) }

// rawSASL reports whether the next frame is a raw SASL token.
func (c *ConnInfo) rawSASL() bool { return c.auth.raw.Load() }

// rawSASLRequest wraps a raw token as a SaslAuthenticate v0 request.
func rawSASLRequest(token []byte, conn *ConnInfo) *Request {
	body := kmsg.NewPtrSASLAuthenticateRequest()
	body.SASLAuthBytes = token
	return &Request{Key: saslAuthenticateKey, Version: 0, CorrelationID: -1, Body: body, Conn: conn, raw: true}
}

// appendOut encodes o: a Kafka response frame, or for a raw SASL token the
// SaslAuthenticate response's bytes with only a size prefix.
func appendOut(dst []byte, o *outbound) []byte {
	if !o.raw {
		return appendResponse(dst, o.corr, o.resp)
	}
	var tok []byte
	if r, ok := o.resp.(*kmsg.SASLAuthenticateResponse); ok {
		tok = r.SASLAuthBytes
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(tok)))
	return append(dst, tok...)
}

// rawFailed reports whether resp, the answer to a raw token, is an error,
// which v0 cannot carry: the connection is closed instead.
func rawFailed(resp kmsg.Response) bool {
	r, ok := resp.(*kmsg.SASLAuthenticateResponse)
	return !ok || r.ErrorCode != 0
}

// readFrameSize reads the next frame's size: a Kafka request (at least a
// header, at most MaxRequestSize) or, after SaslHandshake v0, a raw token.
// Until a SASL listener's client has authenticated, frames are capped at
// maxRawSASLToken, as Kafka caps them with sasl.server.max.receive.size: a
// stranger cannot make the broker buffer 100 MiB requests.
func (c *conn) readFrameSize(br io.Reader, scratch *[4]byte, raw bool) (int32, error) {
	switch {
	case raw:
		return readSize(br, scratch, 0, maxRawSASLToken)
	case c.info.RequiresSASL() && !c.info.IsAuthenticated():
		return readSize(br, scratch, requestHeaderMin, min(maxRawSASLToken, c.srv.cfg.MaxRequestSize))
	}
	return readSize(br, scratch, requestHeaderMin, c.srv.cfg.MaxRequestSize)
}
