package server

// DescribeAcls (key 29), v0-3.
//
// Behaviour:
//   - Needs DESCRIBE on the cluster (CLUSTER_AUTHORIZATION_FAILED).
//   - With no authorizer configured: SECURITY_DISABLED, as Kafka.
//   - The filter (resource type, name, pattern type ANY/MATCH/LITERAL/
//     PREFIXED, principal, host, operation, permission) is Kafka's
//     AclBindingFilter; an unknown code is INVALID_REQUEST. Matching ACLs
//     are grouped by resource pattern.
//
// Version notes:
//   - v0 has no pattern type: the filter is LITERAL.
//   - v2+ flexible.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleDescribeACLs(req *wire.Request, r *kmsg.DescribeACLsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeACLsResponse)
	resp.Version = r.Version
	fail := func(err error) kmsg.Response {
		resp.ErrorCode = errorCode(err)
		resp.ErrorMessage = errorMessage(err)
		return resp
	}
	if err := s.aclAPIError(req, acl.OpDescribe); err != nil {
		return fail(err)
	}
	f := aclFilter(r.Version, int8(r.ResourceType), r.ResourceName, int8(r.ResourcePatternType), r.Principal, r.Host, int8(r.Operation), int8(r.PermissionType))
	if err := f.Validate(); err != nil {
		return fail(invalidACL(err))
	}
	bindings := s.authz.current(s.meta.State()).Bindings(f)
	for _, b := range bindings {
		n := len(resp.Resources)
		if n == 0 || !samePattern(resp.Resources[n-1], b) {
			res := kmsg.NewDescribeACLsResponseResource()
			res.ResourceType = kmsg.ACLResourceType(b.ResourceType)
			res.ResourceName = b.ResourceName
			res.ResourcePatternType = kmsg.ACLResourcePatternType(b.PatternType)
			resp.Resources = append(resp.Resources, res)
			n++
		}
		a := kmsg.NewDescribeACLsResponseResourceACL()
		a.Principal, a.Host = b.Principal, b.Host
		a.Operation = kmsg.ACLOperation(b.Operation)
		a.PermissionType = kmsg.ACLPermissionType(b.Permission)
		resp.Resources[n-1].ACLs = append(resp.Resources[n-1].ACLs, a)
	}
	return resp
}

// samePattern: bindings come sorted by type, pattern type and name, so
// one resource's ACLs are adjacent.
func samePattern(r kmsg.DescribeACLsResponseResource, b acl.Binding) bool {
	return acl.ResourceType(r.ResourceType) == b.ResourceType && r.ResourceName == b.ResourceName &&
		acl.PatternType(r.ResourcePatternType) == b.PatternType
}

// aclFilter builds a filter from a DescribeAcls or DeleteAcls request;
// before v1 requests have no pattern type and mean LITERAL.
func aclFilter(version int16, rt int8, name *string, pt int8, principal, host *string, op, perm int8) acl.Filter {
	if version < 1 {
		pt = int8(acl.PatternLiteral)
	}
	return acl.Filter{
		ResourceType: acl.ResourceType(rt), ResourceName: name, PatternType: acl.PatternType(pt),
		Principal: principal, Host: host, Operation: acl.Operation(op), Permission: acl.Permission(perm),
	}
}
