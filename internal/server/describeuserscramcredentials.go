package server

// DescribeUserScramCredentials: version 0.
//
// Behaviour:
//   - Users null or empty: every user with a SCRAM credential, sorted.
//   - A user named twice: DUPLICATE_RESOURCE for it (once); a user without
//     credentials: RESOURCE_NOT_FOUND (Kafka's messages).
//   - Each credential is reported as mechanism and iterations only; salts and
//     keys never leave the broker.
//   - Authorization: DESCRIBE on CLUSTER, as in Kafka; without it the
//     top-level error is CLUSTER_AUTHORIZATION_FAILED and no user is listed.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/sasl"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleDescribeUserScramCredentials(req *wire.Request, r *kmsg.DescribeUserSCRAMCredentialsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	resp.Version = r.Version
	if !s.authorizeCluster(req, acl.OpDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		resp.ErrorMessage = kmsg.StringPtr(kerr.ClusterAuthorizationFailed.Description)
		return resp
	}
	st := s.meta.State()
	var users []string
	if len(r.Users) == 0 {
		users = st.ScramUsers()
	} else {
		for _, u := range r.Users {
			users = append(users, u.Name)
		}
	}
	count := map[string]int{}
	for _, u := range users {
		count[u]++
	}
	for _, u := range users {
		if count[u] < 0 {
			continue // a duplicate already answered
		}
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = u
		switch creds := st.Scram[u]; {
		case count[u] > 1:
			res.ErrorCode = kerr.DuplicateResource.Code
			res.ErrorMessage = kmsg.StringPtr("Cannot describe SCRAM credentials for the same user twice in a single request: " + u)
			count[u] = -1
		case len(creds) == 0:
			res.ErrorCode = kerr.ResourceNotFound.Code
			res.ErrorMessage = kmsg.StringPtr("Attempt to describe a user credential that does not exist: " + u)
		default:
			for _, m := range []string{raftmeta.ScramSHA256, raftmeta.ScramSHA512} {
				if c, ok := creds[m]; ok {
					ci := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
					ci.Mechanism = sasl.ScramMechanismType(m)
					ci.Iterations = c.Iterations
					res.CredentialInfos = append(res.CredentialInfos, ci)
				}
			}
		}
		resp.Results = append(resp.Results, res)
	}
	return resp
}

// scramOp is one validated change of AlterUserScramCredentials.
type scramOp struct {
	user      string
	mechanism string
	upsert    *raftmeta.ScramCredential // nil for a deletion
}

// checkScramUpsertion validates one upsertion and derives the stored
// credential from the salted password the client sent.
func checkScramUpsertion(u kmsg.AlterUserSCRAMCredentialsRequestUpsertion) (scramOp, error) {
	mech := sasl.ScramMechanismName(u.Mechanism)
	switch {
	case u.Name == "":
		return scramOp{}, fmt.Errorf("%w: Username must not be empty", kerr.UnacceptableCredential)
	case mech == "":
		return scramOp{}, fmt.Errorf("%w: Unknown SCRAM mechanism %d", kerr.UnsupportedSaslMechanism, u.Mechanism)
	case u.Iterations < sasl.MinIterations:
		return scramOp{}, fmt.Errorf("%w: Too few iterations (%d < %d)", kerr.UnacceptableCredential, u.Iterations, sasl.MinIterations)
	case u.Iterations > sasl.MaxIterations:
		return scramOp{}, fmt.Errorf("%w: Too many iterations (%d > %d)", kerr.UnacceptableCredential, u.Iterations, sasl.MaxIterations)
	case len(u.Salt) == 0 || len(u.Salt) > 1024:
		return scramOp{}, fmt.Errorf("%w: Salt must be 1 to 1024 bytes", kerr.UnacceptableCredential)
	case len(u.SaltedPassword) == 0 || len(u.SaltedPassword) > 1024:
		return scramOp{}, fmt.Errorf("%w: Salted password must be 1 to 1024 bytes", kerr.UnacceptableCredential)
	}
	c, err := sasl.CredentialFromSaltedPassword(mech, u.Salt, u.SaltedPassword, int(u.Iterations))
	if err != nil {
		return scramOp{}, fmt.Errorf("%w: %v", kerr.UnacceptableCredential, err)
	}
	rc := raftmeta.ScramCredential{Salt: c.Salt, Iterations: int32(c.Iterations), StoredKey: c.StoredKey, ServerKey: c.ServerKey}
	return scramOp{user: u.Name, mechanism: mech, upsert: &rc}, nil
}
