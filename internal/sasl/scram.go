package sasl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"
	"time"

	"github.com/xdg-go/scram"
)

// Mechanism names (Kafka's sasl.enabled.mechanisms values).
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

// Kafka's bounds on SCRAM iterations (ScramMechanism.minIterations, and
// AlterUserScramCredentials' 16384 maximum).
const (
	MinIterations = 4096
	MaxIterations = 16384
)

// Credential is a SCRAM credential as Kafka stores it: never the password,
// only the salt, the iteration count and the two keys RFC 5802 derives.
type Credential struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// ScramMechanisms lists the SCRAM mechanisms, strongest first (the order
// PLAIN tries stored credentials in).
var ScramMechanisms = []string{ScramSHA512, ScramSHA256}

// IsScram reports whether mechanism is one of the SCRAM mechanisms.
func IsScram(mechanism string) bool { return scramHash(mechanism) != nil }

// ScramMechanismType is Kafka's numeric code for a SCRAM mechanism in
// Describe/AlterUserScramCredentials (1 = SCRAM-SHA-256, 2 = SCRAM-SHA-512),
// or 0 for anything else.
func ScramMechanismType(mechanism string) int8 {
	switch mechanism {
	case ScramSHA256:
		return 1
	case ScramSHA512:
		return 2
	}
	return 0
}

// ScramMechanismName is the inverse of ScramMechanismType ("" if unknown).
func ScramMechanismName(t int8) string {
	switch t {
	case 1:
		return ScramSHA256
	case 2:
		return ScramSHA512
	}
	return ""
}

func scramHash(mechanism string) scram.HashGeneratorFcn {
	switch mechanism {
	case ScramSHA256:
		return scram.SHA256
	case ScramSHA512:
		return scram.SHA512
	}
	return nil
}

func stdHash(mechanism string) func() hash.Hash {
	if mechanism == ScramSHA512 {
		return sha512.New
	}
	return sha256.New
}

// CheckIterations applies Kafka's iteration bounds.
func CheckIterations(iterations int) error {
	if iterations < MinIterations || iterations > MaxIterations {
		return fmt.Errorf("%w: iterations %d outside %d..%d", ErrInvalidCredential, iterations, MinIterations, MaxIterations)
	}
	return nil
}

// CredentialFromSaltedPassword builds the stored credential from what
// AlterUserScramCredentials carries (the client salts and hashes the
// password itself): StoredKey = H(HMAC(salted, "Client Key")), ServerKey =
// HMAC(salted, "Server Key").
func CredentialFromSaltedPassword(mechanism string, salt, salted []byte, iterations int) (Credential, error) {
	if !IsScram(mechanism) {
		return Credential{}, fmt.Errorf("%w: %q", ErrUnsupportedMechanism, mechanism)
	}
	h := stdHash(mechanism)
	clientKey := hmacSum(h, salted, "Client Key")
	stored := h()
	stored.Write(clientKey)
	return Credential{
		Salt:       append([]byte(nil), salt...),
		Iterations: iterations,
		StoredKey:  stored.Sum(nil),
		ServerKey:  hmacSum(h, salted, "Server Key"),
	}, nil
}

// SaltPassword is RFC 5802's Hi(password, salt, i) (PBKDF2 with the
// mechanism's HMAC), as Kafka's ScramFormatter computes it.
func SaltPassword(mechanism, password string, salt []byte, iterations int) ([]byte, error) {
	h := stdHash(mechanism)
	return pbkdf2.Key(h, password, salt, iterations, h().Size())
}

// NewSalt draws a random salt (Kafka uses 32 bytes... of a random
// BigInteger; any random bytes will do).
func NewSalt() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails
	return b
}

// CredentialFromPassword salts and hashes password (for tests and tools;
// the broker itself never receives SCRAM passwords).
func CredentialFromPassword(mechanism, password string, iterations int) (Credential, error) {
	salt := NewSalt()
	salted, err := SaltPassword(mechanism, password, salt, iterations)
	if err != nil {
		return Credential{}, err
	}
	return CredentialFromSaltedPassword(mechanism, salt, salted, iterations)
}

// matchesPassword reports in constant time whether password derives c's
// StoredKey: how PLAIN checks a password against a SCRAM credential.
func matchesPassword(mechanism string, c Credential, password string) bool {
	salted, err := SaltPassword(mechanism, password, c.Salt, c.Iterations)
	if err != nil {
		return false
	}
	got, err := CredentialFromSaltedPassword(mechanism, c.Salt, salted, c.Iterations)
	return err == nil && subtle.ConstantTimeCompare(got.StoredKey, c.StoredKey) == 1
}

func hmacSum(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// scramExchange is one SCRAM conversation (client-first, server-first,
// client-final, server-final), run by xdg-go/scram, except for one
// librdkafka quirk (see scramKafkaFinal).
type scramExchange struct {
	mechanism string
	conv      *scram.ServerConversation
	user      string

	// What the Kafka-compatible final step needs, kept from the first.
	clientFirst string     // as received
	serverFirst string     // as sent
	cred        Credential // the user's, once looked up
	done        bool

	// tokenAuth: the client asked for delegation token authentication
	// (token.go); owner is then the token owner's principal name.
	tokenAuth   bool
	owner       string
	tokenExpiry time.Time
}

func newScramExchange(mechanism string, store Store) (*scramExchange, error) {
	e := &scramExchange{mechanism: mechanism}
	lookup := func(user string) (scram.StoredCredentials, error) {
		var c Credential
		ok := store != nil
		if ok && e.tokenAuth {
			var err error
			if c, e.owner, e.tokenExpiry, err = tokenCredential(store, user, mechanism); err != nil {
				return scram.StoredCredentials{}, err
			}
		} else if ok {
			c, ok = store.ScramCredential(user, mechanism)
		}
		if !ok {
			return scram.StoredCredentials{}, fmt.Errorf("unknown user %q", user)
		}
		e.cred = c
		return scram.StoredCredentials{
			KeyFactors: scram.KeyFactors{Salt: string(c.Salt), Iters: c.Iterations},
			StoredKey:  c.StoredKey,
			ServerKey:  c.ServerKey,
		}, nil
	}
	srv, err := scramHash(mechanism).NewServer(lookup)
	if err != nil {
		return nil, err
	}
	e.conv = srv.NewConversation()
	return e, nil
}

func (e *scramExchange) Step(in []byte) ([]byte, bool, error) {
	if e.done {
		return nil, false, fmt.Errorf("%w: %s exchange already complete", ErrIllegalState, e.mechanism)
	}
	if e.serverFirst == "" {
		e.tokenAuth = tokenAuthRequested(string(in))
	}
	if e.serverFirst != "" && librdkafkaNonce(string(in), e.serverFirst) {
		e.done = true
		return e.kafkaFinal(string(in))
	}
	out, err := e.conv.Step(string(in))
	if err != nil {
		e.done = true
		// err says why (unknown user, bad proof, malformed message); the
		// client gets Kafka's wording, which does not tell them apart.
		return nil, false, &failure{msg: "invalid credentials with SASL mechanism " + e.mechanism, cause: err}
	}
	if !e.conv.Done() {
		e.clientFirst, e.serverFirst = string(in), out
		return []byte(out), false, nil
	}
	e.done = true
	if !e.conv.Valid() {
		return nil, false, fmt.Errorf("%w: invalid credentials with SASL mechanism %s", ErrAuthenticationFailed, e.mechanism)
	}
	return e.finish(e.conv.Username(), e.conv.AuthzID(), out)
}

// finish checks the authorization id (Kafka allows none or the user's own).
func (e *scramExchange) finish(user, authz, out string) ([]byte, bool, error) {
	if authz != "" && authz != user {
		return nil, false, fmt.Errorf("%w: authorization id %q differs from user %q", ErrAuthenticationFailed, authz, user)
	}
	e.user = user
	if e.tokenAuth {
		e.user = e.owner
	}
	return []byte(out), true, nil
}

// User is the authenticated user: the token's owner after token
// authentication.
func (e *scramExchange) User() string { return e.user }

// TokenAuthenticated reports whether the client authenticated with a
// delegation token.
func (e *scramExchange) TokenAuthenticated() (bool, time.Time) {
	return e.tokenAuth && e.user != "", e.tokenExpiry
}

// failure is an authentication failure whose cause is logged but not shown
// to the client (Error).
type failure struct {
	msg   string
	cause error
}

func (f *failure) Error() string { return ErrAuthenticationFailed.Error() + ": " + f.msg }
func (f *failure) Unwrap() error { return ErrAuthenticationFailed }

// Cause is the detailed reason, for the broker's log.
func (f *failure) Cause() error { return f.cause }

// LogDetail returns the detailed reason of an authentication failure, for
// the broker's log only (err itself when it has none).
func LogDetail(err error) error {
	var f *failure
	if errors.As(err, &f) && f.cause != nil {
		return fmt.Errorf("%w (%v)", err, f.cause)
	}
	return err
}
