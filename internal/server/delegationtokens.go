package server

// CreateDelegationToken (38, v0-3), RenewDelegationToken (39, v0-2),
// ExpireDelegationToken (40, v0-2), DescribeDelegationToken (41, v0-3):
// Kafka's delegation tokens (KIP-48, KIP-373).
//
// Behaviour, as Kafka's DelegationTokenManager:
//   - Every request first: DELEGATION_TOKEN_REQUEST_NOT_ALLOWED on a
//     PLAINTEXT listener, on an SSL connection without a client
//     certificate (ANONYMOUS) and on a connection that authenticated with a
//     delegation token; then DELEGATION_TOKEN_AUTH_DISABLED while
//     delegation.token.secret.key is not set.
//   - Create: the owner is the requester, or (v3) the principal named,
//     which needs CREATE_TOKENS on that USER (else
//     DELEGATION_TOKEN_AUTHORIZATION_FAILED); owner and renewers must be
//     User principals (INVALID_PRINCIPAL_TYPE). The token lives until
//     min(now + delegation.token.expiry.time.ms, max) where max = now +
//     min(the requested max lifetime when > 0, delegation.token.max.lifetime.ms).
//     Its id is a random UUID (base64); its HMAC is HMAC-SHA512 of the id
//     with the secret key, recomputed by each broker, never stored.
//   - Renew and Expire find the token by HMAC (DELEGATION_TOKEN_NOT_FOUND),
//     need the owner or a renewer (DELEGATION_TOKEN_OWNER_MISMATCH). Renew
//     refuses an expired token (DELEGATION_TOKEN_EXPIRED) and sets the
//     expiry to min(now + period, max), the period being
//     delegation.token.expiry.time.ms when negative; Expire with a negative
//     period removes the token at once, else sets min(now + period, max).
//   - Describe lists the live tokens of the owners given (all when the list
//     is null, none when empty) that the requester owns, renews, or may
//     DESCRIBE_TOKENS (on the token or on its owner's USER).
//   - Tokens live in the metadata log; expired ones are invisible, refuse
//     authentication, and are pruned by the next token write.
// SCRAM authentication with a token (tokenauth=true) is in internal/sasl;
// the connection's principal is then the token's owner, and its session
// (with connections.max.reauth.ms) ends by the token's expiry
// (saslauthenticate.go).

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

// tokenHMAC is a token's HMAC: HMAC-SHA512 of its id under the secret key.
func tokenHMAC(secret, tokenID string) []byte {
	m := hmac.New(sha512.New, []byte(secret))
	m.Write([]byte(tokenID))
	return m.Sum(nil)
}

// tokenRequestError is the check every token request starts with.
func (s *Server) tokenRequestError(req *wire.Request) error {
	proto, p := req.Conn.SecurityProtocol, req.Conn.Principal()
	if proto == wire.ProtocolPlaintext || (proto == wire.ProtocolSSL && p == wire.Anonymous) || connSASL(req.Conn).tokenAuth {
		return kerr.DelegationTokenRequestNotAllowed
	}
	if s.cfg.SASL.DelegationTokenSecretKey == "" {
		return kerr.DelegationTokenAuthDisabled
	}
	return nil
}

// liveToken is a token of st by id, if not expired at now.
func liveToken(st *raftmeta.State, id string, now time.Time) (raftmeta.DelegationToken, bool) {
	t, ok := st.Tokens[id]
	return t, ok && t.ExpiryMs >= now.UnixMilli()
}

// tokenByHMAC finds a token (expired or not) by its HMAC.
func (s *Server) tokenByHMAC(st *raftmeta.State, mac []byte) (raftmeta.DelegationToken, bool) {
	for id, t := range st.Tokens {
		if hmac.Equal(tokenHMAC(s.cfg.SASL.DelegationTokenSecretKey, id), mac) {
			return t, true
		}
	}
	return raftmeta.DelegationToken{}, false
}

// newTokenID is a random UUID in Kafka's base64 form.
func newTokenID() string {
	var id [16]byte
	_, _ = rand.Read(id[:])
	return formatTopicID(id)
}

func splitPrincipal(p string) (typ, name string) {
	typ, name, _ = strings.Cut(p, ":")
	return typ, name
}

func (s *Server) handleCreateDelegationToken(ctx context.Context, req *wire.Request, r *kmsg.CreateDelegationTokenRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.CreateDelegationTokenResponse)
	resp.Version = r.Version
	t, err := s.createToken(ctx, req, r)
	resp.ErrorCode = errorCode(err)
	resp.PrincipalType, resp.PrincipalName = splitPrincipal(t.Owner)
	resp.TokenRequesterPrincipalType, resp.TokenRequesterPrincipalName = splitPrincipal(t.Requester)
	if err != nil {
		return resp
	}
	resp.IssueTimestamp, resp.ExpiryTimestamp, resp.MaxTimestamp = t.IssueMs, t.ExpiryMs, t.MaxMs
	resp.TokenID, resp.HMAC = t.TokenID, tokenHMAC(s.cfg.SASL.DelegationTokenSecretKey, t.TokenID)
	return resp
}

// createToken checks and stores a new token.
func (s *Server) createToken(ctx context.Context, req *wire.Request, r *kmsg.CreateDelegationTokenRequest) (raftmeta.DelegationToken, error) {
	requester := req.Conn.Principal()
	t := raftmeta.DelegationToken{Owner: requester.String(), Requester: requester.String()}
	if err := s.tokenRequestError(req); err != nil {
		return t, err
	}
	if r.OwnerPrincipalName != nil && *r.OwnerPrincipalName != "" {
		typ := "User"
		if r.OwnerPrincipalType != nil {
			typ = *r.OwnerPrincipalType
		}
		if typ != "User" {
			return t, fmt.Errorf("%w: owner principal type %q", kerr.InvalidPrincipalType, typ)
		}
		owner := wire.Principal{Type: typ, Name: *r.OwnerPrincipalName}
		if owner != requester && !s.authorize(req, acl.OpCreateTokens, acl.ResourceUser, owner.String()) {
			return t, kerr.DelegationTokenAuthorizationFailed
		}
		t.Owner = owner.String()
	}
	for _, rn := range r.Renewers {
		if rn.PrincipalType != "User" {
			return t, fmt.Errorf("%w: renewer principal type %q", kerr.InvalidPrincipalType, rn.PrincipalType)
		}
		if p := rn.PrincipalType + ":" + rn.PrincipalName; !slices.Contains(t.Renewers, p) {
			t.Renewers = append(t.Renewers, p)
		}
	}
	now := time.Now().UnixMilli()
	life := s.cfg.SASL.DelegationTokenMaxLifetime.Milliseconds()
	if r.MaxLifetimeMillis > 0 {
		life = min(life, r.MaxLifetimeMillis)
	}
	t.TokenID, t.IssueMs, t.MaxMs = newTokenID(), now, now+life
	t.ExpiryMs = min(t.MaxMs, now+s.cfg.SASL.DelegationTokenExpiryTime.Milliseconds())
	return t, s.meta.PutDelegationToken(ctx, t, now)
}

// mayRenew: Kafka's allowedToRenew, the owner or a renewer.
func mayRenew(p wire.Principal, t raftmeta.DelegationToken) bool {
	return t.Owner == p.String() || slices.Contains(t.Renewers, p.String())
}

func (s *Server) handleRenewDelegationToken(ctx context.Context, req *wire.Request, r *kmsg.RenewDelegationTokenRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.RenewDelegationTokenResponse)
	resp.Version = r.Version
	expiry, err := s.changeTokenExpiry(ctx, req, r.HMAC, r.RenewTimeMillis, true)
	resp.ErrorCode, resp.ExpiryTimestamp = errorCode(err), expiry
	return resp
}

func (s *Server) handleExpireDelegationToken(ctx context.Context, req *wire.Request, r *kmsg.ExpireDelegationTokenRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ExpireDelegationTokenResponse)
	resp.Version = r.Version
	expiry, err := s.changeTokenExpiry(ctx, req, r.HMAC, r.ExpiryPeriodMillis, false)
	resp.ErrorCode, resp.ExpiryTimestamp = errorCode(err), expiry
	return resp
}

// changeTokenExpiry renews (renew) or expires a token; the new expiry.
func (s *Server) changeTokenExpiry(ctx context.Context, req *wire.Request, mac []byte, period int64, renew bool) (int64, error) {
	if err := s.tokenRequestError(req); err != nil {
		return -1, err
	}
	now := time.Now()
	t, ok := s.tokenByHMAC(s.meta.State(), mac)
	switch {
	case !ok:
		return -1, kerr.DelegationTokenNotFound
	case !mayRenew(req.Conn.Principal(), t):
		return -1, kerr.DelegationTokenOwnerMismatch
	case renew && t.ExpiryMs < now.UnixMilli():
		return -1, kerr.DelegationTokenExpired
	}
	nowMs := now.UnixMilli()
	if !renew && period < 0 {
		return nowMs, s.meta.RemoveDelegationToken(ctx, t.TokenID, nowMs)
	}
	if renew && period < 0 {
		period = s.cfg.SASL.DelegationTokenExpiryTime.Milliseconds()
	}
	t.ExpiryMs = min(t.MaxMs, nowMs+period)
	if err := s.meta.PutDelegationToken(ctx, t, nowMs); err != nil {
		return -1, err
	}
	return t.ExpiryMs, nil
}

func (s *Server) handleDescribeDelegationToken(req *wire.Request, r *kmsg.DescribeDelegationTokenRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeDelegationTokenResponse)
	resp.Version = r.Version
	if err := s.tokenRequestError(req); err != nil {
		resp.ErrorCode = errorCode(err)
		return resp
	}
	var owners []string
	for _, o := range r.Owners {
		owners = append(owners, o.PrincipalType+":"+o.PrincipalName)
	}
	st, now, p := s.meta.State(), time.Now(), req.Conn.Principal()
	for _, id := range slices.Sorted(maps.Keys(st.Tokens)) {
		t, live := liveToken(st, id, now)
		if !live || (r.Owners != nil && !slices.Contains(owners, t.Owner)) || !s.mayDescribeToken(req, p, t) {
			continue
		}
		resp.TokenDetails = append(resp.TokenDetails, s.tokenDetail(t))
	}
	return resp
}

// mayDescribeToken: the owner, a renewer, or DESCRIBE_TOKENS on the token
// or its owner.
func (s *Server) mayDescribeToken(req *wire.Request, p wire.Principal, t raftmeta.DelegationToken) bool {
	return mayRenew(p, t) || s.authorize(req, acl.OpDescribeTokens, acl.ResourceDelegationToken, t.TokenID) ||
		s.authorize(req, acl.OpDescribeTokens, acl.ResourceUser, t.Owner)
}

func (s *Server) tokenDetail(t raftmeta.DelegationToken) kmsg.DescribeDelegationTokenResponseTokenDetail {
	d := kmsg.NewDescribeDelegationTokenResponseTokenDetail()
	d.PrincipalType, d.PrincipalName = splitPrincipal(t.Owner)
	d.TokenRequesterPrincipalType, d.TokenRequesterPrincipalName = splitPrincipal(t.Requester)
	d.IssueTimestamp, d.ExpiryTimestamp, d.MaxTimestamp = t.IssueMs, t.ExpiryMs, t.MaxMs
	d.TokenID, d.HMAC = t.TokenID, tokenHMAC(s.cfg.SASL.DelegationTokenSecretKey, t.TokenID)
	for _, rn := range t.Renewers {
		dr := kmsg.NewDescribeDelegationTokenResponseTokenDetailRenewer()
		dr.PrincipalType, dr.PrincipalName = splitPrincipal(rn)
		d.Renewers = append(d.Renewers, dr)
	}
	return d
}

// DelegationToken implements sasl.TokenStore over the applied metadata:
// a live token's HMAC, its owner's name (owners are User principals) and
// its expiry.
func (st scramStore) DelegationToken(tokenID string) ([]byte, string, time.Time, bool) {
	secret := st.s.cfg.SASL.DelegationTokenSecretKey
	if st.s.meta == nil || secret == "" {
		return nil, "", time.Time{}, false
	}
	t, ok := liveToken(st.s.meta.State(), tokenID, time.Now())
	if !ok {
		return nil, "", time.Time{}, false
	}
	typ, name := splitPrincipal(t.Owner)
	if typ != "User" {
		return nil, "", time.Time{}, false
	}
	return tokenHMAC(secret, tokenID), name, time.UnixMilli(t.ExpiryMs), true
}
