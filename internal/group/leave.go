package group

// LeaveGroup removes members: v0-v2 name one member id; v3+ (KIP-345) a batch
// of members by member id and/or group.instance.id, each with its own
// outcome; an empty member id with an instance id removes the static member
// registered under it. A leaving member triggers a rebalance of the rest.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// LeaveGroup removes members from a group. It returns one error per leaving
// member (req.Members, or req.MemberID before v3) unless the whole request
// fails.
func (c *Coordinator) LeaveGroup(_ context.Context, req *kmsg.LeaveGroupRequest) ([]error, error) {
	leaving := req.Members
	if req.Version < 3 {
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = req.MemberID
		leaving = []kmsg.LeaveGroupRequestMember{lm}
	}
	if err := checkVersion(apiLeaveGroup, req.Version); err != nil {
		return nil, err
	}
	if req.Group == "" {
		return nil, ErrInvalidGroupID
	}
	_, g, err := c.lookup(req.Group)
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(leaving))
	if g == nil {
		for i, lm := range leaving {
			errs[i] = fmt.Errorf("%w: %q: no group %q", ErrUnknownMemberID, lm.MemberID, req.Group)
		}
		return errs, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.closedErr(); err != nil {
		return nil, err
	}
	for i, lm := range leaving {
		errs[i] = g.leaveOne(lm)
	}
	return errs, nil
}

func (g *group) leaveOne(lm kmsg.LeaveGroupRequestMember) error {
	if lm.Reason != nil {
		g.c.log.Debug("leave group", "group", g.id, "member", lm.MemberID, "reason", *lm.Reason)
	}
	id := lm.MemberID
	if id == "" && lm.InstanceID != nil {
		id = g.static[*lm.InstanceID]
	}
	if _, ok := g.pending[id]; ok && id != "" {
		if lm.InstanceID != nil {
			return fmt.Errorf("%w: %s is a pending dynamic id", ErrUnknownMemberID, id)
		}
		g.removePending(id)
		g.maybeCompleteJoin()
		return nil
	}
	if g.fenced(lm.InstanceID, id) {
		return g.fencedErr(lm.InstanceID, id)
	}
	m := g.members[id]
	if m == nil {
		return g.unknownMemberErr(id)
	}
	g.removeMemberAndUpdate(m, "member "+id+" left")
	return nil
}
