package server

// CreateAcls (key 30), v0-3.
//
// Behaviour:
//   - Needs ALTER on the cluster (CLUSTER_AUTHORIZATION_FAILED for every
//     creation). With no authorizer configured: SECURITY_DISABLED.
//   - Each creation is checked as Kafka does (INVALID_REQUEST with a
//     message): a concrete resource type, LITERAL or PREFIXED pattern,
//     operation and permission; a non-empty name; "kafka-cluster" as the
//     only CLUSTER name; a principal of the form Type:Name; a host.
//   - The valid ones are written to the replicated metadata in one
//     command through the controller; creating an existing ACL succeeds
//     and keeps it once.
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

func (s *Server) handleCreateACLs(ctx context.Context, req *wire.Request, r *kmsg.CreateACLsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.CreateACLsResponse)
	resp.Version = r.Version
	topErr := s.aclAPIError(req, acl.OpAlter)
	errs := make([]error, len(r.Creations))
	var valid []raftmeta.ACL
	var validIdx []int
	for i, c := range r.Creations {
		if topErr != nil {
			errs[i] = topErr
			continue
		}
		b := acl.Binding{
			ResourceType: acl.ResourceType(c.ResourceType), ResourceName: c.ResourceName,
			PatternType: acl.PatternType(c.ResourcePatternType), Principal: c.Principal, Host: c.Host,
			Operation: acl.Operation(c.Operation), Permission: acl.Permission(c.PermissionType),
		}
		if r.Version < 1 {
			b.PatternType = acl.PatternLiteral
		}
		if errs[i] = invalidACL(b.Validate()); errs[i] == nil {
			valid = append(valid, aclOf(b))
			validIdx = append(validIdx, i)
		}
	}
	if len(valid) > 0 {
		ctx, cancel := context.WithTimeout(ctx, requestTimeout(0))
		defer cancel()
		if err := invalidACL(s.meta.CreateACLs(ctx, valid)); err != nil {
			for _, i := range validIdx {
				errs[i] = err
			}
		}
	}
	for _, err := range errs {
		res := kmsg.NewCreateACLsResponseResult()
		if err != nil {
			res.ErrorCode = errorCode(err)
			res.ErrorMessage = errorMessage(err)
		}
		resp.Results = append(resp.Results, res)
	}
	return resp
}
