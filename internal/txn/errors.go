package txn

import "errors"

// Sentinel errors, wrapped with %w; the server maps them to Kafka codes.
var (
	// ErrNotCoordinator: this broker does not lead the id's partition.
	ErrNotCoordinator = errors.New("txn: not the transaction coordinator")
	// ErrCoordinatorNotAvailable: the state could not be persisted now.
	ErrCoordinatorNotAvailable = errors.New("txn: coordinator not available")
	// ErrInvalidTransactionTimeout: transaction.timeout.ms <= 0 or above
	// transaction.max.timeout.ms.
	ErrInvalidTransactionTimeout = errors.New("txn: invalid transaction timeout")
	// ErrProducerFenced: a request from an older producer epoch (a zombie).
	ErrProducerFenced = errors.New("txn: producer fenced")
	// ErrInvalidProducerIDMapping: the producer id is not the id's.
	ErrInvalidProducerIDMapping = errors.New("txn: invalid producer id mapping")
	// ErrConcurrentTransactions: the previous transaction is still being
	// completed; the client retries.
	ErrConcurrentTransactions = errors.New("txn: concurrent transactions")
	// ErrInvalidTxnState: the request does not fit the transaction's state.
	ErrInvalidTxnState = errors.New("txn: invalid transaction state")
)
