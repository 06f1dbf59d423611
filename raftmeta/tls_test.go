package raftmeta

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/strombroker/strom/internal/certs"
)

// raftTLS returns mutual-TLS acceptor and dialer configurations for a node
// whose certificate ca issued.
func raftTLS(t *testing.T, ca *certs.Authority, cn string) (*tls.Config, func() *tls.Config) {
	t.Helper()
	pair, err := ca.Issue(certs.Options{CommonName: cn, Hosts: []string{"127.0.0.1", "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &tls.Config{Certificates: []tls.Certificate{pair.TLS}, ClientCAs: ca.Pool(), ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	cl := &tls.Config{Certificates: []tls.Certificate{pair.TLS}, RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	return srv, func() *tls.Config { return cl }
}

// TestRaftTLS: nodes with mutual TLS on the Raft port elect a controller and
// forward writes; a plaintext peer, a TLS client without a certificate and
// one whose certificate another CA issued are all refused, and nothing they
// send is applied.
func TestRaftTLS(t *testing.T) {
	ca, err := certs.NewCA("raft-test-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var nodes []*Node
	for id := int32(1); id <= 3; id++ {
		cfg := expectConfig(t, id, t.TempDir(), "127.0.0.1:0")
		cfg.TLS, cfg.TLSClient = raftTLS(t, ca, "broker")
		nodes = append(nodes, openNode(t, cfg))
	}
	if ok, err := nodes[0].TryBootstrap(peerList(nodes...)); !ok || err != nil {
		t.Fatalf("TryBootstrap = %v, %v", ok, err)
	}
	leader := waitLeader(t, nodes)
	for _, n := range nodes {
		waitController(t, n)
	}
	follower := followersOf(nodes, leader)[0]
	registerBrokers(t, follower, 1, 2, 3)
	if _, err := follower.CreateTopic(ctxT(t), TopicSpec{Name: "inside", Partitions: 1, ReplicationFactor: 3}, false); err != nil {
		t.Fatalf("forwarded write over mutual TLS: %v", err)
	}

	// Plaintext: the first bytes are not a ClientHello; closed.
	c := strangerCreateTopic(t, leader.RaftAddr())
	if n, _ := io.ReadAll(c); len(n) > 0 && n[0] != 0x15 { // a TLS alert at most
		t.Fatalf("a plaintext peer got %d bytes back, want the connection closed", len(n))
	}

	other, err := certs.NewCA("other-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, strangerConf := raftTLS(t, other, "stranger")
	noCert := &tls.Config{RootCAs: ca.Pool()}
	for name, conf := range map[string]*tls.Config{
		"no client certificate":          noCert,
		"certificate from another CA":    strangerWithOurRoots(strangerConf(), ca),
		"server not trusted by a client": strangerConf(),
	} {
		dial := tlsDialer(orNetDialer(nil), func() *tls.Config { return conf })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c2, err := dial(ctx, "tcp", leader.RaftAddr())
		if err == nil {
			// TLS 1.3 reports the server's refusal of a client
			// certificate at the first read, not in the handshake.
			_ = c2.SetDeadline(time.Now().Add(10 * time.Second))
			_, err = c2.Read(make([]byte, 1))
			c2.Close()
		}
		cancel()
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: got through (err %v), want the handshake refused", name, err)
		}
	}
	if _, ok := leader.State().Topics["intruder"]; ok {
		t.Fatal("a stranger's write was applied")
	}
}

// strangerWithOurRoots trusts the cluster's CA (so the client accepts the
// broker) while presenting a certificate the cluster's CA did not issue.
func strangerWithOurRoots(c *tls.Config, ca *certs.Authority) *tls.Config {
	c = c.Clone()
	c.RootCAs = ca.Pool()
	return c
}

// TestRaftTLSConfigPaired: a node with only one of TLS and TLSClient is refused.
func TestRaftTLSConfigPaired(t *testing.T) {
	cfg := expectConfig(t, 1, t.TempDir(), "127.0.0.1:0")
	cfg.TLS = &tls.Config{}
	if err := cfg.Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Validate with TLS but no TLSClient = %v, want ErrInvalidConfig", err)
	}
}
