package txn

import (
	"context"
	"fmt"
	"maps"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// offsetsTopic receives a transaction's group offsets (AddOffsetsToTxn).
const offsetsTopic = "__consumer_offsets"

// state is the persisted part of a txnMeta: what one record holds.
type state struct {
	pid     int64
	epoch   int16
	timeout int32
	st      kmsg.TransactionState
	parts   map[TP]struct{}
	start   int64
	updated int64
	tv2     bool
	prevPID int64
	nextPID int64
}

func (m *txnMeta) current() state {
	return state{pid: m.pid, epoch: m.epoch, timeout: m.timeout, st: m.state, parts: maps.Clone(m.parts), start: m.start,
		updated: m.updated, tv2: m.tv2, prevPID: m.prevPID, nextPID: m.nextPID}
}

// setLocked persists next and then makes it m's state. Caller holds m.mu.
func (c *Coordinator) setLocked(ctx context.Context, p *partition, m *txnMeta, next state) error {
	next.updated = c.now().UnixMilli()
	if _, err := p.log.Append(ctx, encodeState(m.id, next, next.updated)); err != nil {
		return fmt.Errorf("persist transaction %q: %w", m.id, err)
	}
	m.pid, m.epoch, m.timeout, m.state, m.parts, m.start, m.updated = next.pid, next.epoch, next.timeout, next.st, next.parts, next.start, next.updated
	m.tv2, m.prevPID, m.nextPID = next.tv2, next.prevPID, next.nextPID
	if m.parts == nil {
		m.parts = map[TP]struct{}{}
	}
	return nil
}

// InitProducerID is InitProducerId with a transactional id: it completes or
// aborts what the previous instance left, then returns the id's producer
// id with its epoch bumped (a new id at the epoch limit), which fences
// every older instance. reqPID and reqEpoch (-1 when absent, KIP-360) must
// match the current ones when given.
func (c *Coordinator) InitProducerID(ctx context.Context, id string, timeout time.Duration, reqPID int64, reqEpoch int16) (int64, int16, error) {
	if timeout <= 0 || timeout > c.cfg.MaxTimeout {
		return -1, -1, fmt.Errorf("%w: %v, transaction.max.timeout.ms is %v", ErrInvalidTransactionTimeout, timeout, c.cfg.MaxTimeout)
	}
	p, m, err := c.lockTxn(ctx, id, true)
	if err != nil {
		return -1, -1, err
	}
	defer m.mu.Unlock()
	if reqPID >= 0 && m.pid >= 0 && (reqPID != m.pid || reqEpoch != m.epoch) {
		return -1, -1, fmt.Errorf("%w: producer %d epoch %d, current %d epoch %d", ErrProducerFenced, reqPID, reqEpoch, m.pid, m.epoch)
	}
	switch m.state {
	case kmsg.TransactionStateOngoing:
		if err := c.endLocked(ctx, p, m, false, true, m.tv2); err != nil {
			return -1, -1, err
		}
	case kmsg.TransactionStatePrepareCommit, kmsg.TransactionStatePrepareAbort:
		if err := c.finishLocked(ctx, p, m); err != nil {
			return -1, -1, fmt.Errorf("%w: %w", ErrConcurrentTransactions, err)
		}
	}
	next := m.current()
	if next.pid < 0 || next.epoch >= math.MaxInt16-1 {
		pid, err := c.cfg.AllocateProducerID(ctx)
		if err != nil {
			return -1, -1, err
		}
		next.pid, next.epoch = pid, 0
	} else {
		next.epoch++
	}
	next.timeout = int32(timeout / time.Millisecond)
	next.tv2, next.prevPID, next.nextPID = false, -1, -1
	next.st = kmsg.TransactionStateEmpty
	next.parts = nil
	next.start = -1
	if err := c.setLocked(ctx, p, m, next); err != nil {
		return -1, -1, err
	}
	return m.pid, m.epoch, nil
}

// checkProducerLocked verifies a request's producer id and epoch.
func (m *txnMeta) checkProducerLocked(pid int64, epoch int16) error {
	switch {
	case m.pid < 0 || pid != m.pid:
		return fmt.Errorf("%w: transactional id %q has producer %d, not %d", ErrInvalidProducerIDMapping, m.id, m.pid, pid)
	case epoch != m.epoch:
		return fmt.Errorf("%w: epoch %d, current %d", ErrProducerFenced, epoch, m.epoch)
	}
	return nil
}

// AddPartitions adds parts to the producer's transaction, starting one
// when none is open (AddPartitionsToTxn).
func (c *Coordinator) AddPartitions(ctx context.Context, id string, pid int64, epoch int16, parts []TP) error {
	p, m, err := c.lockTxn(ctx, id, false)
	if err != nil {
		return err
	}
	if m == nil {
		return fmt.Errorf("%w: unknown transactional id %q", ErrInvalidProducerIDMapping, id)
	}
	defer m.mu.Unlock()
	if err := m.checkProducerLocked(pid, epoch); err != nil {
		return err
	}
	switch m.state {
	case kmsg.TransactionStatePrepareCommit, kmsg.TransactionStatePrepareAbort:
		return fmt.Errorf("%w: %q is completing its previous transaction", ErrConcurrentTransactions, id)
	case kmsg.TransactionStateOngoing:
		missing := false
		for _, tp := range parts {
			if _, ok := m.parts[tp]; !ok {
				missing = true
			}
		}
		if !missing {
			return nil
		}
	}
	next := m.current()
	if next.st != kmsg.TransactionStateOngoing {
		next.parts = map[TP]struct{}{}
		next.start = c.now().UnixMilli()
	}
	next.st = kmsg.TransactionStateOngoing
	for _, tp := range parts {
		next.parts[tp] = struct{}{}
	}
	return c.setLocked(ctx, p, m, next)
}

// AddOffsets adds group's __consumer_offsets partition to the transaction
// (AddOffsetsToTxn), so that EndTxn writes a marker there too.
func (c *Coordinator) AddOffsets(ctx context.Context, id string, pid int64, epoch int16, group string) error {
	return c.AddPartitions(ctx, id, pid, epoch, []TP{{offsetsTopic, c.cfg.OffsetsPartition(group)}})
}

// EndTxn commits or aborts the producer's open transaction. It returns once
// the decision is persisted; the markers are written before it returns
// when possible, else by the background loop (the client meanwhile gets
// ErrConcurrentTransactions on its next transaction). tv2 (EndTxn v5+,
// KIP-890 part 2) bumps the epoch with every transaction, so that nothing
// of this transaction can be written once it ended; the producer id and
// epoch to use next are returned.
func (c *Coordinator) EndTxn(ctx context.Context, id string, pid int64, epoch int16, commit, tv2 bool) (int64, int16, error) {
	p, m, err := c.lockTxn(ctx, id, false)
	if err != nil {
		return -1, -1, err
	}
	if m == nil {
		return -1, -1, fmt.Errorf("%w: unknown transactional id %q", ErrInvalidProducerIDMapping, id)
	}
	defer m.mu.Unlock()
	if tv2 && m.retriedEndLocked(pid, epoch, commit) {
		return m.pid, m.epoch, nil
	}
	if err := m.checkProducerLocked(pid, epoch); err != nil {
		return -1, -1, err
	}
	done := commit && m.state == kmsg.TransactionStateCompleteCommit || !commit && m.state == kmsg.TransactionStateCompleteAbort
	switch {
	case m.state == kmsg.TransactionStateOngoing, tv2 && !commit && (m.state == kmsg.TransactionStateEmpty || m.state == kmsg.TransactionStateCompleteCommit || m.state == kmsg.TransactionStateCompleteAbort):
		// Under transaction version 2 an abort with nothing open still
		// bumps the epoch, as Kafka does, fencing earlier writes. The
		// client cannot tell whether anything was open (the broker adds
		// partitions itself), so an abort after a completed commit is
		// such an abort too; refusing it failed franz-go's
		// GroupTransactSession after a rebalance (kgo's TestTxnEtl).
		err := c.endLocked(ctx, p, m, commit, tv2, tv2)
		return m.pid, m.epoch, err
	case done && !tv2:
		return m.pid, m.epoch, nil // a retry of an EndTxn that completed
	case commit && m.state == kmsg.TransactionStatePrepareCommit, !commit && m.state == kmsg.TransactionStatePrepareAbort:
		return -1, -1, fmt.Errorf("%w: %q is still writing its markers", ErrConcurrentTransactions, id)
	}
	return -1, -1, fmt.Errorf("%w: EndTxn(commit=%v) in state %v", ErrInvalidTxnState, commit, m.state)
}

// retriedEndLocked reports whether a transaction-version-2 EndTxn repeats
// the one that completed m's last transaction (its answer was lost): the
// producer is then one epoch behind, or on the id it had before the epoch
// ran out.
func (m *txnMeta) retriedEndLocked(pid int64, epoch int16, commit bool) bool {
	switch {
	case !m.tv2:
		return false
	case commit && m.state != kmsg.TransactionStateCompleteCommit, !commit && m.state != kmsg.TransactionStateCompleteAbort:
		return false
	}
	return pid == m.pid && epoch == m.epoch-1 || pid == m.prevPID && m.epoch == 0
}

// endLocked prepares the commit or abort of m's open transaction, then
// writes the markers and completes it. bump (abort by the coordinator:
// timeout, new instance) raises the epoch first, so the markers fence the
// producer that owned the transaction. A marker failure is not an error:
// the decision is durable and the background loop finishes it.
func (c *Coordinator) endLocked(ctx context.Context, p *partition, m *txnMeta, commit, bump, tv2 bool) error {
	next := m.current()
	next.st = kmsg.TransactionStatePrepareAbort
	if commit {
		next.st = kmsg.TransactionStatePrepareCommit
	}
	next.tv2 = next.tv2 || tv2
	if bump {
		if next.epoch >= math.MaxInt16-2 && tv2 {
			// The epoch runs out: the markers still carry this id at
			// the last epoch, and the producer continues on a new id.
			pid, err := c.cfg.AllocateProducerID(ctx)
			if err != nil {
				return err
			}
			next.nextPID = pid
		}
		if next.epoch < math.MaxInt16-1 {
			next.epoch++
		}
	}
	if err := c.setLocked(ctx, p, m, next); err != nil {
		return err
	}
	if err := c.finishLocked(ctx, p, m); err != nil {
		c.log.Warn("transaction markers not written yet; will retry", "transactionalID", m.id, "err", err)
	}
	return nil
}

// finishLocked writes the markers of a prepared transaction and persists
// its completion. Caller holds m.mu.
func (c *Coordinator) finishLocked(ctx context.Context, p *partition, m *txnMeta) error {
	commit := m.state == kmsg.TransactionStatePrepareCommit
	if err := c.cfg.Markers.WriteMarkers(ctx, m.pid, m.epoch, commit, p.epoch, m.sortedParts()); err != nil {
		return err
	}
	next := m.current()
	next.st = kmsg.TransactionStateCompleteAbort
	if commit {
		next.st = kmsg.TransactionStateCompleteCommit
	}
	next.parts = nil
	next.start = -1
	if next.nextPID >= 0 {
		next.prevPID, next.pid, next.epoch, next.nextPID = next.pid, next.nextPID, 0, -1
	}
	return c.setLocked(ctx, p, m, next)
}

// Verify checks that parts are in the producer's open transaction (a
// partition leader asks before it appends the producer's first
// transactional batch there: KIP-890's verification). ErrProducerFenced
// for an old epoch, ErrInvalidTxnState when the transaction is not open or
// lacks a partition.
func (c *Coordinator) Verify(ctx context.Context, id string, pid int64, epoch int16, parts []TP) error {
	_, m, err := c.lockTxn(ctx, id, false)
	if err != nil {
		return err
	}
	if m == nil {
		return fmt.Errorf("%w: unknown transactional id %q", ErrInvalidProducerIDMapping, id)
	}
	defer m.mu.Unlock()
	if err := m.checkProducerLocked(pid, epoch); err != nil {
		return err
	}
	if m.state != kmsg.TransactionStateOngoing {
		return fmt.Errorf("%w: %q has no open transaction (%v)", ErrInvalidTxnState, id, m.state)
	}
	for _, tp := range parts {
		if _, ok := m.parts[tp]; !ok {
			return fmt.Errorf("%w: %s/%d is not in %q's transaction", ErrInvalidTxnState, tp.Topic, tp.Partition, id)
		}
	}
	return nil
}

// lockTxn is lookup that returns id's state locked (m nil: unknown id, not
// locked), skipping a state that expired while the caller waited for it.
func (c *Coordinator) lockTxn(ctx context.Context, id string, create bool) (*partition, *txnMeta, error) {
	for {
		p, m, err := c.lookup(ctx, id, create)
		if err != nil || m == nil {
			return p, m, err
		}
		m.mu.Lock()
		if m.state != kmsg.TransactionStateDead {
			return p, m, nil
		}
		m.mu.Unlock()
	}
}
