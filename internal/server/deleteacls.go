package server

// DeleteAcls (key 31), v0-3.
//
// Behaviour:
//   - Needs ALTER on the cluster (CLUSTER_AUTHORIZATION_FAILED for every
//     filter). With no authorizer configured: SECURITY_DISABLED.
//   - Each filter is Kafka's AclBindingFilter (see DescribeAcls); an
//     unknown code is INVALID_REQUEST. This broker resolves the filters
//     against its metadata into exact ACLs and the controller deletes
//     those in one command, so every replica deletes the same ones. Each
//     filter's result lists the ACLs it matched that were deleted (an ACL
//     matched by two filters is listed under both, as Kafka).
//
// Version notes:
//   - v0 has no pattern type: LITERAL. v2+ flexible.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleDeleteACLs(ctx context.Context, req *wire.Request, r *kmsg.DeleteACLsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DeleteACLsResponse)
	resp.Version = r.Version
	topErr := s.aclAPIError(req, acl.OpAlter)
	errs := make([]error, len(r.Filters))
	matched := make([][]acl.Binding, len(r.Filters))
	var all []raftmeta.ACL
	seen := map[acl.Binding]bool{}
	for i, rf := range r.Filters {
		if errs[i] = topErr; topErr != nil {
			continue
		}
		f := aclFilter(r.Version, int8(rf.ResourceType), rf.ResourceName, int8(rf.ResourcePatternType), rf.Principal, rf.Host, int8(rf.Operation), int8(rf.PermissionType))
		if errs[i] = invalidACL(f.Validate()); errs[i] != nil {
			continue
		}
		matched[i] = s.authz.current(s.meta.State()).Bindings(f)
		for _, b := range matched[i] {
			if !seen[b] {
				seen[b] = true
				all = append(all, aclOf(b))
			}
		}
	}
	deleted := map[raftmeta.ACL]bool{}
	var delErr error
	if len(all) > 0 {
		ctx, cancel := context.WithTimeout(ctx, requestTimeout(0))
		defer cancel()
		gone, err := s.meta.DeleteACLs(ctx, all)
		delErr = invalidACL(err)
		for _, a := range gone {
			deleted[a] = true
		}
	}
	for i := range r.Filters {
		resp.Results = append(resp.Results, deleteACLsResult(errs[i], delErr, matched[i], deleted))
	}
	return resp
}

// deleteACLsResult is one filter's answer: its own error, else the
// deletion's error, else the matched ACLs that were deleted.
func deleteACLsResult(err, delErr error, matched []acl.Binding, deleted map[raftmeta.ACL]bool) kmsg.DeleteACLsResponseResult {
	res := kmsg.NewDeleteACLsResponseResult()
	if err == nil && len(matched) > 0 {
		err = delErr
	}
	if err != nil {
		res.ErrorCode = errorCode(err)
		res.ErrorMessage = errorMessage(err)
		return res
	}
	for _, b := range matched {
		if !deleted[aclOf(b)] {
			continue // deleted meanwhile by someone else
		}
		m := kmsg.NewDeleteACLsResponseResultMatchingACL()
		m.ResourceType = kmsg.ACLResourceType(b.ResourceType)
		m.ResourceName = b.ResourceName
		m.ResourcePatternType = kmsg.ACLResourcePatternType(b.PatternType)
		m.Principal, m.Host = b.Principal, b.Host
		m.Operation = kmsg.ACLOperation(b.Operation)
		m.PermissionType = kmsg.ACLPermissionType(b.Permission)
		res.MatchingACLs = append(res.MatchingACLs, m)
	}
	return res
}
