package cluster

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/internal/certs"
	"github.com/strombroker/strom/internal/server"
)

// TestClusterTLSInterBroker: three brokers whose only listener, the
// inter-broker one, is SSL with ssl.client.auth=required, so followers
// replicate only by presenting their broker certificate, and whose Raft
// port speaks mutual TLS (raft.security.protocol=SSL). Records replicate,
// and when the leader stops a follower takes over with every record.
func TestClusterTLSInterBroker(t *testing.T) {
	ca, err := certs.NewCA("cluster-test-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	broker, err := ca.Issue(certs.Options{CommonName: "broker", Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.Issue(certs.Options{CommonName: "client", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keystore, truststore := filepath.Join(dir, "broker.pem"), filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(keystore, broker.KeystorePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(truststore, ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	c := New(t, 3, func(cfg *server.Config) {
		cfg.Listeners[0].Name = "SSL"
		cfg.ReplicaLagTimeMax = time.Minute
		cfg.SSL = server.TLSSettings{KeystoreLocation: keystore, TruststoreLocation: truststore, ClientAuth: "required"}
		cfg.RaftSecurityProtocol = "SSL" // and mutual TLS between controllers
	})
	tlsOpt := kgo.DialTLSConfig(&tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{client.TLS}})
	ctx := ctxFor(t, 60*time.Second)
	if _, err := kadm.NewClient(c.Client(tlsOpt)).CreateTopic(ctx, 1, 3, nil, "tls-fo"); err != nil {
		t.Fatal(err)
	}
	prod := c.Client(tlsOpt, kgo.RequiredAcks(kgo.AllISRAcks()))
	produceN(t, prod, "tls-fo", 0, 50)
	c.WaitFor("replicas identical over TLS", 15*time.Second, func() bool {
		ok, _ := c.replicasIdentical("tls-fo", 0)
		return ok && len(c.isrOf("tls-fo", 0)) == 3
	})

	old := c.leaderOf("tls-fo", 0)
	c.Stop(old)
	c.WaitFor("a new leader", 15*time.Second, func() bool {
		l := c.leaderOf("tls-fo", 0)
		return l >= 0 && l != old
	})
	produceN(t, prod, "tls-fo", 50, 50)
	c.Restart(old)
	c.WaitFor("returning broker back in the ISR over TLS", 20*time.Second, func() bool {
		return slices.Contains(c.isrOf("tls-fo", 0), old) && len(c.isrOf("tls-fo", 0)) == 3
	})

	cons := c.Client(tlsOpt, kgo.ConsumeTopics("tls-fo"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for len(got) < 100 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of 100", len(got))
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	for i, v := range got {
		if v != fmt.Sprint(i) {
			t.Fatalf("record %d = %s", i, v)
		}
	}
	c.WaitFor("replicas identical after failover", 15*time.Second, func() bool {
		ok, _ := c.replicasIdentical("tls-fo", 0)
		return ok
	})
}
