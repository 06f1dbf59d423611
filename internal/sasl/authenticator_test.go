package sasl

import (
	"errors"
	"testing"

	"github.com/xdg-go/scram"
)

type mapStore map[string]map[string]Credential

func (s mapStore) ScramCredential(user, mech string) (Credential, bool) {
	c, ok := s[user][mech]
	return c, ok
}

func newTestAuth(t testing.TB) *Authenticator {
	t.Helper()
	store := mapStore{"alice": {}}
	for _, m := range ScramMechanisms {
		c, err := CredentialFromPassword(m, "alice-secret", MinIterations)
		if err != nil {
			t.Fatal(err)
		}
		store["alice"][m] = c
	}
	a, err := New(Config{
		Mechanisms: []string{Plain, ScramSHA256, ScramSHA512},
		PlainUsers: map[string]string{"admin": "admin-secret"},
		Store:      store,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func plainStep(t *testing.T, a *Authenticator, msg string) (string, error) {
	t.Helper()
	ex, err := a.Start(Plain)
	if err != nil {
		t.Fatal(err)
	}
	_, done, err := ex.Step([]byte(msg))
	if err == nil && !done {
		t.Fatal("PLAIN not done after one step")
	}
	return ex.User(), err
}

func TestPlain(t *testing.T) {
	a := newTestAuth(t)
	for _, c := range []struct {
		msg, user string
		ok        bool
	}{
		{"\x00admin\x00admin-secret", "admin", true},
		{"admin\x00admin\x00admin-secret", "admin", true},
		{"\x00alice\x00alice-secret", "alice", true}, // against the SCRAM store
		{"\x00admin\x00wrong", "", false},
		{"\x00alice\x00wrong", "", false},
		{"\x00nobody\x00x", "", false},
		{"bob\x00admin\x00admin-secret", "", false}, // authzid differs
		{"\x00admin", "", false},
		{"\x00\x00", "", false},
	} {
		user, err := plainStep(t, a, c.msg)
		if c.ok != (err == nil) || user != c.user {
			t.Errorf("PLAIN %q: user %q err %v; want user %q ok %v", c.msg, user, err, c.user, c.ok)
		}
		if err != nil && !errors.Is(err, ErrAuthenticationFailed) {
			t.Errorf("PLAIN %q: %v is not ErrAuthenticationFailed", c.msg, err)
		}
	}
}

// runScram drives a server exchange with xdg-go's client.
func runScram(t testing.TB, a *Authenticator, mech, user, pass string) (string, error) {
	t.Helper()
	hg := scram.SHA256
	if mech == ScramSHA512 {
		hg = scram.SHA512
	}
	cl, err := hg.NewClient(user, pass, "")
	if err != nil {
		t.Fatal(err)
	}
	conv := cl.NewConversation()
	ex, err := a.Start(mech)
	if err != nil {
		t.Fatal(err)
	}
	var in string
	for i := 0; i < 3; i++ {
		msg, err := conv.Step(in)
		if err != nil {
			return "", err
		}
		out, done, err := ex.Step([]byte(msg))
		if err != nil {
			return "", err
		}
		if done {
			if _, err := conv.Step(string(out)); err != nil {
				t.Fatalf("client rejects the server's final message: %v", err)
			}
			return ex.User(), nil
		}
		in = string(out)
	}
	t.Fatal("SCRAM exchange did not finish")
	return "", nil
}

func TestScram(t *testing.T) {
	a := newTestAuth(t)
	for _, m := range ScramMechanisms {
		if user, err := runScram(t, a, m, "alice", "alice-secret"); err != nil || user != "alice" {
			t.Errorf("%s right password: user %q err %v", m, user, err)
		}
		if _, err := runScram(t, a, m, "alice", "wrong"); !errors.Is(err, ErrAuthenticationFailed) {
			t.Errorf("%s wrong password: %v", m, err)
		}
		if _, err := runScram(t, a, m, "admin", "admin-secret"); !errors.Is(err, ErrAuthenticationFailed) {
			t.Errorf("%s user without SCRAM credential: %v", m, err)
		}
	}
}

func TestStartUnsupported(t *testing.T) {
	a, err := New(Config{Mechanisms: []string{ScramSHA512}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Start(Plain); !errors.Is(err, ErrUnsupportedMechanism) {
		t.Fatalf("Start(PLAIN) = %v", err)
	}
	if _, err := New(Config{Mechanisms: []string{"GSSAPI"}}); !errors.Is(err, ErrUnsupportedMechanism) {
		t.Fatalf("New(GSSAPI) = %v", err)
	}
}

func TestExchangeAfterDoneIsIllegal(t *testing.T) {
	a := newTestAuth(t)
	ex, _ := a.Start(Plain)
	if _, _, err := ex.Step([]byte("\x00admin\x00admin-secret")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ex.Step([]byte("\x00admin\x00admin-secret")); !errors.Is(err, ErrIllegalState) {
		t.Fatalf("second PLAIN step: %v", err)
	}
}
