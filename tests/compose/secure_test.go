package compose

// The secured cluster, docker-compose.secure.yml: SASL_SSL for clients on
// the host, mTLS between brokers (INTERNAL and Raft), cluster keys from the
// environment, ACLs with super users, and the one-shot certs and users
// services. Checked from the host as a user would: franz-go as the admin
// over SCRAM-SHA-512, a wrong password, a plaintext client, a new user
// denied until an ACL allows it, and kcat.

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

const (
	secureProject = "strom-secure-test" // distinct from strom-test: both may run at once
	secureBudget  = 4 * time.Minute
	// adminListener is every broker's loopback PLAINTEXT listener, as seen
	// from inside its own container (docker exec).
	adminListener = "127.0.0.1:9090"
)

// secureCluster is the running docker-compose.secure.yml project and what a
// host client needs to use it.
type secureCluster struct {
	*cluster
	adminPass string
	caFile    string // ca.pem copied out of the certs volume
	tls       *tls.Config
}

// clientOpts are the options of a host client authenticating as user with
// SCRAM-SHA-512 over TLS, trusting the cluster's CA (franz-go checks the
// certificate against the host it dials, localhost).
func (sc *secureCluster) clientOpts(user, pass string) []kgo.Opt {
	return []kgo.Opt{
		kgo.DialTLSConfig(sc.tls.Clone()),
		kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()),
	}
}

func TestSecureComposeCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), secureBudget)
	defer cancel()
	start := time.Now()
	sc := startSecure(ctx, t)
	admin := sc.clientOpts("admin", sc.adminPass)

	const topic = "secure-rf3"
	createRF3(ctx, t, sc.compose, sc.seeds[0], topic, admin...)
	t.Logf("secured cluster up, admin created and RF3 topic created %v after compose up", time.Since(start).Round(100*time.Millisecond))
	produceConsume(ctx, t, sc.compose, sc.seeds[1], sc.seeds[2], topic, 200, admin...)

	t.Run("wrong password", func(t *testing.T) { wrongPassword(ctx, t, sc) })
	t.Run("plaintext client", func(t *testing.T) { plaintextRefused(ctx, t, sc) })
	t.Run("user needs an ACL", func(t *testing.T) { aliceNeedsACL(ctx, t, sc, topic) })
	t.Run("internal listeners", func(t *testing.T) { internalListeners(ctx, t, sc) })
	t.Run("kcat", func(t *testing.T) { kcatSASLSSL(ctx, t, sc, topic) })
}

// startSecure starts docker-compose.secure.yml with a random cluster key and
// admin password, waits for the brokers to be healthy and the users service
// to have exited 0, copies ca.pem out of the certs service's container and
// waits until every broker knows the admin's credential.
func startSecure(ctx context.Context, t *testing.T) *secureCluster {
	t.Helper()
	key := make([]byte, 32)
	pass := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	if _, err := rand.Read(pass); err != nil {
		t.Fatal(err)
	}
	sc := &secureCluster{adminPass: hex.EncodeToString(pass)}
	sc.cluster = startComposeFile(ctx, t, secureProject, "docker-compose.secure.yml", []string{
		"STROM_CLUSTER_KEYS=" + base64.StdEncoding.EncodeToString(key),
		"STROM_ADMIN_PASSWORD=" + sc.adminPass,
	})
	sc.waitExited(ctx, t, "users")

	sc.caFile = filepath.Join(t.TempDir(), "ca.pem")
	certs := sc.anyContainerID(ctx, t, "certs")
	sc.docker(ctx, t, "cp", certs+":/certs/ca.pem", sc.caFile)
	ca, err := os.ReadFile(sc.caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("%s (copied from the certs volume) holds no PEM certificate", sc.caFile)
	}
	sc.tls = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	sc.waitUserEverywhere(ctx, t, "admin")
	return sc
}

// anyContainerID returns the container of a service, running or exited
// (the one-shot services have exited).
func (sc *secureCluster) anyContainerID(ctx context.Context, t *testing.T, service string) string {
	t.Helper()
	out, err := sc.compose.compose(ctx, "ps", "-a", "-q", service)
	id := strings.TrimSpace(out)
	if err != nil || id == "" || strings.Contains(id, "\n") {
		t.Fatalf("compose ps -a -q %s: %v: %q", service, err, out)
	}
	return id
}

// waitExited waits for a one-shot service's container to exit and fails
// the test unless it exited 0.
func (sc *secureCluster) waitExited(ctx context.Context, t *testing.T, service string) {
	t.Helper()
	id := sc.anyContainerID(ctx, t, service)
	for {
		out, err := sc.run(ctx, "docker", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", id)
		state := strings.TrimSpace(out)
		if err == nil && strings.HasPrefix(state, "exited ") {
			if state != "exited 0" {
				logs, _ := sc.run(ctx, "docker", "logs", id)
				t.Fatalf("service %s: %s\n%s", service, state, logs)
			}
			return
		}
		select {
		case <-ctx.Done():
			sc.logs()
			t.Fatalf("service %s did not exit: %v %q", service, err, state)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitEveryBroker runs `strom <args> --brokers 127.0.0.1:9090` inside every
// broker's container, on its ADMIN listener, until ok accepts the output of
// all three. Metadata advertises every broker's ADMIN listener as
// 127.0.0.1:9090, so inside broker-N's container each request is answered
// by broker-N from its own copy of the replicated metadata: this waits for
// a credential or ACL to reach every broker, instead of sleeping.
func (sc *secureCluster) waitEveryBroker(ctx context.Context, t *testing.T, what string, ok func(string) bool, args ...string) {
	t.Helper()
	for i, id := range sc.ids {
		for {
			full := append([]string{"exec", id, "/strom"}, args...)
			out, err := sc.run(ctx, "docker", append(full, "--brokers", adminListener, "--timeout", "10s")...)
			if err == nil && ok(out) {
				break
			}
			select {
			case <-ctx.Done():
				sc.logs()
				t.Fatalf("%s never reached %s: %v\n%s", what, services[i], err, out)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
}

// waitUserEverywhere waits until every broker has user's SCRAM-SHA-512
// credential.
func (sc *secureCluster) waitUserEverywhere(ctx context.Context, t *testing.T, user string) {
	t.Helper()
	sc.waitEveryBroker(ctx, t, "the SCRAM credential of "+user, func(out string) bool {
		var listed []struct{ User, Mechanism string }
		if json.Unmarshal([]byte(out), &listed) != nil {
			return false
		}
		for _, l := range listed {
			if l.User == user && l.Mechanism == "SCRAM-SHA-512" {
				return true
			}
		}
		return false
	}, "user", "list", user, "--json")
}

// wrongPassword: the admin with a wrong password is refused with
// SASL_AUTHENTICATION_FAILED.
func wrongPassword(ctx context.Context, t *testing.T, sc *secureCluster) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(sc.seeds[0])}, sc.clientOpts("admin", sc.adminPass+"x")...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := cl.Ping(pctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("admin with a wrong password: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
}

// plaintextRefused: a client without TLS gets no Kafka answer on the
// EXTERNAL port, neither franz-go nor a hand-written ApiVersions request
// (the broker sees bytes that are no TLS handshake and closes).
func plaintextRefused(ctx context.Context, t *testing.T, sc *secureCluster) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(sc.seeds[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := cl.Ping(pctx); err == nil {
		t.Fatal("a plaintext franz-go client got an ApiVersions answer on the SASL_SSL port")
	} else {
		t.Logf("plaintext franz-go client: %v", err)
	}

	conn, err := (&net.Dialer{}).DialContext(pctx, "tcp", sc.seeds[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if d, ok := pctx.Deadline(); ok {
		conn.SetDeadline(d) // a bound on the test, not an assertion
	}
	// ApiVersions v0: size, key 18, version 0, correlation id 7, null client id.
	frame := []byte{0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 7, 0xff, 0xff}
	if _, err := conn.Write(frame); err != nil {
		t.Logf("write: %v (closed already)", err)
		return
	}
	var hdr [8]byte
	_, err = io.ReadFull(conn, hdr[:])
	if err == nil && binary.BigEndian.Uint32(hdr[4:]) == 7 {
		t.Fatalf("plaintext ApiVersions request answered on the SASL_SSL port: % x", hdr)
	}
	t.Logf("plaintext ApiVersions request: %v, read % x", err, hdr)
}

// aliceNeedsACL: a user the admin creates authenticates but may not produce
// (TOPIC_AUTHORIZATION_FAILED) until the admin allows WRITE on the topic.
func aliceNeedsACL(ctx context.Context, t *testing.T, sc *secureCluster, topic string) {
	adminCl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(sc.seeds...)}, sc.clientOpts("admin", sc.adminPass)...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer adminCl.Close()
	adm := kadm.NewClient(adminCl)
	const alicePass = "alice-secret"
	res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "alice", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: alicePass}})
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("admin creates alice: %v", err)
	}
	sc.waitUserEverywhere(ctx, t, "alice")

	alice, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(sc.seeds...)}, sc.clientOpts("alice", alicePass)...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rec := &kgo.Record{Topic: topic, Value: []byte("from alice")}
	if err := alice.ProduceSync(pctx, rec).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("alice produces without an ACL: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	acl := kadm.NewACLs().Allow("User:alice").Topics(topic).Operations(kadm.OpWrite)
	created, err := adm.CreateACLs(ctx, acl)
	for _, c := range created {
		if err == nil && c.Err != nil {
			err = c.Err
		}
	}
	if err != nil {
		t.Fatalf("admin allows alice to write %s: %v", topic, err)
	}
	sc.waitEveryBroker(ctx, t, "alice's ACL", func(out string) bool {
		return strings.Contains(out, "User:alice") && strings.Contains(strings.ToUpper(out), "WRITE")
	}, "acl", "list", "--topic", topic, "--principal", "User:alice")
	rec = &kgo.Record{Topic: topic, Value: []byte("from alice")}
	if err := alice.ProduceSync(pctx, rec).FirstErr(); err != nil {
		t.Fatalf("alice produces with WRITE on %s: %v", topic, err)
	}
}

// kcatSASLSSL: kcat (librdkafka) as the admin over SASL_SSL with
// SCRAM-SHA-512 and the copied CA lists the brokers, advertised as
// localhost:<host port>, and the topic.
func kcatSASLSSL(ctx context.Context, t *testing.T, sc *secureCluster, topic string) {
	requireClient(t, "kcat", "-V")
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, "kcat", "-b", sc.seeds[0], "-X", "security.protocol=SASL_SSL",
		"-X", "ssl.ca.location="+sc.caFile, "-X", "sasl.mechanisms=SCRAM-SHA-512",
		"-X", "sasl.username=admin", "-X", "sasl.password="+sc.adminPass, "-L", "-J")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat -L over SASL_SSL: %v\n%s", err, out)
	}
	var md struct {
		Brokers []struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
		} `json:"brokers"`
		Topics []struct {
			Topic string `json:"topic"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(out, &md); err != nil {
		t.Fatalf("kcat -L -J output: %v\n%s", err, out)
	}
	if len(md.Brokers) != 3 {
		t.Fatalf("kcat sees %d brokers, want 3: %+v", len(md.Brokers), md.Brokers)
	}
	for _, b := range md.Brokers {
		if !strings.HasPrefix(b.Name, "localhost:") {
			t.Fatalf("broker %d advertised to the host as %q, want localhost:<port>", b.ID, b.Name)
		}
	}
	found := false
	for _, tp := range md.Topics {
		found = found || tp.Topic == topic
	}
	if !found {
		t.Fatalf("kcat metadata does not list %s: %s", topic, out)
	}
}

// internalListeners: on the compose network a client without a client
// certificate is refused by INTERNAL (ssl.client.auth=required), and the
// ADMIN listener is not there at all (it binds 127.0.0.1 in each broker).
// The image is the client, with a client.properties trusting the CA.
func internalListeners(ctx context.Context, t *testing.T, sc *secureCluster) {
	dir := t.TempDir()
	props := "security.protocol=SSL\nssl.truststore.location=/cfg/ca.pem\n"
	ca, err := os.ReadFile(sc.caFile)
	if err != nil {
		t.Fatal(err)
	}
	// The image runs as uid 65532: the bind-mounted files must be readable.
	for name, data := range map[string][]byte{"ca.pem": ca, "client.properties": []byte(props)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	health := func(broker string, extra ...string) (string, error) {
		rctx, cancel := context.WithTimeout(ctx, 45*time.Second)
		defer cancel()
		args := append([]string{"run", "--rm", "--network", sc.network, "-v", dir + ":/cfg:ro", image,
			"health", "--brokers", broker, "--timeout", "10s"}, extra...)
		return sc.run(rctx, "docker", args...)
	}
	out, err := health("broker-1:9092", "--command-config", "/cfg/client.properties")
	if err == nil || !strings.Contains(out, "certificate required") {
		t.Fatalf("INTERNAL and a TLS client without a certificate: %v, want the handshake refused with \"certificate required\":\n%s", err, out)
	}
	t.Logf("INTERNAL without a client certificate: %v: %s", err, strings.TrimSpace(out))
	if out, err := health("broker-1:9090"); err == nil {
		t.Fatalf("the ADMIN listener answered from the compose network:\n%s", out)
	}
}
