package tests

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// saslBrokerJAAS gives the broker's single listener SASL_PLAINTEXT: PLAIN
// users admin and alice from the JAAS config, SCRAM users from the metadata.
const saslBrokerJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required ` +
	`username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-plain";`

// startSASLBroker starts a process broker whose listener is SASL_PLAINTEXT
// and creates the SCRAM user scram-user (both mechanisms) as the JAAS user
// admin, over PLAIN.
func startSASLBroker(t *testing.T) *broker {
	t.Helper()
	b := startBroker(t, "--listener-security-protocol-map", "PLAINTEXT:SASL_PLAINTEXT", "--sasl-jaas-config", saslBrokerJAAS)
	cl := newKgo(t, b.Addr(), kgo.SASL(plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism()))
	res, err := kadm.NewClient(cl).AlterUserSCRAMs(testCtx(t, 30*time.Second), nil, []kadm.UpsertSCRAM{
		{User: "scram-user", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "scram-secret"},
		{User: "scram-user", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "scram-secret"},
	})
	if err != nil || res.Error() != nil {
		t.Fatalf("create SCRAM user: %v %v", err, res.Error())
	}
	return b
}

var saslCases = []struct{ mech, user, pass string }{
	{"SCRAM-SHA-512", "scram-user", "scram-secret"},
	{"PLAIN", "alice", "alice-plain"},
	{"PLAIN", "scram-user", "scram-secret"}, // PLAIN checked against the SCRAM credential
}

func checkPySASL(t *testing.T, b *broker, client string) {
	t.Helper()
	for i, c := range saslCases {
		topic := fmt.Sprintf("%s-sasl-%d", client, i)
		var got struct {
			Offsets []int64
			Values  []string
		}
		decodeJSON(t, runPython(t, 90*time.Second, "sasl_client.py", client, b.Addr(), c.mech, c.user, c.pass, topic, "3"), &got)
		if !slices.Equal(got.Offsets, []int64{0, 1, 2}) || !slices.Equal(got.Values, []string{"v0", "v1", "v2"}) {
			t.Errorf("%s %s as %s: %+v", client, c.mech, c.user, got)
		}
	}
}

func TestInteropKafkaPythonSASL(t *testing.T) {
	requireTool(t, "python:kafka")
	checkPySASL(t, startSASLBroker(t), "kafka-python")
}

func TestInteropConfluentSASL(t *testing.T) {
	requireTool(t, "python:confluent_kafka")
	checkPySASL(t, startSASLBroker(t), "confluent")
}

func TestInteropKcatSASL(t *testing.T) {
	requireTool(t, "kcat")
	b := startSASLBroker(t)
	for i, c := range saslCases {
		topic := fmt.Sprintf("kcat-sasl-%d", i)
		sec := []string{"-b", b.Addr(), "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=" + c.mech,
			"-X", "sasl.username=" + c.user, "-X", "sasl.password=" + c.pass}
		runTool(t, 60*time.Second, []byte("a\nb\n"), "kcat", append(sec, "-t", topic, "-P")...)
		out := runTool(t, 60*time.Second, nil, "kcat", append(sec, "-t", topic, "-C", "-o", "beginning", "-e", "-q")...)
		if got := strings.Fields(string(out)); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("kcat %s as %s consumed %q", c.mech, c.user, out)
		}
	}
	// A wrong password: kcat -L gives up with an authentication error.
	out, err := runToolErr(t, 60*time.Second, "kcat", "-b", b.Addr(), "-X", "security.protocol=SASL_PLAINTEXT",
		"-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=scram-user", "-X", "sasl.password=wrong", "-L", "-m", "5")
	if err == nil || !strings.Contains(out, "Authentication failed") {
		t.Errorf("kcat with a wrong password: err %v, output:\n%s", err, out)
	}
}

// runToolErr runs a program expected to fail and returns its combined
// output and exit error.
func runToolErr(t *testing.T, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.CommandContext(testCtx(t, timeout), name, args...).CombinedOutput()
	return string(out), err
}
