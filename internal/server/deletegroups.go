package server

// DeleteGroups (key 42), v0-v2; served by the group coordinator.
//
//   - Deletes only Empty groups (NON_EMPTY_GROUP otherwise; an unknown group
//     GROUP_ID_NOT_FOUND), writing tombstones for the group metadata and
//     every committed offset; each group has its own error.
//   - v3 (KIP-1043 error messages) is not implemented.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleDeleteGroups(ctx context.Context, req *wire.Request, r *kmsg.DeleteGroupsRequest) kmsg.Response {
	resp := kmsg.NewPtrDeleteGroupsResponse()
	resp.Version = r.Version
	// Each group needs DELETE (GROUP_AUTHORIZATION_FAILED, Kafka's check).
	var allowed []string
	for _, g := range r.Groups {
		if s.authorize(req, acl.OpDelete, acl.ResourceGroup, g) {
			allowed = append(allowed, g)
		} else {
			rg := kmsg.NewDeleteGroupsResponseGroup()
			rg.Group, rg.ErrorCode = g, kerr.GroupAuthorizationFailed.Code
			resp.Groups = append(resp.Groups, rg)
		}
	}
	if len(allowed) == 0 {
		return resp
	}
	for _, g := range s.groups.DeleteGroups(ctx, allowed) {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group, rg.ErrorCode = g.Group, errorCode(g.Err)
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}
