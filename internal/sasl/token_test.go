package sasl

import (
	"testing"
	"time"
)

// TestTokenAuthRequested: only a tokenauth=true extension after the nonce
// asks for token authentication.
func TestTokenAuthRequested(t *testing.T) {
	for msg, want := range map[string]bool{
		"n,,n=tok,r=abc,tokenauth=true":  true,
		"n,,n=tok,r=abc,tokenauth=TRUE":  true,
		"n,,n=tok,r=abc,tokenauth=false": false,
		"n,,n=tok,r=abc":                 false,
		"n,,n=tokenauth=true,r=abc":      false,
		"":                               false,
	} {
		if got := tokenAuthRequested(msg); got != want {
			t.Errorf("%q: %v, want %v", msg, got, want)
		}
	}
}

// tokenStore is a Store with one delegation token.
type tokenStore struct{}

func (tokenStore) ScramCredential(string, string) (Credential, bool) { return Credential{}, false }
func (tokenStore) DelegationToken(id string) ([]byte, string, time.Time, bool) {
	return []byte("mac"), "alice", time.Unix(100, 0), id == "tok"
}

// TestTokenCredential: a known token yields a credential and its owner;
// an unknown one, or a Store without tokens, fails.
func TestTokenCredential(t *testing.T) {
	c, owner, expiry, err := tokenCredential(tokenStore{}, "tok", ScramSHA256)
	if err != nil || owner != "alice" || !expiry.Equal(time.Unix(100, 0)) || !matchesPassword(ScramSHA256, c, "bWFj") {
		t.Fatalf("%v %q %v", c, owner, err)
	}
	if _, _, _, err := tokenCredential(tokenStore{}, "other", ScramSHA256); err == nil {
		t.Fatal("unknown token accepted")
	}
	if _, _, _, err := tokenCredential(nil, "tok", ScramSHA256); err == nil {
		t.Fatal("a nil store gave a token")
	}
}
