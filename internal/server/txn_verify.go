package server

// Verification of transactional produce (KIP-890 part 1), and the
// implicit add of transaction version 2 (part 2: a Produce v12+ adds its
// partitions to the transaction itself, a TxnOffsetCommit v5+ the group's
// offsets partition, with no AddPartitionsToTxn/AddOffsetsToTxn from the
// client): before a
// partition appends a producer's first transactional batch of a
// transaction, the transaction coordinator confirms that the partition is
// in the producer's open transaction at that epoch, in-process when this
// broker coordinates the id, else with AddPartitionsToTxn v4 VerifyOnly.
// A delayed write that arrives after its transaction ended, or a zombie's
// write after a new instance bumped the epoch, is refused instead of
// opening a transaction nobody will ever end.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/reconciler"
	"github.com/strombroker/strom/internal/txn"
	"github.com/strombroker/strom/replica"
)

// verifyTxnProduce verifies records with the coordinator when the
// partition asks for it (replica.Partition.TxnToVerify).
func (s *Server) verifyTxnProduce(r *kmsg.ProduceRequest, topic string, partition int32, part *replica.Partition, records []byte) error {
	pid, epoch, need := part.TxnToVerify(records)
	if !need {
		return nil
	}
	if r.TransactionID == nil {
		return fmt.Errorf("%w: transactional batch without a transactional id", replica.ErrTxnNotVerified)
	}
	ctx, cancel := context.WithTimeout(s.ctx, requestTimeout(r.TimeoutMillis))
	defer cancel()
	tp := txn.TP{Topic: topic, Partition: partition}
	if err := s.txnCoordinatorCall(ctx, *r.TransactionID, pid, epoch, tp, r.Version < 12); err != nil {
		if errors.Is(err, txn.ErrProducerFenced) { // Produce's code for it
			return fmt.Errorf("%w: %v", replica.ErrInvalidProducerEpoch, err)
		}
		return err
	}
	part.MarkTxnVerified(pid, epoch)
	return nil
}

// txnCoordinatorCall asks id's coordinator whether tp is in the producer's
// open transaction (verifyOnly), or adds it there.
func (s *Server) txnCoordinatorCall(ctx context.Context, id string, pid int64, epoch int16, tp txn.TP, verifyOnly bool) error {
	st := s.meta.State()
	t := st.Topics[txnTopic]
	idx := s.txns.PartitionFor(id)
	if t == nil || int(idx) >= len(t.Partitions) {
		return fmt.Errorf("%w: no transaction coordinator for %q", replica.ErrTxnNotVerified, id)
	}
	leader := t.Partitions[idx].Leader
	if leader == s.cfg.NodeID && verifyOnly {
		return s.txns.Verify(ctx, id, pid, epoch, []txn.TP{tp})
	}
	if leader == s.cfg.NodeID {
		return s.txns.AddPartitions(ctx, id, pid, epoch, []txn.TP{tp})
	}
	b, ok := st.Brokers[leader]
	if !ok {
		return fmt.Errorf("%w: coordinator of %q unknown", replica.ErrTxnNotVerified, id)
	}
	l := reconciler.InterBrokerListener(b, s.cfg.InterBrokerListenerName)
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = 4
	tr := kmsg.NewAddPartitionsToTxnRequestTransaction()
	tr.TransactionalID, tr.ProducerID, tr.ProducerEpoch, tr.VerifyOnly = id, pid, epoch, verifyOnly
	tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
	tt.Topic, tt.Partitions = tp.Topic, []int32{tp.Partition}
	tr.Topics = append(tr.Topics, tt)
	req.Transactions = append(req.Transactions, tr)
	resp, err := s.brokerRequest(ctx, net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port))), req)
	if err != nil {
		return fmt.Errorf("%w: verify with coordinator %d: %v", kerr.CoordinatorNotAvailable, leader, err)
	}
	return verifyAnswer(resp.(*kmsg.AddPartitionsToTxnResponse))
}

// verifyAnswer turns a VerifyOnly answer into an error (nil: verified).
func verifyAnswer(resp *kmsg.AddPartitionsToTxnResponse) error {
	if resp.ErrorCode != 0 {
		return kerr.ErrorForCode(resp.ErrorCode)
	}
	for _, tr := range resp.Transactions {
		for _, t := range tr.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					return verifyError(p.ErrorCode)
				}
			}
		}
	}
	return nil
}

// verifyError is the produce error for a coordinator's refusal: a fenced
// producer keeps its code, anything else means the partition is not in an
// open transaction.
func verifyError(code int16) error {
	switch code {
	case kerr.ProducerFenced.Code, kerr.InvalidProducerEpoch.Code:
		return fmt.Errorf("%w: %w", txn.ErrProducerFenced, kerr.ErrorForCode(code))
	case kerr.NotCoordinator.Code, kerr.CoordinatorNotAvailable.Code, kerr.CoordinatorLoadInProgress.Code, kerr.ConcurrentTransactions.Code:
		return kerr.ErrorForCode(code)
	}
	return fmt.Errorf("%w: %w", txn.ErrInvalidTxnState, kerr.ErrorForCode(code))
}
