package server

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// startTokenServer runs a SASL broker with delegation tokens on, an
// authorizer whose super users are admin and the PLAINTEXT listener's
// ANONYMOUS (to bootstrap users and ACLs), and SCRAM users alice, bob,
// carol and mallory; User:alice may use topic "tok-topic".
func startTokenServer(t *testing.T, mutate ...func(*Config)) (plainAddr, saslAddr string) {
	t.Helper()
	_, plainAddr, saslAddr = startSASLServer(t, append([]func(*Config){func(c *Config) {
		c.SASL.DelegationTokenSecretKey = "token-secret"
		c.Authorizer = AuthorizerStandard
		c.SuperUsers = []string{"User:admin", "User:ANONYMOUS"}
	}}, mutate...)...)
	for _, u := range []string{"alice", "bob", "carol", "mallory"} {
		createScramUser(t, plainAddr, u, u+"-pass")
	}
	adm := newAdmin(t, plainAddr)
	if _, err := adm.CreateTopic(testCtx(t, 10*time.Second), 1, 1, nil, "tok-topic"); err != nil {
		t.Fatal(err)
	}
	addACLs(t, adm, kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("tok-topic").
		Operations(kadm.OpRead, kadm.OpWrite, kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral))
	return plainAddr, saslAddr
}

// scramAdmin is a kadm client logged in with SCRAM-SHA-512.
func scramAdmin(t *testing.T, addr string, auth scram.Auth) *kadm.Client {
	t.Helper()
	return kadm.NewClient(newClient(t, addr, kgo.SASL(auth.AsSha512Mechanism())))
}

// TestDelegationTokenLifecycle: alice creates a token renewable by bob, a
// SCRAM login with the token acts as alice (her ACLs let it produce and
// consume) but may not ask for tokens; bob renews, carol may not, alice
// expires it and the token no longer logs in.
func TestDelegationTokenLifecycle(t *testing.T) {
	_, saslAddr := startTokenServer(t)
	ctx := testCtx(t, 60*time.Second)
	alice := scramAdmin(t, saslAddr, scram.Auth{User: "alice", Pass: "alice-pass"})
	tok, err := alice.CreateDelegationToken(ctx, kadm.CreateDelegationToken{Renewers: []kadm.Principal{{Type: "User", Name: "bob"}}, MaxLifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Owner.Name != "alice" || tok.TokenRequesterPrincipal.Name != "alice" || len(tok.HMAC) != 64 ||
		tok.MaxTimestamp.Sub(tok.IssueTimestamp) != time.Hour || !tok.ExpiryTimestamp.Equal(tok.MaxTimestamp) {
		t.Fatalf("token %+v", tok)
	}
	tokenAuth := scram.Auth{User: tok.TokenID, Pass: base64.StdEncoding.EncodeToString(tok.HMAC), IsToken: true}
	if err := produceConsume(t, saslAddr, "tok-topic", kgo.SASL(tokenAuth.AsSha256Mechanism())); err != nil {
		t.Fatalf("produce and consume as the token (alice): %v", err)
	}
	if err := produceConsume(t, saslAddr, "tok-topic", kgo.SASL(scram.Auth{User: "mallory", Pass: "mallory-pass"}.AsSha512Mechanism())); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("mallory without ACLs: %v", err)
	}
	if _, err := scramAdmin(t, saslAddr, tokenAuth).CreateDelegationToken(ctx, kadm.CreateDelegationToken{}); !errors.Is(err, kerr.DelegationTokenRequestNotAllowed) {
		t.Fatalf("token request on a token connection: %v", err)
	}
	if _, err := scramAdmin(t, saslAddr, scram.Auth{User: "carol", Pass: "carol-pass"}).RenewDelegationToken(ctx, tok.HMAC, time.Minute); !errors.Is(err, kerr.DelegationTokenOwnerMismatch) {
		t.Fatalf("carol renews: %v", err)
	}
	exp, err := scramAdmin(t, saslAddr, scram.Auth{User: "bob", Pass: "bob-pass"}).RenewDelegationToken(ctx, tok.HMAC, time.Minute)
	if err != nil || exp.After(time.Now().Add(time.Minute+time.Second)) || exp.Before(time.Now()) {
		t.Fatalf("bob renews: %v %v", exp, err)
	}
	if ts, err := alice.DescribeDelegationTokens(ctx); err != nil || len(ts) != 1 || ts[0].TokenID != tok.TokenID || !ts[0].ExpiryTimestamp.Equal(exp) {
		t.Fatalf("describe: %+v %v", ts, err)
	}
	if ts, err := scramAdmin(t, saslAddr, scram.Auth{User: "carol", Pass: "carol-pass"}).DescribeDelegationTokens(ctx); err != nil || len(ts) != 0 {
		t.Fatalf("carol sees %+v %v", ts, err)
	}
	if _, err := alice.ExpireDelegationToken(ctx, tok.HMAC, -time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.RenewDelegationToken(ctx, tok.HMAC, time.Minute); !errors.Is(err, kerr.DelegationTokenNotFound) {
		t.Fatalf("renew after expire: %v", err)
	}
	cl := newClient(t, saslAddr, kgo.SASL(tokenAuth.AsSha256Mechanism()))
	if err := cl.Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("login with an expired token: %v", err)
	}
}

// TestDelegationTokenRefusals: on PLAINTEXT token requests are not
// allowed; without a secret key tokens are disabled; another owner needs
// CREATE_TOKENS on that user.
func TestDelegationTokenRefusals(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	plainAddr, saslAddr := startTokenServer(t)
	if _, err := newAdmin(t, plainAddr).CreateDelegationToken(ctx, kadm.CreateDelegationToken{}); !errors.Is(err, kerr.DelegationTokenRequestNotAllowed) {
		t.Fatalf("PLAINTEXT: %v", err)
	}
	alice := scramAdmin(t, saslAddr, scram.Auth{User: "alice", Pass: "alice-pass"})
	if _, err := alice.CreateDelegationToken(ctx, kadm.CreateDelegationToken{Owner: &kadm.Principal{Type: "User", Name: "bob"}}); !errors.Is(err, kerr.DelegationTokenAuthorizationFailed) {
		t.Fatalf("token for bob: %v", err)
	}
	admin := kadm.NewClient(newClient(t, saslAddr, kgo.SASL(saslMechanisms("admin", "admin-secret")["PLAIN"])))
	tok, err := admin.CreateDelegationToken(ctx, kadm.CreateDelegationToken{Owner: &kadm.Principal{Type: "User", Name: "bob"}})
	if err != nil || tok.Owner.Name != "bob" || tok.TokenRequesterPrincipal.Name != "admin" {
		t.Fatalf("admin makes a token for bob: %+v %v", tok, err)
	}
	_, _, off := startSASLServer(t)
	if _, err := scramAdmin(t, off, scram.Auth{User: "admin", Pass: "admin-secret"}).DescribeDelegationTokens(ctx); err == nil {
		t.Fatal("SCRAM admin without a credential logged in")
	}
	plainAdmin := kadm.NewClient(newClient(t, off, kgo.SASL(saslMechanisms("admin", "admin-secret")["PLAIN"])))
	if _, err := plainAdmin.DescribeDelegationTokens(ctx); !errors.Is(err, kerr.DelegationTokenAuthDisabled) {
		t.Fatalf("no secret key: %v", err)
	}
}

// TestDelegationTokenSessionLifetime: with connections.max.reauth.ms, a
// token login's session ends by the token's expiry, as in Kafka.
func TestDelegationTokenSessionLifetime(t *testing.T) {
	_, saslAddr := startTokenServer(t, func(c *Config) { c.SASL.MaxReauth = time.Hour })
	ctx := testCtx(t, 30*time.Second)
	alice := scramAdmin(t, saslAddr, scram.Auth{User: "alice", Pass: "alice-pass"})
	tok, err := alice.CreateDelegationToken(ctx, kadm.CreateDelegationToken{MaxLifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, saslAddr)
	life, err := c.AuthenticateSASL(ctx, scram.Auth{User: tok.TokenID, Pass: base64.StdEncoding.EncodeToString(tok.HMAC), IsToken: true}.AsSha512Mechanism())
	if err != nil || life <= 0 || life > time.Minute {
		t.Fatalf("token session lifetime %v (token expires in a minute): %v", life, err)
	}
	c2 := dialRaw(t, saslAddr)
	if life, err := c2.AuthenticateSASL(ctx, scram.Auth{User: "alice", Pass: "alice-pass"}.AsSha512Mechanism()); err != nil || life != time.Hour {
		t.Fatalf("password session lifetime %v: %v", life, err)
	}
}
