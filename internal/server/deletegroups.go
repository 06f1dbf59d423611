package server

// DeleteGroups (key 42), v0-v2; served by the group coordinator.
//
//   - Deletes only Empty groups (NON_EMPTY_GROUP otherwise; an unknown group
//     GROUP_ID_NOT_FOUND), writing tombstones for the group metadata and
//     every committed offset; each group has its own error.
//   - A share group (KIP-932) is deleted when empty with the state of
//     every share-partition of its topics (DeleteShareGroupState at the
//     share coordinators) and its group configs.
//   - v3 (KIP-1043 error messages) is not implemented.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/share"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleDeleteGroups(ctx context.Context, req *wire.Request, r *kmsg.DeleteGroupsRequest) kmsg.Response {
	resp := kmsg.NewPtrDeleteGroupsResponse()
	resp.Version = r.Version
	// Each group needs DELETE (GROUP_AUTHORIZATION_FAILED, Kafka's check).
	var allowed []string
	for _, g := range r.Groups {
		if s.authorize(req, acl.OpDelete, acl.ResourceGroup, g) && s.shareGroups.Exists(g) {
			rg := kmsg.NewDeleteGroupsResponseGroup()
			rg.Group = g
			err := s.deleteShareGroup(ctx, g)
			rg.ErrorCode = errorCode(err)
			resp.Groups = append(resp.Groups, rg)
		} else if s.authorize(req, acl.OpDelete, acl.ResourceGroup, g) {
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

// deleteShareGroup deletes an empty share group and its share-partitions'
// state.
func (s *Server) deleteShareGroup(ctx context.Context, g string) error {
	if err := s.shareGroupCoordinator(g); err != nil {
		return err
	}
	if err := s.shareGroups.Ensure(g); err != nil {
		return err
	}
	topics, err := s.shareGroups.Topics(g)
	if err != nil {
		return err
	}
	st := s.meta.State()
	for _, name := range topics {
		t := st.Topics[name]
		if t == nil {
			continue
		}
		for i := range t.Partitions {
			if err := (sharePersister{s}).Delete(ctx, share.Key{Group: g, TopicID: t.ID, Partition: int32(i)}); err != nil {
				return err
			}
		}
	}
	if err := s.shareGroups.Delete(g); err != nil {
		return err
	}
	// Its group configs go with it, as in Kafka.
	var ops []raftmeta.ConfigOp
	for k := range s.meta.State().GroupConfigs[g] {
		ops = append(ops, raftmeta.ConfigOp{Key: k})
	}
	if len(ops) == 0 {
		return nil
	}
	return s.meta.AlterGroupConfigs(ctx, g, ops)
}
