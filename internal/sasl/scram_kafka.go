package sasl

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// librdkafka (before 2.10, e.g. Debian's 2.0.2 behind kcat and
// confluent-kafka) builds its client-final message with the nonce
// "client nonce + the server-first nonce" instead of the server-first nonce
// alone (RFC 5802), and computes its proof over that message. Kafka's
// ScramSaslServer accepts it because it checks only that the final nonce
// ends with the server-first nonce; xdg-go/scram checks for equality and
// refuses it. scramKafkaFinal is that one step done Kafka's way, used only
// when the nonce has this form: the proof check and server signature are
// RFC 5802's, over the client's message as sent.

// attrs splits a SCRAM message into its "k=v" attributes, in order.
func attrs(msg string) [][2]string {
	var out [][2]string
	for _, f := range strings.Split(msg, ",") {
		k, v, _ := strings.Cut(f, "=")
		out = append(out, [2]string{k, v})
	}
	return out
}

// attr returns the value of key k in msg.
func attr(msg, k string) (string, bool) {
	for _, a := range attrs(msg) {
		if a[0] == k {
			return a[1], true
		}
	}
	return "", false
}

// librdkafkaNonce reports whether clientFinal's nonce is librdkafka's
// longer form: not the server-first nonce, but ending with it.
func librdkafkaNonce(clientFinal, serverFirst string) bool {
	got, ok1 := attr(clientFinal, "r")
	want, ok2 := attr(serverFirst, "r")
	return ok1 && ok2 && want != "" && got != want && strings.HasSuffix(got, want)
}

var errBadFinal = errors.New("malformed client-final message")

// kafkaFinal verifies a client-final message whose nonce librdkafkaNonce
// accepted and returns the server-final message.
func (e *scramExchange) kafkaFinal(clientFinal string) ([]byte, bool, error) {
	fail := func(cause error) ([]byte, bool, error) {
		return nil, false, &failure{msg: "invalid credentials with SASL mechanism " + e.mechanism, cause: cause}
	}
	i := strings.LastIndex(clientFinal, ",p=")
	if i < 0 || len(e.cred.StoredKey) == 0 {
		return fail(errBadFinal)
	}
	withoutProof, proofB64 := clientFinal[:i], clientFinal[i+3:]
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil {
		return fail(fmt.Errorf("%w: proof: %v", errBadFinal, err))
	}
	gs2, bare, ok := splitClientFirst(e.clientFirst)
	if cb, _ := attr(withoutProof, "c"); !ok || cb != base64.StdEncoding.EncodeToString([]byte(gs2)) {
		return fail(fmt.Errorf("%w: channel binding", errBadFinal))
	}
	h := stdHash(e.mechanism)
	authMsg := bare + "," + e.serverFirst + "," + withoutProof
	sig := hmacSum(h, e.cred.StoredKey, authMsg)
	if len(proof) != len(sig) {
		return fail(fmt.Errorf("%w: proof length", errBadFinal))
	}
	clientKey := make([]byte, len(sig))
	for j := range sig {
		clientKey[j] = proof[j] ^ sig[j]
	}
	stored := h()
	stored.Write(clientKey)
	if subtle.ConstantTimeCompare(stored.Sum(nil), e.cred.StoredKey) != 1 {
		return fail(errors.New("challenge proof invalid"))
	}
	serverSig := hmacSum(h, e.cred.ServerKey, authMsg)
	user, authz := clientFirstNames(bare, gs2)
	return e.finish(user, authz, "v="+base64.StdEncoding.EncodeToString(serverSig))
}

// splitClientFirst splits a client-first message into its GS2 header
// ("n,," or "n,a=authz,") and the bare message after it.
func splitClientFirst(m string) (gs2, bare string, ok bool) {
	i := strings.Index(m, ",")
	if i < 0 {
		return "", "", false
	}
	j := strings.Index(m[i+1:], ",")
	if j < 0 {
		return "", "", false
	}
	return m[:i+j+2], m[i+j+2:], true
}

// clientFirstNames returns the user (n=) and authorization id (a=), with
// RFC 5802's "=2C" and "=3D" decoded; xdg already accepted these in the
// first step.
func clientFirstNames(bare, gs2 string) (user, authz string) {
	dec := strings.NewReplacer("=2C", ",", "=3D", "=")
	u, _ := attr(bare, "n")
	a, _ := attr(gs2, "a")
	return dec.Replace(u), dec.Replace(a)
}
