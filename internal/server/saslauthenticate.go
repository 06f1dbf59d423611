package server

// SaslAuthenticate: versions 0-2.
//
// Behaviour:
//   - Carries one step of the exchange SaslHandshake started; the answer
//     holds the server's next bytes. Without a handshake first:
//     ILLEGAL_SASL_STATE and the connection is closed.
//   - Wrong credentials (or a malformed message): SASL_AUTHENTICATION_FAILED
//     with an error message, then the connection is closed, as Kafka does.
//   - Once the exchange completes the connection's principal is
//     User:<name> (wire.ConnInfo.Authenticated) and every API is served.
//   - KIP-152: with connections.max.reauth.ms > 0 the session lasts that
//     long; the client re-authenticates with SaslHandshake + SaslAuthenticate
//     on the same connection, and must come back as the same principal
//     (else SASL_AUTHENTICATION_FAILED and closed, as Kafka). A connection
//     whose session has expired is closed by wire at its next other request.
//
// Version notes:
//   - v1: SessionLifetimeMs (KIP-152).
//   - v2: flexible.

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/sasl"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleSASLAuthenticate(req *wire.Request, r *kmsg.SASLAuthenticateRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	resp.Version = r.Version
	st := connSASL(req.Conn)
	fail := func(err error) kmsg.Response {
		resp.ErrorCode = saslErrorCode(err)
		resp.ErrorMessage = kmsg.StringPtr(authFailureMessage(resp.ErrorCode, err))
		resp.SASLAuthBytes = nil
		s.logger.Info("SASL authentication failed; closing connection", "remote", addrString(req.Conn.RemoteAddr),
			"listener", req.Conn.Listener, "mechanism", st.mechanism, "err", sasl.LogDetail(err))
		req.Conn.SetSASLState(&saslConn{mechanism: st.mechanism})
		req.CloseAfterResponse()
		return resp
	}
	if st.exchange == nil || !req.Conn.RequiresSASL() {
		return fail(fmt.Errorf("%w: SaslAuthenticate without a SaslHandshake", sasl.ErrIllegalState))
	}
	out, done, err := st.exchange.Step(r.SASLAuthBytes)
	if err != nil {
		return fail(err)
	}
	resp.SASLAuthBytes = out
	if !done {
		return resp
	}
	p := wire.Principal{Type: "User", Name: st.exchange.User()}
	if req.Conn.IsAuthenticated() && req.Conn.Principal() != p {
		return fail(fmt.Errorf("%w: cannot change principals during re-authentication from %s to %s",
			sasl.ErrAuthenticationFailed, req.Conn.Principal(), p))
	}
	expiry, lifetime, tokenAuth := s.sessionExpiry(st.exchange)
	resp.SessionLifetimeMillis = lifetime
	if req.Conn.IsAuthenticated() {
		s.saslReauths.Add(1)
	}
	req.Conn.Authenticated(p, expiry)
	req.Conn.SetSASLState(&saslConn{mechanism: st.mechanism, tokenAuth: tokenAuth})
	s.logger.Debug("SASL authenticated", "remote", addrString(req.Conn.RemoteAddr), "listener", req.Conn.Listener,
		"mechanism", st.mechanism, "principal", p.String())
	return resp
}

// authFailureMessage is the client-facing message: Kafka's wording for
// wrong credentials (without saying whether the user exists), the error
// itself otherwise.
func authFailureMessage(code int16, err error) string {
	if code == kerr.SaslAuthenticationFailed.Code {
		return "Authentication failed: " + err.Error()
	}
	return err.Error()
}

// sessionExpiry is when a completed exchange's session ends (zero: never)
// and its lifetime in ms for the answer (KIP-152, with
// connections.max.reauth.ms), and whether it was a delegation token
// login. As in Kafka, a session never outlives its credential: a token
// login must re-authenticate by the token's expiry.
func (s *Server) sessionExpiry(ex sasl.Exchange) (time.Time, int64, bool) {
	var tokenAuth bool
	var tokenExpiry time.Time
	if ta, ok := ex.(sasl.TokenAuthenticated); ok {
		tokenAuth, tokenExpiry = ta.TokenAuthenticated()
	}
	d := s.cfg.SASL.MaxReauth
	if d <= 0 {
		return time.Time{}, 0, tokenAuth
	}
	now := time.Now()
	expiry := now.Add(d)
	if tokenAuth && tokenExpiry.Before(expiry) {
		expiry = tokenExpiry
	}
	return expiry, max(expiry.Sub(now).Milliseconds(), 1), tokenAuth
}
