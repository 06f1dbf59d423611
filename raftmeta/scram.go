package raftmeta

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// SCRAM credentials (Kafka's UserScramCredentialsRecord): user → mechanism
// → salt, iterations, StoredKey and ServerKey. The password never reaches
// the metadata: AlterUserScramCredentials carries a salted password, from
// which the server derives the two keys before proposing.

// SCRAM mechanism names, as Kafka spells them.
const (
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

// Bounds on a credential, checked by the proposer and the FSM alike.
const (
	// MinScramIterations and MaxScramIterations are Kafka's bounds.
	MinScramIterations = 4096
	MaxScramIterations = 16384
	// maxScramUserLen caps a SCRAM user name.
	maxScramUserLen = 1024
	// maxScramBytes caps a salt or key (SHA-512 keys are 64 bytes).
	maxScramBytes = 1024
	// maxScramOps caps the changes of one command.
	maxScramOps = 10_000
)

// ScramCredential is one user's credential for one mechanism.
type ScramCredential struct {
	Salt       []byte
	Iterations int32
	StoredKey  []byte
	ServerKey  []byte
}

// ScramUpsert sets User's credential for Mechanism.
type ScramUpsert struct {
	User       string
	Mechanism  string
	Credential ScramCredential
}

// ScramDeletion removes User's credential for Mechanism.
type ScramDeletion struct {
	User      string
	Mechanism string
}

// ScramCredential returns user's credential for mechanism.
func (s *State) ScramCredential(user, mechanism string) (ScramCredential, bool) {
	c, ok := s.Scram[user][mechanism]
	return c, ok
}

// ScramUsers returns the users with at least one credential, sorted.
func (s *State) ScramUsers() []string {
	return slices.Sorted(maps.Keys(s.Scram))
}

// alterScramCredentialsCmd applies deletions, then upserts. Deleting a
// credential that is not there changes nothing (the server answers
// RESOURCE_NOT_FOUND from its own state before proposing; a race with
// another deletion is harmless).
type alterScramCredentialsCmd struct {
	Deletions []ScramDeletion `json:"deletions,omitempty"`
	Upserts   []ScramUpsert   `json:"upserts,omitempty"`
}

func validScramMechanism(m string) bool { return m == ScramSHA256 || m == ScramSHA512 }

func (c *alterScramCredentialsCmd) validate() error {
	if len(c.Deletions)+len(c.Upserts) > maxScramOps {
		return fmt.Errorf("%w: %d SCRAM credential changes in one command (limit %d)", ErrInvalidScramCredential, len(c.Deletions)+len(c.Upserts), maxScramOps)
	}
	check := func(user, mech string) error {
		if user == "" || len(user) > maxScramUserLen {
			return fmt.Errorf("%w: user name of %d bytes", ErrInvalidScramCredential, len(user))
		}
		if !validScramMechanism(mech) {
			return fmt.Errorf("%w: mechanism %q", ErrInvalidScramCredential, mech)
		}
		return nil
	}
	for _, d := range c.Deletions {
		if err := check(d.User, d.Mechanism); err != nil {
			return err
		}
	}
	for _, u := range c.Upserts {
		if err := check(u.User, u.Mechanism); err != nil {
			return err
		}
		cr := u.Credential
		if cr.Iterations < MinScramIterations || cr.Iterations > MaxScramIterations {
			return fmt.Errorf("%w: iterations %d outside %d..%d", ErrInvalidScramCredential, cr.Iterations, MinScramIterations, MaxScramIterations)
		}
		if len(cr.Salt) == 0 || len(cr.Salt) > maxScramBytes || len(cr.StoredKey) == 0 || len(cr.StoredKey) > maxScramBytes ||
			len(cr.ServerKey) == 0 || len(cr.ServerKey) > maxScramBytes {
			return fmt.Errorf("%w: salt or key of %s for %q empty or too long", ErrInvalidScramCredential, u.Mechanism, u.User)
		}
	}
	return nil
}

func (c *alterScramCredentialsCmd) apply(s *State) (*State, applyResult) {
	next := s.clone()
	users := make(map[string]map[string]ScramCredential, len(s.Scram)+len(c.Upserts))
	maps.Copy(users, s.Scram) // inner maps are shared until changed below
	owned := map[string]bool{}
	edit := func(user string) map[string]ScramCredential {
		if !owned[user] {
			users[user] = maps.Clone(users[user])
			if users[user] == nil {
				users[user] = map[string]ScramCredential{}
			}
			owned[user] = true
		}
		return users[user]
	}
	for _, d := range c.Deletions {
		if _, ok := users[d.User][d.Mechanism]; ok {
			delete(edit(d.User), d.Mechanism)
		}
	}
	for _, u := range c.Upserts {
		edit(u.User)[u.Mechanism] = u.Credential.clone()
	}
	for user, m := range users {
		if len(m) == 0 {
			delete(users, user)
		}
	}
	next.Scram = users
	return next, applyResult{}
}

func (c ScramCredential) clone() ScramCredential {
	c.Salt = slices.Clone(c.Salt)
	c.StoredKey = slices.Clone(c.StoredKey)
	c.ServerKey = slices.Clone(c.ServerKey)
	return c
}

// alterScramArgs is AlterScramCredentials as it travels to the controller.
type alterScramArgs struct {
	Deletions []ScramDeletion
	Upserts   []ScramUpsert
}

var fwdAlterScramCredentials = forwardMethod[alterScramArgs, struct{}]{"AlterScramCredentials", (*Node).alterScramCredentialsLocal}

// AlterScramCredentials deletes and sets SCRAM credentials in one metadata
// entry. It runs on the controller, forwarded there from any node; when it
// returns, this node's State() holds the change.
func (n *Node) AlterScramCredentials(ctx context.Context, deletions []ScramDeletion, upserts []ScramUpsert) error {
	_, err := fwdAlterScramCredentials.call(ctx, n, alterScramArgs{Deletions: deletions, Upserts: upserts})
	return err
}

func (n *Node) alterScramCredentialsLocal(ctx context.Context, a alterScramArgs) (struct{}, error) {
	if err := n.checkWritable(); err != nil {
		return struct{}{}, err
	}
	cmd := &alterScramCredentialsCmd{Deletions: a.Deletions, Upserts: a.Upserts}
	_, err := n.proposeChecked(ctx, n.fsm.current(), cmdAlterScramCredentials, cmd, false)
	return struct{}{}, err
}

// scramSnapshot is a user's credentials in a snapshot (sorted by user).
type scramSnapshot struct {
	User        string                     `json:"user"`
	Credentials map[string]ScramCredential `json:"credentials"`
}

func encodeScram(s *State) []scramSnapshot {
	var out []scramSnapshot
	for _, u := range s.ScramUsers() {
		out = append(out, scramSnapshot{User: u, Credentials: s.Scram[u]})
	}
	return out
}

func decodeScram(s *State, in []scramSnapshot) error {
	if len(in) == 0 {
		return nil
	}
	s.Scram = make(map[string]map[string]ScramCredential, len(in))
	for _, u := range in {
		if _, dup := s.Scram[u.User]; dup || u.User == "" || len(u.Credentials) == 0 {
			return fmt.Errorf("%w: snapshot has a missing, empty or duplicate SCRAM user", ErrCorruptCommand)
		}
		s.Scram[u.User] = u.Credentials
	}
	return nil
}
