package storage

import "errors"

// Sentinel errors. Callers test them with errors.Is; the server maps them to
// Kafka error codes at the handler edge. Errors returned by this package wrap
// one of these with %w and add context (file, offset, cause).
var (
	// ErrCorruptBatch: bad CRC, bad lengths, record count mismatch, wrong magic (CORRUPT_MESSAGE).
	ErrCorruptBatch = errors.New("storage: corrupt record batch")
	// ErrMessageTooLarge: a batch larger than Config.MaxMessageBytes (MESSAGE_TOO_LARGE).
	ErrMessageTooLarge = errors.New("storage: record batch too large")
	// ErrOffsetOutOfRange: read below log start or above log end (OFFSET_OUT_OF_RANGE).
	ErrOffsetOutOfRange = errors.New("storage: offset out of range")
	// ErrStorage wraps I/O failures such as ENOSPC (KAFKA_STORAGE_ERROR). The
	// underlying *os.PathError / syscall.Errno is wrapped too, so
	// errors.Is(err, syscall.ENOSPC) works.
	ErrStorage = errors.New("storage: i/o error")
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("storage: log closed")
	// ErrNonSequentialOffset: AppendAsFollower got batches not starting at the
	// log end, or whose offsets do not increase.
	ErrNonSequentialOffset = errors.New("storage: non-sequential offset")
	// ErrInvalidConfig: Config.Validate rejected a configuration.
	ErrInvalidConfig = errors.New("storage: invalid config")
)
