package sasl

import "errors"

// Sentinel errors, wrapped with %w; the server maps them to Kafka codes.
var (
	// ErrUnsupportedMechanism: a mechanism that is not enabled (Kafka's
	// UNSUPPORTED_SASL_MECHANISM).
	ErrUnsupportedMechanism = errors.New("sasl: unsupported SASL mechanism")
	// ErrAuthenticationFailed: wrong credentials or a malformed exchange
	// (SASL_AUTHENTICATION_FAILED).
	ErrAuthenticationFailed = errors.New("sasl: authentication failed")
	// ErrIllegalState: a message the exchange does not expect now
	// (ILLEGAL_SASL_STATE).
	ErrIllegalState = errors.New("sasl: illegal SASL state")
	// ErrInvalidJAAS: a sasl.jaas.config string that does not parse.
	ErrInvalidJAAS = errors.New("sasl: invalid JAAS configuration")
	// ErrInvalidCredential: SCRAM parameters outside Kafka's bounds.
	ErrInvalidCredential = errors.New("sasl: invalid SCRAM credential")
)
