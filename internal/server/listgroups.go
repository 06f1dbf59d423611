package server

// ListGroups (key 16), v0-v5; served by the group coordinator.
//
//   - Spans every loaded __consumer_offsets partition of this broker; while
//     one loads the response carries COORDINATOR_LOAD_IN_PROGRESS with the
//     groups known so far.
//   - v4 filters by state, v5 by type ("classic"; "consumer" for KIP-848
//     groups, whose states are Empty, Assigning, Reconciling, Stable; and
//     "share" for KIP-932 groups, which also have protocol type "share");
//     both compare case-insensitively, as Kafka does.

import (
	"context"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/group"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleListGroups(ctx context.Context, req *wire.Request, r *kmsg.ListGroupsRequest) kmsg.Response {
	var states, types []string
	if r.Version >= 4 {
		states = r.StatesFilter
	}
	if r.Version >= 5 {
		types = r.TypesFilter
	}
	gs, err := s.groups.ListGroups(ctx, states, types)
	gs = append(gs, s.listShareGroups(states, types)...)
	resp := kmsg.NewPtrListGroupsResponse()
	resp.Version = r.Version
	resp.ErrorCode = errorCode(err)
	all := s.authorizeCluster(req, acl.OpDescribe) // Kafka: else only groups it may DESCRIBE
	for _, g := range gs {
		if !all && !s.authorize(req, acl.OpDescribe, acl.ResourceGroup, g.Group) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = g.Group, g.ProtocolType, g.GroupState, g.GroupType
		resp.Groups = append(resp.Groups, lg)
	}
	return resp
}

// listShareGroups lists the share groups this broker coordinates that
// pass the filters.
func (s *Server) listShareGroups(states, types []string) []group.ListedGroup {
	if len(types) > 0 && !slices.ContainsFunc(types, func(t string) bool { return strings.EqualFold(t, "share") }) {
		return nil
	}
	var out []group.ListedGroup
	for _, g := range s.shareGroups.List() {
		if len(states) > 0 && !slices.ContainsFunc(states, func(st string) bool { return strings.EqualFold(st, g.State) }) {
			continue
		}
		if s.shareGroupCoordinator(g.Group) != nil {
			continue
		}
		out = append(out, group.ListedGroup{Group: g.Group, ProtocolType: "share", GroupState: g.State, GroupType: "share"})
	}
	return out
}
