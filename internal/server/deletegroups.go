package server

// DeleteGroups (key 42), v0-v2; served by the group coordinator.
//
//   - Deletes only Empty groups (NON_EMPTY_GROUP otherwise; an unknown group
//     GROUP_ID_NOT_FOUND), writing tombstones for the group metadata and
//     every committed offset; each group has its own error.
//   - v3 (KIP-1043 error messages) is not implemented.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleDeleteGroups(ctx context.Context, r *kmsg.DeleteGroupsRequest) kmsg.Response {
	resp := kmsg.NewPtrDeleteGroupsResponse()
	resp.Version = r.Version
	for _, g := range s.groups.DeleteGroups(ctx, r.Groups) {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group, rg.ErrorCode = g.Group, errorCode(g.Err)
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}
