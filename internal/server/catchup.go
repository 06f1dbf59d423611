package server

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strombroker/strom/replica"
)

// catchUpTimeout bounds how long one request that missed in this broker's
// metadata waits for it to catch up with the controller.
const catchUpTimeout = 5 * time.Second

// catchUp is the read barrier behind answers that would say "unknown topic"
// or "not the leader" from this broker's own metadata, which may lag the
// controller's by a few milliseconds: a client that just created a topic,
// or was told by another broker that this one leads a partition, must not be
// refused because this broker has not applied (or its reconciler not yet
// acted on) what the client already saw. That is how a kafka-python
// producer with retries=0 fails its very first send on a fresh cluster.
//
// It waits, within ctx and catchUpTimeout, until this broker has applied
// everything the controller had applied when asked (raftmeta's Sync: one
// round trip to the controller, none on the controller itself) and the
// reconciler has opened and led the replicas that says. Handlers call it at
// most once per request and only on a miss, then answer from the fresher
// state; if it cannot finish in time they answer from what they have.
func (s *Server) catchUp(ctx context.Context) {
	if s.meta.State().ControllerID < 0 {
		return // no controller to catch up with (an election, or cut off): answer now
	}
	ctx, cancel := context.WithTimeout(ctx, catchUpTimeout)
	defer cancel()
	if err := s.meta.Sync(ctx); err != nil {
		s.logger.Debug("metadata catch-up with the controller", "err", err)
		return
	}
	s.awaitLocal(ctx)
}

// isMiss reports whether a partition error may come from metadata that has
// not caught up yet (rather than from the request itself). A leader epoch
// newer than ours (UNKNOWN_LEADER_EPOCH) is one: the asker, often a
// follower starting to fetch a partition this broker was just made leader
// of, applied the controller's change first.
func isMiss(err error) bool {
	return errors.Is(err, errUnknownTopic) || errors.Is(err, errUnknownTopicID) ||
		errors.Is(err, kerr.NotLeaderForPartition) || errors.Is(err, replica.ErrNotLeader) ||
		errors.Is(err, replica.ErrNotHosted) || errors.Is(err, kerr.UnknownLeaderEpoch)
}

// isMissCode is isMiss for an error code already in a response.
func isMissCode(code int16) bool {
	return code == kerr.UnknownTopicOrPartition.Code || code == kerr.UnknownTopicID.Code ||
		code == kerr.NotLeaderForPartition.Code || code == kerr.UnknownLeaderEpoch.Code
}
