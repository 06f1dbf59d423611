package group

import "context"

// OffsetLog is one partition of __consumer_offsets as the coordinator sees it.
// Implemented by the server on top of a replica partition. Safe for concurrent use.
//
// The coordinator calls Append from request goroutines and from its own
// background work, at most one call at a time per group but concurrently for
// different groups; it never holds a lock across the call. Append errors may
// wrap a *kerr.Error (e.g. kerr.NotLeaderForPartition) to choose the code the
// client sees (mapped as Kafka's coordinator maps produce errors); any other
// error answers COORDINATOR_NOT_AVAILABLE. Read is only called by
// LoadPartition; the returned bytes are not retained past decoding.
type OffsetLog interface {
	// Append appends one v2 record batch (base offset 0, offsets assigned by the
	// log) and returns once it is committed (acks=all semantics).
	Append(ctx context.Context, batch []byte) (baseOffset int64, err error)
	// Read returns whole batches starting at the one containing offset, at most
	// about maxBytes (at least one batch); empty at the log end.
	Read(offset int64, maxBytes int) ([]byte, error)
	// LogStartOffset and LogEndOffset bound the readable range.
	LogStartOffset() int64
	LogEndOffset() int64
}
