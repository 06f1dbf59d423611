package sasl

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// Delegation token authentication (KIP-48): a SCRAM exchange whose
// client-first message carries the extension tokenauth=true names a
// delegation token id as the user and proves knowledge of the token's HMAC
// (base64, as Kafka hands it out) as the password. The connection is then
// authenticated as the token's owner, and marked token-authenticated, so
// that the server refuses delegation token requests on it as Kafka does.

// TokenStore looks up delegation tokens. A Store that also implements it
// enables token authentication; it is called concurrently and must not
// block for long.
type TokenStore interface {
	// DelegationToken returns a live (not expired) token's HMAC, its
	// owner's principal name and its expiry.
	DelegationToken(tokenID string) (hmac []byte, owner string, expiry time.Time, ok bool)
}

// TokenAuthenticated is implemented by every Exchange: whether the
// exchange authenticated with a delegation token, and until when the
// token is valid (Kafka ends a re-authenticating session there).
type TokenAuthenticated interface {
	TokenAuthenticated() (ok bool, expiry time.Time)
}

// tokenIterations is Kafka's iteration count for the SCRAM credential it
// derives from a token's HMAC.
const tokenIterations = MinIterations

// tokenAuthRequested reports whether a SCRAM client-first message asks for
// token authentication: an extension tokenauth=true after the nonce.
func tokenAuthRequested(clientFirst string) bool {
	fields := strings.Split(clientFirst, ",")
	if len(fields) < 5 {
		return false
	}
	for _, f := range fields[4:] {
		k, v, _ := strings.Cut(f, "=")
		if k == "tokenauth" && strings.EqualFold(v, "true") {
			return true
		}
	}
	return false
}

// tokenCredential derives the SCRAM credential of a token for mechanism:
// its password is the base64 HMAC.
func tokenCredential(store Store, tokenID, mechanism string) (Credential, string, time.Time, error) {
	ts, ok := store.(TokenStore)
	if !ok {
		return Credential{}, "", time.Time{}, fmt.Errorf("delegation tokens are not enabled")
	}
	hmac, owner, expiry, ok := ts.DelegationToken(tokenID)
	if !ok {
		return Credential{}, "", time.Time{}, fmt.Errorf("unknown or expired delegation token %q", tokenID)
	}
	c, err := CredentialFromPassword(mechanism, base64.StdEncoding.EncodeToString(hmac), tokenIterations)
	return c, owner, expiry, err
}
