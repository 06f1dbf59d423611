package server

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strombroker/strom/internal/txn"
	"github.com/strombroker/strom/replica"
)

// txnErrors maps the transaction coordinator's sentinels, in the order
// tested. ErrProducerFenced is PRODUCER_FENCED; handlers of versions that
// predate that code answer INVALID_PRODUCER_EPOCH instead (fencedCode).
var txnErrors = []struct {
	err  error
	code *kerr.Error
}{
	{txn.ErrNotCoordinator, kerr.NotCoordinator},
	{txn.ErrCoordinatorNotAvailable, kerr.CoordinatorNotAvailable},
	{txn.ErrInvalidTransactionTimeout, kerr.InvalidTransactionTimeout},
	{txn.ErrProducerFenced, kerr.ProducerFenced},
	{txn.ErrInvalidProducerIDMapping, kerr.InvalidProducerIDMapping},
	{txn.ErrConcurrentTransactions, kerr.ConcurrentTransactions},
	{txn.ErrInvalidTxnState, kerr.InvalidTxnState},
	{replica.ErrTxnNotVerified, kerr.InvalidTxnState},
	{replica.ErrCoordinatorFenced, kerr.TransactionCoordinatorFenced},
}

// txnErrorCode is errorCode for errors wrapping a txn sentinel.
func txnErrorCode(err error) (int16, bool) {
	for _, m := range txnErrors {
		if errors.Is(err, m.err) {
			return m.code.Code, true
		}
	}
	return 0, false
}

// fencedCode is code, with PRODUCER_FENCED turned into
// INVALID_PRODUCER_EPOCH for a request version older than fencedFrom, the
// first version whose clients know PRODUCER_FENCED (KIP-588).
func fencedCode(code int16, version, fencedFrom int16) int16 {
	if code == kerr.ProducerFenced.Code && version < fencedFrom {
		return kerr.InvalidProducerEpoch.Code
	}
	return code
}
