package tests

import (
	"crypto/tls"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// securedBroker is a broker process set up as a Kafka user secures one:
// EXTERNAL is SASL_SSL (SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN, checked
// against the replicated SCRAM store), the standard authorizer is on, and
// ADMIN is a loopback PLAINTEXT listener whose User:ANONYMOUS is a super
// user, which is how the first users are made. admin (a super user) and
// alice (no ACLs) are SCRAM users created with `strom user create`.
type securedBroker struct {
	*broker
	pki      *pki
	admin    string // the ADMIN listener, host:port
	external string // the EXTERNAL listener, host:port
}

func startSecuredBroker(t *testing.T) *securedBroker {
	t.Helper()
	p := newPKI(t)
	b := startBroker(t,
		"--listen", "ADMIN://127.0.0.1:0,EXTERNAL://127.0.0.1:0",
		"--listener-security-protocol-map", "ADMIN:PLAINTEXT,EXTERNAL:SASL_SSL",
		"--ssl-keystore-location", p.keystore, "--ssl-truststore-location", p.caFile,
		"--sasl-enabled-mechanisms", "SCRAM-SHA-512,SCRAM-SHA-256,PLAIN",
		"--authorizer-class-name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"--super-users", "User:ANONYMOUS;User:admin")
	sb := &securedBroker{broker: b, pki: p, admin: b.Addr(), external: listenerAddr(t, b, "EXTERNAL")}
	for _, u := range [][2]string{{"admin", "admin-secret"}, {"alice", "alice-secret"}} {
		sb.strom(t, "user", "create", u[0], "--password", u[1])
	}
	return sb
}

// listenerAddr is the advertised address of the listener called name, from
// the broker's "listening for Kafka clients" log line (Start returns at the
// first listener's line; the others follow at once).
func listenerAddr(t *testing.T, b *broker, name string) string {
	t.Helper()
	re := regexp.MustCompile(`msg="listening for Kafka clients" listener=` + name + `\b.*\badvertised=([^\s"]+)`)
	var addr string
	waitFor(t, 10*time.Second, "the "+name+" listener in the broker's log", func() error {
		m := re.FindStringSubmatch(b.Logs())
		if m == nil {
			return errors.New("not logged yet")
		}
		addr = m[1]
		return nil
	})
	return addr
}

// strom runs the strom CLI against the ADMIN listener (User:ANONYMOUS).
func (sb *securedBroker) strom(t *testing.T, args ...string) string {
	t.Helper()
	return string(runTool(t, 30*time.Second, nil, stromBin, append(args, "--brokers", sb.admin)...))
}

// client is a franz-go client on the EXTERNAL listener as user.
func (sb *securedBroker) client(t *testing.T, user, pass string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return newKgo(t, sb.external, append([]kgo.Opt{
		kgo.DialTLSConfig(&tls.Config{RootCAs: sb.pki.ca.Pool()}),
		kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()),
	}, opts...)...)
}

// TestSecurityACLsWithSASLPrincipals: with real SASL_SSL principals, alice
// (no ACLs) is refused produce, consume, group join and topic creation with
// Kafka's error codes; after `strom acl add` she may do exactly those; admin,
// a super user, may do everything; a wrong password is
// SASL_AUTHENTICATION_FAILED and a plaintext client gets nothing.
func TestSecurityACLsWithSASLPrincipals(t *testing.T) {
	sb := startSecuredBroker(t)
	ctx := testCtx(t, 90*time.Second)
	admin := sb.client(t, "admin", "admin-secret")
	if _, err := kadm.NewClient(admin).CreateTopic(ctx, 2, 1, nil, "orders"); err != nil {
		t.Fatalf("admin creates a topic: %v", err)
	}
	if err := admin.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("by-admin")}).FirstErr(); err != nil {
		t.Fatalf("admin produces: %v", err)
	}

	bad := sb.client(t, "alice", "wrong")
	if err := bad.Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("wrong password: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
	plain := newKgo(t, sb.external, kgo.RequestRetries(0))
	pctx := testCtx(t, 5*time.Second)
	if err := plain.Ping(pctx); err == nil {
		t.Fatal("a plaintext client was answered on the SASL_SSL listener")
	}

	alice := sb.client(t, "alice", "alice-secret")
	topics, err := kadm.NewClient(admin).ListTopics(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	aliceDenied(t, alice, topics["orders"].ID)

	sb.strom(t, "acl", "add", "--allow-principal", "User:alice", "--operation", "Write", "--operation", "Read", "--topic", "orders")
	sb.strom(t, "acl", "add", "--allow-principal", "User:alice", "--operation", "Read", "--group", "billing")
	sb.strom(t, "acl", "add", "--allow-principal", "User:alice", "--operation", "Create", "--topic", "alice-", "--resource-pattern-type", "prefixed")
	if out := sb.strom(t, "acl", "list", "--principal", "User:alice"); strings.Count(out, "alice") < 3 {
		t.Fatalf("strom acl list shows:\n%s", out)
	}
	aliceAllowed(t, sb, alice)
}

// aliceDenied checks each refusal with the code Kafka answers.
func aliceDenied(t *testing.T, alice *kgo.Client, ordersID [16]byte) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	if err := alice.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("x")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("produce without ACLs: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version, fetch.MaxWaitMillis, fetch.MaxBytes = 11, 0, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = "orders", ordersID // franz-go sends Fetch v13+: by id
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	if resp, err := fetch.RequestWith(ctx, alice); err != nil || resp.Topics[0].Partitions[0].ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("fetch without ACLs: %v %+v, want TOPIC_AUTHORIZATION_FAILED", err, resp)
	}
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.ProtocolType, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = "billing", "consumer", 10000, 10000
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
	// franz-go looks the coordinator up first, and Kafka's FindCoordinator
	// already needs DESCRIBE on the group: either refusal is the group's.
	if resp, err := join.RequestWith(ctx, alice); !errors.Is(err, kerr.GroupAuthorizationFailed) && (err != nil || resp.ErrorCode != kerr.GroupAuthorizationFailed.Code) {
		t.Errorf("join group without ACLs: %v %+v, want GROUP_AUTHORIZATION_FAILED", err, resp)
	}
	res, err := kadm.NewClient(alice).CreateTopic(ctx, 1, 1, nil, "alice-topic")
	if err == nil {
		err = res.Err
	}
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("create topic without ACLs: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
}

// aliceAllowed: after the ACLs, alice produces, consumes in her group and
// commits, and creates a topic under her prefix but not elsewhere.
func aliceAllowed(t *testing.T, sb *securedBroker, alice *kgo.Client) {
	t.Helper()
	ctx := testCtx(t, 60*time.Second)
	if err := alice.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("by-alice")}).FirstErr(); err != nil {
		t.Fatalf("produce after strom acl add: %v", err)
	}
	cons := sb.client(t, "alice", "alice-secret", kgo.ConsumeTopics("orders"), kgo.ConsumerGroup("billing"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	var got []string
	for len(got) < 2 {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("alice consumed %q before the deadline", got)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("alice's group consume: %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"by-admin", "by-alice"}) {
		t.Fatalf("alice consumed %q", got)
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("alice commits in group billing: %v", err)
	}
	adm := kadm.NewClient(alice)
	if res, err := adm.CreateTopic(ctx, 1, 1, nil, "alice-topic"); err != nil || res.Err != nil {
		t.Fatalf("alice creates alice-topic with CREATE on prefix alice-: %v %v", err, res.Err)
	}
	if res, err := adm.CreateTopic(ctx, 1, 1, nil, "bob-topic"); err == nil && !errors.Is(res.Err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("alice creates bob-topic: %v, want TOPIC_AUTHORIZATION_FAILED", res.Err)
	}
}

// TestInteropSASLSSL: kcat, kafka-python and confluent-kafka produce and
// consume over SASL_SSL with SCRAM-SHA-512 and with PLAIN (checked against
// the SCRAM credential), as the super user admin.
func TestInteropSASLSSL(t *testing.T) {
	requireTool(t, "kcat")
	requireTool(t, "python:kafka")
	requireTool(t, "python:confluent_kafka")
	sb := startSecuredBroker(t)
	for _, mech := range []string{"SCRAM-SHA-512", "PLAIN"} {
		for _, client := range []string{"kafka-python", "confluent"} {
			topic := fmt.Sprintf("%s-sasl-ssl-%s", client, strings.ToLower(mech))
			var got struct {
				Offsets []int64
				Values  []string
			}
			decodeJSON(t, runPython(t, 90*time.Second, "sasl_client.py", client, sb.external, mech, "admin", "admin-secret", topic, "3", sb.pki.caFile), &got)
			if !slices.Equal(got.Offsets, []int64{0, 1, 2}) || !slices.Equal(got.Values, []string{"v0", "v1", "v2"}) {
				t.Errorf("%s over SASL_SSL with %s: %+v", client, mech, got)
			}
		}
		topic := "kcat-sasl-ssl-" + strings.ToLower(mech)
		sec := []string{"-b", sb.external, "-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location=" + sb.pki.caFile,
			"-X", "sasl.mechanisms=" + mech, "-X", "sasl.username=admin", "-X", "sasl.password=admin-secret"}
		runTool(t, 60*time.Second, []byte("a\nb\n"), "kcat", append(sec, "-t", topic, "-P")...)
		out := runTool(t, 60*time.Second, nil, "kcat", append(sec, "-t", topic, "-C", "-o", "beginning", "-e", "-q")...)
		if got := strings.Fields(string(out)); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("kcat over SASL_SSL with %s consumed %q", mech, out)
		}
	}
}
