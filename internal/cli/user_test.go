package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strombroker/strom/internal/server"
)

// startSASLBroker runs a Strom broker with a PLAINTEXT listener (to create
// the first users as User:ANONYMOUS) and a SASL_PLAINTEXT one; opts
// change its config further.
func startSASLBroker(t *testing.T, opts ...func(*server.Config)) (plainAddr, saslAddr string) {
	t.Helper()
	c := server.DefaultConfig()
	c.Listeners = []server.Listener{{Name: "PLAINTEXT", Host: "127.0.0.1"}, {Name: "SASL_PLAINTEXT", Host: "127.0.0.1"}}
	c.DataDir = t.TempDir()
	c.RaftAddr = "127.0.0.1:0"
	c.OffsetsTopicPartitions = 1
	c.GroupInitialRebalanceDelay = 0
	for _, o := range opts {
		o(&c)
	}
	s, err := server.New(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Addrs()[0], s.Addrs()[1]
}

func writeClientProps(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "client.properties")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUserCommandsAndCommandConfig(t *testing.T) {
	plainAddr, saslAddr := startSASLBroker(t)
	mustRun(t, plainAddr, "alice-secret\n", "user", "create", "alice")
	mustRun(t, plainAddr, "", "user", "create", "bob", "--mechanism", "SCRAM-SHA-512", "--iterations", "8192", "--password", "bob-secret")
	listed := decodeJSON[[]userListed](t, mustRun(t, plainAddr, "", "user", "list", "--json").stdout)
	if len(listed) != 3 || listed[0] != (userListed{"alice", "SCRAM-SHA-256", 4096}) || listed[2] != (userListed{"bob", "SCRAM-SHA-512", 8192}) {
		t.Fatalf("user list: %+v", listed)
	}
	if r := run(t, plainAddr, "", "user", "create", "carol", "--iterations", "100", "--password", "x"); r.code != exitUsage {
		t.Fatalf("iterations 100: exit %d", r.code)
	}

	// The SASL listener with a client properties file, Kafka-tools style.
	scram := writeClientProps(t, `security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
    username="bob" password="bob-secret";
`)
	mustRun(t, saslAddr, "", "topic", "create", "secured", "--command-config", scram)
	mustRun(t, saslAddr, "a\nb\n", "produce", "secured", "--command-config", scram)
	r := mustRun(t, saslAddr, "", "consume", "secured", "--from-beginning", "-n", "2", "--command-config", scram)
	if r.stdout != "a\nb\n" {
		t.Fatalf("consume over SASL: %q", r.stdout)
	}
	plain := writeClientProps(t, "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=alice\nsasl.password=alice-secret\n")
	mustRun(t, saslAddr, "", "bench", "produce", "--topic", "secured", "--records", "100", "--record-size", "10", "--command-config", plain)
	wrong := writeClientProps(t, "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-256\nsasl.username=alice\nsasl.password=nope\n")
	if r := run(t, saslAddr, "", "topic", "list", "--command-config", wrong, "--timeout", "10s"); r.code != exitFail || !strings.Contains(r.stderr, "SASL_AUTHENTICATION_FAILED") {
		t.Fatalf("wrong password: exit %d stderr %q", r.code, r.stderr)
	}

	mustRun(t, plainAddr, "", "user", "delete", "alice")
	listed = decodeJSON[[]userListed](t, mustRun(t, plainAddr, "", "user", "list", "--json").stdout)
	if len(listed) != 1 || listed[0].User != "bob" {
		t.Fatalf("after delete: %+v", listed)
	}
	if r := run(t, plainAddr, "", "user", "delete", "alice", "--mechanism", "SCRAM-SHA-256"); r.code != exitFail || !strings.Contains(r.stderr, "RESOURCE_NOT_FOUND") {
		t.Fatalf("delete missing: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestClientPropsParsing(t *testing.T) {
	props, err := clientProps(strings.NewReader("# c\n! c\nsecurity.protocol = SASL_SSL\nsasl.jaas.config=a.B required \\\n  username=\"u\" password=\"p\";\nk: v\n"))
	if err != nil {
		t.Fatal(err)
	}
	if props["security.protocol"] != "SASL_SSL" || props["k"] != "v" || props["sasl.jaas.config"] != `a.B required username="u" password="p";` {
		t.Fatalf("props %q", props)
	}
	for name, p := range map[string]map[string]string{
		"bad protocol":   {"security.protocol": "KERBEROS"},
		"no password":    {"security.protocol": "SASL_PLAINTEXT", "sasl.username": "u"},
		"bad mechanism":  {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "GSSAPI", "sasl.username": "u", "sasl.password": "p"},
		"bad truststore": {"security.protocol": "SSL", "ssl.truststore.certificates": "not pem"},
	} {
		if _, err := propsOpts(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestUserCreatePasswordFromEnv: without --password the password comes from
// STROM_PASSWORD before stdin (the secured compose file's users service
// relies on it: no shell in the image, and flags show in ps).
func TestUserCreatePasswordFromEnv(t *testing.T) {
	plainAddr, saslAddr := startSASLBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	e := &env{ctx: ctx, stdin: strings.NewReader("not-this-one\n"), stdout: &out, stderr: &errb, getenv: func(k string) string {
		return map[string]string{"STROM_BROKERS": plainAddr, "STROM_PASSWORD": "env-secret"}[k]
	}}
	if code := mainEnv(e, []string{"user", "create", "dave", "--mechanism", "SCRAM-SHA-512"}); code != 0 {
		t.Fatalf("user create with STROM_PASSWORD: exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	good := writeClientProps(t, "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\nsasl.username=dave\nsasl.password=env-secret\n")
	mustRun(t, saslAddr, "", "topic", "list", "--command-config", good)
	stdinPass := writeClientProps(t, "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\nsasl.username=dave\nsasl.password=not-this-one\n")
	if r := run(t, saslAddr, "", "topic", "list", "--command-config", stdinPass, "--timeout", "10s"); r.code != exitFail || !strings.Contains(r.stderr, "SASL_AUTHENTICATION_FAILED") {
		t.Fatalf("stdin password was used although STROM_PASSWORD is set: exit %d stderr %q", r.code, r.stderr)
	}
}
