package group

// Heartbeat resets the member's session timer. ErrRebalanceInProgress while
// the group is PreparingRebalance tells the member to rejoin; success in
// CompletingRebalance (members may heartbeat between join and sync). While
// the partition loads the answer is success, as in Kafka.

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Heartbeat keeps a member alive and tells it whether to rejoin.
func (c *Coordinator) Heartbeat(_ context.Context, req *kmsg.HeartbeatRequest) error {
	if err := checkVersion(apiHeartbeat, req.Version); err != nil {
		return err
	}
	if req.Group == "" {
		return ErrInvalidGroupID
	}
	_, g, err := c.lookup(req.Group)
	switch {
	case errors.Is(err, ErrLoadInProgress):
		return nil
	case err != nil:
		return err
	case g == nil:
		return fmt.Errorf("%w: %s: no group %q", ErrUnknownMemberID, req.MemberID, req.Group)
	}
	var instanceID *string
	if req.Version >= 3 {
		instanceID = req.InstanceID
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.closedErr(); err != nil {
		return err
	}
	m := g.members[req.MemberID]
	switch {
	case g.fenced(instanceID, req.MemberID):
		return g.fencedErr(instanceID, req.MemberID)
	case m == nil:
		return g.unknownMemberErr(req.MemberID)
	case req.Generation != g.generation:
		return g.illegalGenerationErr(req.Generation)
	}
	switch g.state {
	case statePreparingRebalance:
		g.scheduleSession(m)
		return fmt.Errorf("%w: group %q", ErrRebalanceInProgress, g.id)
	case stateCompletingRebalance, stateStable:
		g.scheduleSession(m)
		return nil
	default:
		return g.unknownMemberErr(req.MemberID)
	}
}
