package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/strombroker/strom/internal/group"
	"github.com/strombroker/strom/replica"
	"github.com/strombroker/strom/storage"
)

// offsetLog lets the group coordinator write and replay one
// __consumer_offsets partition through the normal replica path, so committed
// offsets get the same durability (and, with replication, the same copies)
// as any record.
type offsetLog struct{ part *replica.Partition }

// Append implements group.OffsetLog: an acks=all produce whose errors are
// translated into the contract documented there.
func (o offsetLog) Append(ctx context.Context, batch []byte) (int64, error) {
	res, err := o.part.Produce(ctx, batch, -1)
	if err != nil {
		return -1, offsetLogError(err)
	}
	return res.BaseOffset, nil
}

// offsetLogError maps a replica produce error the way Kafka's coordinator
// maps the errors of writing its own log (CoordinatorRuntime /
// GroupCoordinatorService.normalizeException): lost leadership and storage
// failures mean another broker must coordinate; a record too large is the
// coordinator's own fault; anything else (not enough replicas, timeouts,
// the request going away) is retriable.
func offsetLogError(err error) error {
	switch {
	case errors.Is(err, replica.ErrNotLeader), errors.Is(err, replica.ErrClosed),
		errors.Is(err, replica.ErrNotHosted), errors.Is(err, replica.ErrStaleLeaderEpoch),
		errors.Is(err, storage.ErrStorage), errors.Is(err, storage.ErrClosed):
		return fmt.Errorf("%w: %w", group.ErrNotCoordinator, err)
	case errors.Is(err, storage.ErrMessageTooLarge):
		return fmt.Errorf("%w: %w", group.ErrRecordTooLarge, err)
	default:
		return fmt.Errorf("%w: %w", group.ErrCoordinatorNotAvailable, err)
	}
}

// Read and LogEndOffset reach the log end, not the high watermark: a
// coordinator loads its partition right after becoming leader, when the high
// watermark may still lag records the previous leader had committed (it
// advances once the followers fetch again). Stopping at it would forget
// those commits; Kafka's coordinator reads to the log end too.
func (o offsetLog) Read(offset int64, maxBytes int) ([]byte, error) {
	res, err := o.part.Fetch(offset, maxBytes, true)
	return res.Records, err
}

func (o offsetLog) LogStartOffset() int64 { return o.part.LogStartOffset() }
func (o offsetLog) LogEndOffset() int64   { return o.part.LogEndOffset() }

// coordinatorLog is a partition of another coordinator's own topic
// (__transaction_state, __share_group_state) for that coordinator:
// acks=all appends, reads to the log end as offsetLog's. Each coordinator
// embeds it in its own type with an Append that maps write failures to
// its error contract. It stays comparable: the share store compares logs
// to notice a new leadership.
type coordinatorLog struct{ part *replica.Partition }

// append is an acks=all produce whose error writeErr maps.
func (l coordinatorLog) append(ctx context.Context, batch []byte, writeErr func(error) error) (int64, error) {
	res, err := l.part.Produce(ctx, batch, -1)
	if err != nil {
		return -1, writeErr(err)
	}
	return res.BaseOffset, nil
}

func (l coordinatorLog) Read(offset int64, maxBytes int) ([]byte, error) {
	res, err := l.part.Fetch(offset, maxBytes, true)
	return res.Records, err
}

func (l coordinatorLog) LogStartOffset() int64 { return l.part.LogStartOffset() }
func (l coordinatorLog) LogEndOffset() int64   { return l.part.LogEndOffset() }
