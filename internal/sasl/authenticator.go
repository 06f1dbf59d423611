package sasl

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Store looks up SCRAM credentials. The server implements it over the
// replicated metadata. It is called concurrently from many connections and
// must not block for long.
type Store interface {
	// ScramCredential returns user's credential for a SCRAM mechanism.
	ScramCredential(user, mechanism string) (Credential, bool)
}

// Config configures an Authenticator (one per listener).
type Config struct {
	// Mechanisms are the enabled mechanisms, in the order SaslHandshake
	// lists them (sasl.enabled.mechanisms).
	Mechanisms []string
	// PlainUsers are PLAIN's user → password pairs from the listener's
	// PlainLoginModule (user_<name>="<password>"). PLAIN checks a user found
	// here and nowhere else; other users are checked against Store's SCRAM
	// credentials.
	PlainUsers map[string]string
	// Store holds the SCRAM credentials (may be nil: no SCRAM users).
	Store Store
}

// Authenticator starts exchanges for one listener. Safe for concurrent use.
type Authenticator struct {
	cfg Config
}

// New returns an Authenticator; every mechanism must be PLAIN or SCRAM.
func New(cfg Config) (*Authenticator, error) {
	for _, m := range cfg.Mechanisms {
		if m != Plain && !IsScram(m) {
			return nil, fmt.Errorf("%w: %q (Strom supports PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512)", ErrUnsupportedMechanism, m)
		}
	}
	cfg.Mechanisms = slices.Clone(cfg.Mechanisms)
	return &Authenticator{cfg: cfg}, nil
}

// Mechanisms returns the enabled mechanisms.
func (a *Authenticator) Mechanisms() []string { return slices.Clone(a.cfg.Mechanisms) }

// Exchange is one authentication in progress. It is used by one connection
// at a time.
type Exchange interface {
	// Step takes the client's next message and returns the server's
	// answer; done is true once the client is authenticated (User is then
	// set). Errors wrap ErrAuthenticationFailed or ErrIllegalState and end
	// the exchange.
	Step(in []byte) (out []byte, done bool, err error)
	// User is the authenticated user name, once done.
	User() string
}

// Start begins an exchange with mechanism (case-sensitive, as in Kafka);
// ErrUnsupportedMechanism if it is not enabled.
func (a *Authenticator) Start(mechanism string) (Exchange, error) {
	if !slices.Contains(a.cfg.Mechanisms, mechanism) {
		return nil, fmt.Errorf("%w: %q, enabled: %s", ErrUnsupportedMechanism, mechanism, strings.Join(a.cfg.Mechanisms, ", "))
	}
	if mechanism == Plain {
		return &plainExchange{a: a}, nil
	}
	return newScramExchange(mechanism, a.cfg.Store)
}

// plainExchange is RFC 4616 PLAIN: one message, authzid NUL authcid NUL
// password, answered with an empty message.
type plainExchange struct {
	a    *Authenticator
	user string
	done bool
}

func (e *plainExchange) Step(in []byte) ([]byte, bool, error) {
	if e.done {
		return nil, false, fmt.Errorf("%w: PLAIN exchange already complete", ErrIllegalState)
	}
	e.done = true
	parts := bytes.Split(in, []byte{0})
	if len(parts) != 3 {
		return nil, false, fmt.Errorf("%w: invalid SASL/PLAIN response: expected 3 tokens", ErrAuthenticationFailed)
	}
	authz, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	if user == "" || pass == "" {
		return nil, false, fmt.Errorf("%w: SASL/PLAIN username and password must not be empty", ErrAuthenticationFailed)
	}
	if authz != "" && authz != user {
		return nil, false, fmt.Errorf("%w: authorization id must equal the username", ErrAuthenticationFailed)
	}
	if !e.a.checkPlain(user, pass) {
		return nil, false, fmt.Errorf("%w: invalid username or password", ErrAuthenticationFailed)
	}
	e.user = user
	return []byte{}, true, nil
}

func (e *plainExchange) User() string { return e.user }

// TokenAuthenticated is false: PLAIN never uses delegation tokens.
func (e *plainExchange) TokenAuthenticated() (bool, time.Time) { return false, time.Time{} }

// checkPlain checks a PLAIN password: against the JAAS users first (Kafka's
// PlainServerCallbackHandler), else against the user's stored SCRAM
// credentials by deriving StoredKey from the password.
func (a *Authenticator) checkPlain(user, pass string) bool {
	if want, ok := a.cfg.PlainUsers[user]; ok {
		return subtle.ConstantTimeCompare([]byte(want), []byte(pass)) == 1
	}
	if a.cfg.Store == nil {
		return false
	}
	for _, m := range ScramMechanisms {
		if c, ok := a.cfg.Store.ScramCredential(user, m); ok {
			return matchesPassword(m, c, pass)
		}
	}
	return false
}
