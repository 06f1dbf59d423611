package sasl

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// librdkafkaFinal builds the client-final message the way librdkafka 2.0.2
// does: nonce = client nonce + server-first nonce, proof over that message.
func librdkafkaFinal(t *testing.T, mech, pass, clientFirst, serverFirst string) string {
	t.Helper()
	cnonce, _ := attr(clientFirst[3:], "r")
	snonce, _ := attr(serverFirst, "r")
	saltB64, _ := attr(serverFirst, "s")
	salt, _ := base64.StdEncoding.DecodeString(saltB64)
	salted, err := SaltPassword(mech, pass, salt, MinIterations)
	if err != nil {
		t.Fatal(err)
	}
	h := stdHash(mech)
	clientKey := hmacSum(h, salted, "Client Key")
	st := h()
	st.Write(clientKey)
	wo := "c=biws,r=" + cnonce + snonce
	sig := hmacSum(h, st.Sum(nil), clientFirst[3:]+","+serverFirst+","+wo)
	for i := range sig {
		sig[i] ^= clientKey[i]
	}
	return wo + ",p=" + base64.StdEncoding.EncodeToString(sig)
}

func TestScramLibrdkafkaNonce(t *testing.T) {
	a := newTestAuth(t)
	for _, pass := range []string{"alice-secret", "wrong"} {
		ex, err := a.Start(ScramSHA512)
		if err != nil {
			t.Fatal(err)
		}
		clientFirst := "n,,n=alice,r=AvR8Rs87I9G]u.7?@6.;Y1[?5OA:LOyt"
		sf, _, err := ex.Step([]byte(clientFirst))
		if err != nil {
			t.Fatal(err)
		}
		out, done, err := ex.Step([]byte(librdkafkaFinal(t, ScramSHA512, pass, clientFirst, string(sf))))
		if pass == "wrong" {
			if !errors.Is(err, ErrAuthenticationFailed) {
				t.Fatalf("wrong password: %v", err)
			}
			continue
		}
		if err != nil || !done || ex.User() != "alice" || !strings.HasPrefix(string(out), "v=") {
			t.Fatalf("librdkafka-style final: out %q done %v user %q err %v", out, done, ex.User(), LogDetail(err))
		}
	}
}

func TestScramOtherNonceRefused(t *testing.T) {
	a := newTestAuth(t)
	ex, _ := a.Start(ScramSHA256)
	sf, _, err := ex.Step([]byte("n,,n=alice,r=abc"))
	if err != nil {
		t.Fatal(err)
	}
	snonce, _ := attr(string(sf), "r")
	// A nonce that does not end with the server's.
	if _, _, err := ex.Step([]byte("c=biws,r=" + snonce + "x,p=AAAA")); !errors.Is(err, ErrAuthenticationFailed) {
		t.Fatalf("foreign nonce: %v", err)
	}
}
