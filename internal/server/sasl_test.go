package server

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	fsasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/strombroker/strom/wire"
)

const testPlainJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret";`

// startSASLServer runs a broker with a PLAINTEXT listener (User:ANONYMOUS,
// to create the first users, as Kafka users bootstrap) and a SASL_PLAINTEXT
// listener, and returns both addresses.
func startSASLServer(t *testing.T, mutate ...func(*Config)) (s *Server, plainAddr, saslAddr string) {
	t.Helper()
	s, _ = startTestServer(t, append([]func(*Config){func(c *Config) {
		c.Listeners = []Listener{
			{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 0},
			{Name: "SASL_PLAINTEXT", Host: "127.0.0.1", Port: 0},
		}
		c.SASL.JAAS = map[string]string{"SASL_PLAINTEXT/plain": testPlainJAAS}
	}}, mutate...)...)
	addrs := s.Addrs()
	return s, addrs[0], addrs[1]
}

// createScramUser gives user a credential for both SCRAM mechanisms.
func createScramUser(t *testing.T, plainAddr, user, pass string) {
	t.Helper()
	res, err := newAdmin(t, plainAddr).AlterUserSCRAMs(testCtx(t, 10*time.Second), nil, []kadm.UpsertSCRAM{
		{User: user, Mechanism: kadm.ScramSha256, Iterations: 4096, Password: pass},
		{User: user, Mechanism: kadm.ScramSha512, Iterations: 8192, Password: pass},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Error(); err != nil {
		t.Fatal(err)
	}
}

func saslMechanisms(user, pass string) map[string]fsasl.Mechanism {
	sa := scram.Auth{User: user, Pass: pass}
	return map[string]fsasl.Mechanism{
		"PLAIN":         plain.Auth{User: user, Pass: pass}.AsMechanism(),
		"SCRAM-SHA-256": sa.AsSha256Mechanism(),
		"SCRAM-SHA-512": sa.AsSha512Mechanism(),
	}
}

// produceConsume produces one record to topic and reads it back.
func produceConsume(t *testing.T, addr, topic string, opts ...kgo.Opt) error {
	t.Helper()
	ctx := testCtx(t, 20*time.Second)
	cl := newClient(t, addr, append(opts, kgo.ConsumeTopics(topic), kgo.AllowAutoTopicCreation(), kgo.RecordRetries(3))...)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr(); err != nil {
		return err
	}
	for {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			return err
		}
		if fs.NumRecords() > 0 {
			return nil
		}
	}
}

func TestSASLMechanismsWithFranzGo(t *testing.T) {
	_, plainAddr, saslAddr := startSASLServer(t)
	createScramUser(t, plainAddr, "alice", "alice-secret")
	for name, m := range saslMechanisms("alice", "alice-secret") {
		if err := produceConsume(t, saslAddr, "t-"+strings.ToLower(name), kgo.SASL(m)); err != nil {
			t.Errorf("%s as alice: %v", name, err)
		}
	}
	// PLAIN also knows the JAAS users.
	if err := produceConsume(t, saslAddr, "t-jaas", kgo.SASL(plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism())); err != nil {
		t.Errorf("PLAIN as the JAAS user admin: %v", err)
	}
}

func TestSASLWrongPassword(t *testing.T) {
	_, plainAddr, saslAddr := startSASLServer(t)
	createScramUser(t, plainAddr, "alice", "alice-secret")
	for name, m := range saslMechanisms("alice", "wrong") {
		cl := newClient(t, saslAddr, kgo.SASL(m))
		err := cl.Ping(testCtx(t, 10*time.Second))
		if !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Errorf("%s with a wrong password: %v, want SASL_AUTHENTICATION_FAILED", name, err)
		}
	}
}

// rawRequest sends one request on c.
func rawRequest(t *testing.T, c *wire.Client, req kmsg.Request, version int16) (kmsg.Response, error) {
	t.Helper()
	req.SetVersion(version)
	return c.Request(testCtx(t, 10*time.Second), req)
}

func TestSASLRequestBeforeAuthenticationCloses(t *testing.T) {
	_, _, saslAddr := startSASLServer(t)
	c := dialRaw(t, saslAddr)
	if _, err := rawRequest(t, c, kmsg.NewPtrApiVersionsRequest(), 3); err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	if _, err := rawRequest(t, c, kmsg.NewPtrMetadataRequest(), 9); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Metadata before authentication: %v, want the connection closed", err)
	}
}

func TestSASLHandshakeErrors(t *testing.T) {
	_, _, saslAddr := startSASLServer(t, func(c *Config) { c.SASL.EnabledMechanisms = []string{"SCRAM-SHA-512", "PLAIN"} })
	c := dialRaw(t, saslAddr)
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Mechanism = "SCRAM-SHA-256"
	resp, err := rawRequest(t, c, hs, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.(*kmsg.SASLHandshakeResponse); r.ErrorCode != kerr.UnsupportedSaslMechanism.Code ||
		strings.Join(r.SupportedMechanisms, ",") != "SCRAM-SHA-512,PLAIN" {
		t.Fatalf("unsupported mechanism: %+v", r)
	}
	if _, err := rawRequest(t, c, kmsg.NewPtrApiVersionsRequest(), 3); err == nil {
		t.Fatal("connection still open after UNSUPPORTED_SASL_MECHANISM")
	}

	// A second handshake in the middle of an exchange.
	c = dialRaw(t, saslAddr)
	hs.Mechanism = "SCRAM-SHA-512"
	if resp, err := rawRequest(t, c, hs, 1); err != nil || resp.(*kmsg.SASLHandshakeResponse).ErrorCode != 0 {
		t.Fatalf("handshake: %v %+v", err, resp)
	}
	resp, err = rawRequest(t, c, hs, 1)
	if err != nil || resp.(*kmsg.SASLHandshakeResponse).ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("second handshake: %v %+v, want ILLEGAL_SASL_STATE", err, resp)
	}

	// SaslAuthenticate without a handshake.
	c = dialRaw(t, saslAddr)
	resp, err = rawRequest(t, c, kmsg.NewPtrSASLAuthenticateRequest(), 1)
	if err != nil || resp.(*kmsg.SASLAuthenticateResponse).ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("authenticate without handshake: %v %+v", err, resp)
	}
}

func TestSASLPlainWrongPasswordMessage(t *testing.T) {
	_, _, saslAddr := startSASLServer(t)
	c := dialRaw(t, saslAddr)
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Mechanism = "PLAIN"
	if _, err := rawRequest(t, c, hs, 1); err != nil {
		t.Fatal(err)
	}
	a := kmsg.NewPtrSASLAuthenticateRequest()
	a.SASLAuthBytes = []byte("\x00admin\x00nope")
	resp, err := rawRequest(t, c, a, 2)
	if err != nil {
		t.Fatal(err)
	}
	r := resp.(*kmsg.SASLAuthenticateResponse)
	if r.ErrorCode != kerr.SaslAuthenticationFailed.Code || r.ErrorMessage == nil || *r.ErrorMessage == "" {
		t.Fatalf("wrong PLAIN password: %+v", r)
	}
	if _, err := rawRequest(t, c, kmsg.NewPtrApiVersionsRequest(), 3); err == nil {
		t.Fatal("connection still open after SASL_AUTHENTICATION_FAILED")
	}
}

// TestSASLReauthentication: with a short connections.max.reauth.ms,
// franz-go re-authenticates on its own connection (KIP-368) and keeps
// producing across several session lifetimes.
func TestSASLReauthentication(t *testing.T) {
	s, plainAddr, saslAddr := startSASLServer(t, func(c *Config) { c.SASL.MaxReauth = 300 * time.Millisecond })
	createScramUser(t, plainAddr, "alice", "alice-secret")
	cl := newClient(t, saslAddr, kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism()), kgo.AllowAutoTopicCreation())
	ctx := testCtx(t, 60*time.Second)
	for i := 0; s.saslReauths.Load() < 3; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "reauth", Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatalf("produce %d after %d re-authentications: %v", i, s.saslReauths.Load(), err)
		}
	}
}

func TestScramCredentialAPIs(t *testing.T) {
	_, plainAddr, _ := startSASLServer(t)
	adm := newAdmin(t, plainAddr)
	ctx := testCtx(t, 20*time.Second)
	createScramUser(t, plainAddr, "alice", "pw")
	d, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a := d["alice"]; a.Err != nil || len(a.CredInfos) != 2 || a.CredInfos[0].Iterations != 4096 || a.CredInfos[1].Iterations != 8192 {
		t.Fatalf("describe alice: %+v", a)
	}
	if d, err := adm.DescribeUserSCRAMs(ctx, "nobody"); err != nil || !errors.Is(d["nobody"].Err, kerr.ResourceNotFound) {
		t.Fatalf("describe nobody: %v %+v", err, d)
	}

	res, err := adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "bob", Mechanism: kadm.ScramSha256}}, []kadm.UpsertSCRAM{
		{User: "erin", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "x"},
		{User: "erin", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "y"},
		{User: "frank", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]error{"bob": kerr.ResourceNotFound, "erin": kerr.DuplicateResource, "frank": nil}
	for u, w := range want {
		if got := res[u].Err; (w == nil) != (got == nil) || (w != nil && !errors.Is(got, w)) {
			t.Errorf("alter %s: %v, want %v", u, got, w)
		}
	}
	// Raw requests for what kadm refuses to send: an unknown mechanism,
	// iterations out of bounds, an empty salt.
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	for _, u := range []struct {
		name  string
		mech  int8
		iters int32
		salt  string
	}{{"gina", 3, 4096, "s"}, {"carol", 1, 100, "s"}, {"dave", 2, 20000, "s"}, {"hank", 1, 4096, ""}} {
		up := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
		up.Name, up.Mechanism, up.Iterations, up.Salt, up.SaltedPassword = u.name, u.mech, u.iters, []byte(u.salt), []byte("p")
		req.Upsertions = append(req.Upsertions, up)
	}
	resp, err := req.RequestWith(ctx, newClient(t, plainAddr))
	if err != nil || len(resp.Results) != 4 {
		t.Fatalf("raw alter: %v %+v", err, resp)
	}
	wantCodes := map[string]int16{"gina": kerr.UnsupportedSaslMechanism.Code, "carol": kerr.UnacceptableCredential.Code,
		"dave": kerr.UnacceptableCredential.Code, "hank": kerr.UnacceptableCredential.Code}
	for _, r := range resp.Results {
		if r.ErrorCode != wantCodes[r.User] || r.ErrorMessage == nil {
			t.Errorf("raw alter %s: code %d (%v), want %d", r.User, r.ErrorCode, r.ErrorMessage, wantCodes[r.User])
		}
	}

	if res, err := adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "frank", Mechanism: kadm.ScramSha512}}, nil); err != nil || res.Error() != nil {
		t.Fatalf("delete frank: %v %v", err, res.Error())
	}
	if d, _ := adm.DescribeUserSCRAMs(ctx, "frank"); !errors.Is(d["frank"].Err, kerr.ResourceNotFound) {
		t.Fatalf("frank after deletion: %+v", d["frank"])
	}
}

// plainAuth runs SaslHandshake v1 + SaslAuthenticate for PLAIN on c.
func plainAuth(t *testing.T, c *wire.Client, user, pass string) *kmsg.SASLAuthenticateResponse {
	t.Helper()
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Mechanism = "PLAIN"
	if resp, err := rawRequest(t, c, hs, 1); err != nil || resp.(*kmsg.SASLHandshakeResponse).ErrorCode != 0 {
		t.Fatalf("handshake: %v %+v", err, resp)
	}
	a := kmsg.NewPtrSASLAuthenticateRequest()
	a.SASLAuthBytes = []byte("\x00" + user + "\x00" + pass)
	resp, err := rawRequest(t, c, a, 1)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	return resp.(*kmsg.SASLAuthenticateResponse)
}

// TestSASLReauthenticationKeepsPrincipal: re-authenticating on a
// connection works as the same user and is refused (and the connection
// closed) as another, as Kafka refuses a principal change.
func TestSASLReauthenticationKeepsPrincipal(t *testing.T) {
	_, _, saslAddr := startSASLServer(t, func(c *Config) {
		c.SASL.MaxReauth = time.Hour
		c.SASL.JAAS = map[string]string{"SASL_PLAINTEXT": `org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="a" user_bob="b";`}
	})
	c := dialRaw(t, saslAddr)
	if r := plainAuth(t, c, "admin", "a"); r.ErrorCode != 0 || r.SessionLifetimeMillis != time.Hour.Milliseconds() {
		t.Fatalf("first authentication: %+v", r)
	}
	if r := plainAuth(t, c, "admin", "a"); r.ErrorCode != 0 {
		t.Fatalf("re-authentication as the same user: %+v", r)
	}
	if _, err := rawRequest(t, c, kmsg.NewPtrMetadataRequest(), 9); err != nil {
		t.Fatalf("Metadata after re-authentication: %v", err)
	}
	if r := plainAuth(t, c, "bob", "b"); r.ErrorCode != kerr.SaslAuthenticationFailed.Code {
		t.Fatalf("re-authentication as another user: %+v", r)
	}
	if _, err := rawRequest(t, c, kmsg.NewPtrMetadataRequest(), 9); err == nil {
		t.Fatal("connection still open after a refused principal change")
	}
}
