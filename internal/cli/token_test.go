package cli

import (
	"strings"
	"testing"

	"github.com/strombroker/strom/internal/server"
)

// startTokenBroker is startSASLBroker with delegation tokens enabled.
func startTokenBroker(t *testing.T) (plainAddr, saslAddr string) {
	t.Helper()
	return startSASLBroker(t, func(c *server.Config) { c.SASL.DelegationTokenSecretKey = "cli-token-secret" })
}

// TestTokenCommands drives strom token: create as alice, log in with the
// token through a Kafka-style client properties file (tokenauth="true"),
// renew, expire, describe.
func TestTokenCommands(t *testing.T) {
	plainAddr, saslAddr := startTokenBroker(t)
	mustRun(t, plainAddr, "", "user", "create", "alice", "--password", "alice-secret")
	alice := writeClientProps(t, "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-256\n"+
		`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";`+"\n")
	if r := run(t, plainAddr, "", "token", "create"); r.code == 0 || !strings.Contains(r.stderr, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED") {
		t.Fatalf("create on PLAINTEXT: exit %d %s", r.code, r.stderr)
	}
	created := decodeJSON[[]tokenLine](t, mustRun(t, saslAddr, "", "token", "create", "--renewer-principal", "User:bob", "--command-config", alice, "--json").stdout)
	if len(created) != 1 || created[0].Owner != "User:alice" || len(created[0].Renewers) != 1 || created[0].HMAC == "" {
		t.Fatalf("created %+v", created)
	}
	tok := created[0]
	tokenProps := writeClientProps(t, "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n"+
		`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="`+tok.TokenID+`" password="`+tok.HMAC+`" tokenauth="true";`+"\n")
	mustRun(t, saslAddr, "", "topic", "create", "via-token", "--command-config", tokenProps)
	if r := run(t, saslAddr, "", "token", "describe", "--command-config", tokenProps); r.code == 0 || !strings.Contains(r.stderr, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED") {
		t.Fatalf("describe over a token login: exit %d %s", r.code, r.stderr)
	}
	if r := mustRun(t, saslAddr, "", "token", "renew", "--hmac", tok.HMAC, "--renew-time-period", "60000", "--command-config", alice); !strings.Contains(r.stdout, "token renewed") {
		t.Fatalf("renew: %s", r.stdout)
	}
	listed := decodeJSON[[]tokenLine](t, mustRun(t, saslAddr, "", "token", "describe", "--owner-principal", "User:alice", "--command-config", alice, "--json").stdout)
	if len(listed) != 1 || listed[0].TokenID != tok.TokenID || !listed[0].Expiry.Before(tok.Expiry) {
		t.Fatalf("describe: %+v (created %+v)", listed, tok)
	}
	mustRun(t, saslAddr, "", "token", "expire", "--hmac", tok.HMAC, "--command-config", alice)
	if r := mustRun(t, saslAddr, "", "token", "describe", "--command-config", alice); r.stdout != "" {
		t.Fatalf("after expire: %s", r.stdout)
	}
	if r := run(t, saslAddr, "", "token", "renew", "--hmac", "!!", "--command-config", alice); r.code != exitUsage {
		t.Fatalf("bad hmac: exit %d", r.code)
	}
}
