package group

// LeaveGroup (key 13), v0-v5.
//
//   - v0-v2 name one member id; the member's error is the top-level error.
//   - v3 (KIP-345) names a batch of members by member id and/or
//     group.instance.id, each with its own error; an empty member id with an
//     instance id removes the static member registered under it.
//   - v5 adds a per-member reason (logged).
//   - A leaving member triggers a rebalance of the remaining members.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// LeaveGroup removes members from a group.
func (c *Coordinator) LeaveGroup(_ context.Context, req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	resp := kmsg.NewPtrLeaveGroupResponse()
	resp.Version = req.Version
	leaving := req.Members
	if req.Version < 3 {
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = req.MemberID
		leaving = []kmsg.LeaveGroupRequestMember{lm}
	}
	top, codes := c.leave(req, leaving)
	resp.ErrorCode = top
	if req.Version < 3 {
		if top == 0 && len(codes) == 1 {
			resp.ErrorCode = codes[0]
		}
		return resp
	}
	if top != 0 {
		return resp
	}
	for i, lm := range leaving {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ErrorCode = lm.MemberID, lm.InstanceID, codes[i]
		resp.Members = append(resp.Members, rm)
	}
	return resp
}

func (c *Coordinator) leave(req *kmsg.LeaveGroupRequest, leaving []kmsg.LeaveGroupRequestMember) (int16, []int16) {
	codes := make([]int16, len(leaving))
	if req.Version < 0 || req.Version > Versions[apiLeaveGroup][1] {
		return kerr.UnsupportedVersion.Code, codes
	}
	if req.Group == "" {
		return kerr.InvalidGroupID.Code, codes
	}
	_, g, code := c.lookup(req.Group)
	if code != 0 {
		return code, codes
	}
	if g == nil {
		for i := range codes {
			codes[i] = kerr.UnknownMemberID.Code
		}
		return 0, codes
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if code := g.closedCode(); code != 0 {
		return code, codes
	}
	for i, lm := range leaving {
		codes[i] = g.leaveOne(lm)
	}
	return 0, codes
}

func (g *group) leaveOne(lm kmsg.LeaveGroupRequestMember) int16 {
	if lm.Reason != nil {
		g.c.log.Debug("leave group", "group", g.id, "member", lm.MemberID, "reason", *lm.Reason)
	}
	id := lm.MemberID
	if id == "" && lm.InstanceID != nil {
		id = g.static[*lm.InstanceID]
	}
	if _, ok := g.pending[id]; ok && id != "" {
		if lm.InstanceID != nil {
			return kerr.UnknownMemberID.Code
		}
		g.removePending(id)
		g.maybeCompleteJoin()
		return 0
	}
	if g.fenced(lm.InstanceID, id) {
		return kerr.FencedInstanceID.Code
	}
	m := g.members[id]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	g.removeMemberAndUpdate(m, "member "+id+" left")
	return 0
}
