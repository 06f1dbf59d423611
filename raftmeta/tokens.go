package raftmeta

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// Delegation tokens (KIP-48, Kafka's DelegationTokenRecord): State.Tokens
// maps a token id to its owner, renewers and timestamps. The HMAC is never
// stored: every broker derives it from the token id and its
// delegation.token.secret.key, as Kafka's do. Timestamps are decided by the
// proposer (the FSM must not read the clock); a command may also prune the
// tokens that expired before its PruneBefore, which keeps the map bounded
// without a timer.

// maxTokens bounds the number of live delegation tokens.
const maxTokens = 100000

// DelegationToken is one token. Principals are "Type:name" strings.
type DelegationToken struct {
	TokenID   string   `json:"token_id"`
	Owner     string   `json:"owner"`
	Requester string   `json:"requester"`
	Renewers  []string `json:"renewers,omitempty"`
	IssueMs   int64    `json:"issue_ms"`
	MaxMs     int64    `json:"max_ms"`
	ExpiryMs  int64    `json:"expiry_ms"`
}

type delegationTokenCmd struct {
	// Put creates or replaces (renews, expires later) a token.
	Put *DelegationToken `json:"put,omitempty"`
	// Remove deletes a token (expired at once).
	Remove string `json:"remove,omitempty"`
	// PruneBefore deletes every token whose expiry is before it (0: none).
	PruneBefore int64 `json:"prune_before,omitempty"`
}

func (c *delegationTokenCmd) validate() error {
	if p := c.Put; p != nil {
		if p.TokenID == "" || len(p.TokenID) > maxFieldLen || p.Owner == "" || len(p.Owner) > maxFieldLen ||
			len(p.Requester) > maxFieldLen || len(p.Renewers) > maxConfigs || p.ExpiryMs > p.MaxMs || p.IssueMs > p.MaxMs {
			return fmt.Errorf("%w: delegation token %+v", ErrInvalidConfig, *p)
		}
		for _, r := range p.Renewers {
			if r == "" || len(r) > maxFieldLen {
				return fmt.Errorf("%w: delegation token renewer %q", ErrInvalidConfig, r)
			}
		}
	}
	if len(c.Remove) > maxFieldLen {
		return fmt.Errorf("%w: delegation token id %q", ErrInvalidConfig, c.Remove)
	}
	return nil
}

func (c *delegationTokenCmd) apply(s *State) (*State, applyResult) {
	nt := maps.Clone(s.Tokens)
	if nt == nil {
		nt = map[string]DelegationToken{}
	}
	if c.PruneBefore > 0 {
		maps.DeleteFunc(nt, func(_ string, t DelegationToken) bool { return t.ExpiryMs < c.PruneBefore })
	}
	if c.Remove != "" {
		delete(nt, c.Remove)
	}
	if p := c.Put; p != nil {
		if _, ok := nt[p.TokenID]; !ok && len(nt) >= maxTokens {
			return nil, applyResult{err: fmt.Errorf("%w: %d delegation tokens, the limit", ErrInvalidConfig, maxTokens)}
		}
		t := *p
		t.Renewers = slices.Clone(p.Renewers)
		nt[t.TokenID] = t
	}
	next := s.clone()
	next.Tokens = nt
	if len(nt) == 0 {
		next.Tokens = nil
	}
	return next, applyResult{}
}

func encodeTokens(s *State) []DelegationToken {
	var out []DelegationToken
	for _, id := range slices.Sorted(maps.Keys(s.Tokens)) {
		out = append(out, s.Tokens[id])
	}
	return out
}

func decodeTokens(s *State, in []DelegationToken) error {
	for _, t := range in {
		if _, dup := s.Tokens[t.TokenID]; dup || t.TokenID == "" {
			return fmt.Errorf("%w: snapshot delegation token %q duplicate or empty", ErrCorruptCommand, t.TokenID)
		}
		if s.Tokens == nil {
			s.Tokens = map[string]DelegationToken{}
		}
		s.Tokens[t.TokenID] = t
	}
	return nil
}

type delegationTokenArgs struct {
	Put         *DelegationToken
	Remove      string
	PruneBefore int64
}

var fwdDelegationToken = forwardMethod[delegationTokenArgs, struct{}]{"DelegationToken", (*Node).delegationTokenLocal}

// PutDelegationToken creates or replaces a token, pruning the tokens that
// expired before pruneBefore (Unix ms, 0 for none). The caller decides
// the token's fields. It runs on the controller, forwarded there from any
// node.
func (n *Node) PutDelegationToken(ctx context.Context, t DelegationToken, pruneBefore int64) error {
	_, err := fwdDelegationToken.call(ctx, n, delegationTokenArgs{Put: &t, PruneBefore: pruneBefore})
	return err
}

// RemoveDelegationToken deletes a token, pruning as PutDelegationToken.
func (n *Node) RemoveDelegationToken(ctx context.Context, tokenID string, pruneBefore int64) error {
	_, err := fwdDelegationToken.call(ctx, n, delegationTokenArgs{Remove: tokenID, PruneBefore: pruneBefore})
	return err
}

func (n *Node) delegationTokenLocal(ctx context.Context, a delegationTokenArgs) (struct{}, error) {
	if err := n.checkWritable(); err != nil {
		return struct{}{}, err
	}
	_, err := n.proposeChecked(ctx, n.fsm.current(), cmdDelegationToken, &delegationTokenCmd{Put: a.Put, Remove: a.Remove, PruneBefore: a.PruneBefore}, false)
	return struct{}{}, err
}
