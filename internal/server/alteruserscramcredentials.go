package server

// AlterUserScramCredentials: version 0.
//
// Behaviour:
//   - Deletions and upsertions are answered per user; a user with any bad
//     change gets that error and none of its changes are made:
//     DUPLICATE_RESOURCE for a (user, mechanism) named twice in the request,
//     UNSUPPORTED_SASL_MECHANISM for a mechanism other than SCRAM-SHA-256 (1)
//     or SCRAM-SHA-512 (2), UNACCEPTABLE_CREDENTIAL for an empty user,
//     iterations outside 4096..16384 or an empty salt or salted password,
//     RESOURCE_NOT_FOUND for deleting a credential that does not exist.
//   - The valid changes go to the controller as one metadata entry
//     (forwarded from any broker), holding salt, iterations, StoredKey and
//     ServerKey derived from the client's salted password; the password
//     itself never reaches the broker.
//   - Authorization: ALTER on CLUSTER, as in Kafka; without it every user is
//     answered CLUSTER_AUTHORIZATION_FAILED and nothing changes.

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/sasl"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleAlterUserScramCredentials(ctx context.Context, req *wire.Request, r *kmsg.AlterUserSCRAMCredentialsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	resp.Version = r.Version
	ops, userErr, order := s.planScramChanges(r)
	if !s.authorizeCluster(req, acl.OpAlter) {
		for _, u := range order {
			res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
			res.User = u
			res.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			res.ErrorMessage = kmsg.StringPtr(kerr.ClusterAuthorizationFailed.Description)
			resp.Results = append(resp.Results, res)
		}
		return resp
	}

	var dels []raftmeta.ScramDeletion
	var ups []raftmeta.ScramUpsert
	for _, op := range ops {
		if userErr[op.user] != nil {
			continue
		}
		if op.upsert == nil {
			dels = append(dels, raftmeta.ScramDeletion{User: op.user, Mechanism: op.mechanism})
		} else {
			ups = append(ups, raftmeta.ScramUpsert{User: op.user, Mechanism: op.mechanism, Credential: *op.upsert})
		}
	}
	if len(dels)+len(ups) > 0 {
		ctx, cancel := context.WithTimeout(ctx, requestTimeout(0))
		defer cancel()
		if err := s.meta.AlterScramCredentials(ctx, dels, ups); err != nil {
			for _, u := range order {
				if userErr[u] == nil {
					userErr[u] = err
				}
			}
		}
	}
	for _, u := range order {
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User = u
		if err := userErr[u]; err != nil {
			res.ErrorCode = errorCode(err)
			res.ErrorMessage = errorMessage(err)
		}
		resp.Results = append(resp.Results, res)
	}
	return resp
}

// planScramChanges validates every change against the request and the
// current state. It returns the changes, the first error of each user that
// has one, and the users in the order they first appear.
func (s *Server) planScramChanges(r *kmsg.AlterUserSCRAMCredentialsRequest) ([]scramOp, map[string]error, []string) {
	st := s.meta.State()
	userErr := map[string]error{}
	var order []string
	seen := map[[2]string]bool{}
	var ops []scramOp
	note := func(user, mech string, err error) {
		if !slices.Contains(order, user) {
			order = append(order, user)
		}
		key := [2]string{user, mech}
		if mech != "" && seen[key] && userErr[user] == nil {
			err = fmt.Errorf("%w: A user credential cannot be altered twice in the same request", kerr.DuplicateResource)
		}
		seen[key] = true
		if err != nil && userErr[user] == nil {
			userErr[user] = err
		}
	}
	for _, d := range r.Deletions {
		mech := sasl.ScramMechanismName(d.Mechanism)
		var err error
		switch {
		case d.Name == "":
			err = fmt.Errorf("%w: Username must not be empty", kerr.UnacceptableCredential)
		case mech == "":
			err = fmt.Errorf("%w: Unknown SCRAM mechanism %d", kerr.UnsupportedSaslMechanism, d.Mechanism)
		default:
			if _, ok := st.ScramCredential(d.Name, mech); !ok {
				err = fmt.Errorf("%w: Attempt to delete a user credential that does not exist", kerr.ResourceNotFound)
			}
		}
		note(d.Name, mech, err)
		ops = append(ops, scramOp{user: d.Name, mechanism: mech})
	}
	for _, u := range r.Upsertions {
		op, err := checkScramUpsertion(u)
		note(u.Name, sasl.ScramMechanismName(u.Mechanism), err)
		if err == nil {
			ops = append(ops, op)
		}
	}
	return ops, userErr, order
}
