package server

// SaslHandshake: versions 0-1.
//
// Version notes:
//   - v0: the SASL tokens that follow travel as bare size-prefixed frames
//     (wire handles them, see wire/auth.go), with no way to report an error
//     but closing the connection. Kafka 4 removed v0; Strom keeps it because
//     Debian's kafka-python 2.0.2 authenticates only this way and
//     librdkafka before 2.10 (kcat, confluent-kafka 2.0.2) enables SCRAM only
//     when the broker lists SaslHandshake v0, though it then uses v1. A v0
//     handshake cannot start a re-authentication (ILLEGAL_SASL_STATE).
//   - v1: tokens in SaslAuthenticate requests (KIP-152).
//
// Behaviour:
//   - Only on SASL_PLAINTEXT and SASL_SSL listeners; elsewhere
//     ILLEGAL_SASL_STATE (there is nothing to authenticate).
//   - A mechanism the listener does not enable: UNSUPPORTED_SASL_MECHANISM
//     with the enabled list, then the connection is closed (as Kafka).
//   - A handshake while an exchange is in progress: ILLEGAL_SASL_STATE, then
//     closed (Kafka: unexpected request during SASL authentication).
//   - A handshake on an authenticated connection starts a KIP-152
//     re-authentication, which must use the same mechanism (else
//     SASL_AUTHENTICATION_FAILED and closed, as Kafka refuses a mechanism
//     change).
//   - The gate in wire keeps everything but ApiVersions, SaslHandshake and
//     SaslAuthenticate away until the exchange completes.

import (
	"errors"
	"fmt"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/sasl"
	"github.com/strombroker/strom/wire"
)

// saslConn is a connection's SASL state, kept in wire.ConnInfo.SASLState and
// touched only by the connection's own (sequential) requests.
type saslConn struct {
	mechanism string        // of the handshake in progress or, once done, of the last exchange
	exchange  sasl.Exchange // non-nil between handshake and completed authentication
	// tokenAuth: the last exchange authenticated with a delegation token
	// (delegationtokens.go refuses token requests on such connections).
	tokenAuth bool
}

func connSASL(c *wire.ConnInfo) *saslConn {
	if st, ok := c.SASLState().(*saslConn); ok {
		return st
	}
	return &saslConn{}
}

func (s *Server) handleSASLHandshake(req *wire.Request, r *kmsg.SASLHandshakeRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.Version = r.Version
	auth := s.saslAuth[req.Conn.Listener]
	if auth == nil || !req.Conn.RequiresSASL() {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return resp
	}
	resp.SupportedMechanisms = auth.Mechanisms()
	st := connSASL(req.Conn)
	var err error
	switch {
	case st.exchange != nil:
		err = fmt.Errorf("%w: SaslHandshake during a SASL exchange", sasl.ErrIllegalState)
	case req.Conn.IsAuthenticated() && r.Version == 0:
		err = fmt.Errorf("%w: re-authentication needs SaslHandshake v1", sasl.ErrIllegalState)
	case req.Conn.IsAuthenticated() && st.mechanism != r.Mechanism:
		err = fmt.Errorf("%w: cannot change SASL mechanism from %s to %s during re-authentication", sasl.ErrAuthenticationFailed, st.mechanism, r.Mechanism)
	default:
		var ex sasl.Exchange
		if ex, err = auth.Start(r.Mechanism); err == nil {
			req.Conn.SetSASLState(&saslConn{mechanism: r.Mechanism, exchange: ex})
			if r.Version == 0 {
				req.Conn.StartRawSASL()
			}
			return resp
		}
	}
	resp.ErrorCode = saslErrorCode(err)
	s.logger.Info("SASL handshake refused; closing connection", "remote", addrString(req.Conn.RemoteAddr),
		"listener", req.Conn.Listener, "mechanism", r.Mechanism, "err", err)
	req.CloseAfterResponse()
	return resp
}

// saslErrorCode maps the sasl package's errors to Kafka codes.
func saslErrorCode(err error) int16 {
	switch {
	case errors.Is(err, sasl.ErrUnsupportedMechanism):
		return kerr.UnsupportedSaslMechanism.Code
	case errors.Is(err, sasl.ErrIllegalState):
		return kerr.IllegalSaslState.Code
	case errors.Is(err, sasl.ErrAuthenticationFailed):
		return kerr.SaslAuthenticationFailed.Code
	}
	return errorCode(err)
}

// scramStore reads SCRAM credentials from the applied metadata.
type scramStore struct{ s *Server }

func (st scramStore) ScramCredential(user, mechanism string) (sasl.Credential, bool) {
	if st.s.meta == nil {
		return sasl.Credential{}, false
	}
	c, ok := st.s.meta.State().ScramCredential(user, mechanism)
	if !ok {
		return sasl.Credential{}, false
	}
	return sasl.Credential{Salt: c.Salt, Iterations: int(c.Iterations), StoredKey: c.StoredKey, ServerKey: c.ServerKey}, true
}

// buildAuthenticators makes one authenticator per SASL listener.
func (s *Server) buildAuthenticators() (map[string]*sasl.Authenticator, error) {
	out := map[string]*sasl.Authenticator{}
	for _, l := range s.cfg.Listeners {
		if !isSASL(s.cfg.SecurityProtocol(l.Name)) {
			continue
		}
		a, err := s.cfg.authenticator(l.Name, scramStore{s})
		if err != nil {
			return nil, err
		}
		out[l.Name] = a
	}
	return out, nil
}

// addrString is a.String(), or "" for a connection without an address.
func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
