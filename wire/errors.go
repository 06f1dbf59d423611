package wire

import "errors"

// Sentinel errors. They are wrapped with %w and carry detail (sizes, keys,
// versions); test with errors.Is. Connection-level ones are logged and never
// returned to the Handler, since the reaction (closing the connection) is
// fixed by the protocol.
var (
	// ErrInvalidConfig reports a Config that fails Validate.
	ErrInvalidConfig = errors.New("wire: invalid config")

	// ErrFrameTooSmall reports a size prefix below the request header
	// minimum (or negative).
	ErrFrameTooSmall = errors.New("wire: frame smaller than request header")

	// ErrFrameTooLarge reports a size prefix above the configured maximum
	// (socket.request.max.bytes for requests).
	ErrFrameTooLarge = errors.New("wire: frame larger than maximum")

	// ErrUnknownAPIKey reports an API key kmsg does not know.
	ErrUnknownAPIKey = errors.New("wire: unknown api key")

	// ErrUnsupportedVersion reports a version outside the implemented range
	// for a known API key.
	ErrUnsupportedVersion = errors.New("wire: unsupported api version")

	// ErrMalformed reports a header or body that does not decode: truncated
	// data, bad lengths, garbage.
	ErrMalformed = errors.New("wire: malformed message")

	// ErrBadResponse reports a Handler response that cannot be sent: wrong
	// API key for the request. It is a bug in the handler.
	ErrBadResponse = errors.New("wire: handler returned a bad response")

	// ErrClientClosed is returned by Client.Request after Close or after an
	// earlier I/O failure left the connection unusable.
	ErrClientClosed = errors.New("wire: client closed")

	// ErrCorrelationMismatch reports a response whose correlation id is not
	// the one the Client sent; the stream is out of sync and the Client
	// closes.
	ErrCorrelationMismatch = errors.New("wire: correlation id mismatch")
)
