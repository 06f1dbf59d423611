package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/strombroker/strom/internal/server"
)

// saslListener makes a broker's only listener SASL_PLAINTEXT and the
// inter-broker one: followers authenticate with mechanism as the JAAS
// username "broker" (a PLAIN user of the same JAAS config, so the cluster
// needs no SCRAM user to start).
func saslListener(mechanism string) Option {
	return func(cfg *server.Config) {
		cfg.ListenerSecurityProtocols = map[string]string{"PLAINTEXT": "SASL_PLAINTEXT"}
		cfg.SASL.InterBrokerMechanism = mechanism
		cfg.SASL.JAAS = map[string]string{"": `org.apache.kafka.common.security.plain.PlainLoginModule required ` +
			`username="broker" password="broker-secret" user_broker="broker-secret";`}
	}
}

// TestClusterSASLInterBroker: three brokers whose inter-broker listener is
// SASL_PLAINTEXT replicate to a full ISR with identical replicas, followers
// authenticating with PLAIN; then followers switch to SCRAM-SHA-512 (a
// SCRAM user made through the SASL listener) after a rolling restart.
func TestClusterSASLInterBroker(t *testing.T) {
	c := New(t, 3, saslListener("PLAIN"))
	admin := plain.Auth{User: "broker", Pass: "broker-secret"}.AsMechanism()
	ctx := ctxFor(t, 60*time.Second)
	if _, err := c.Admin().CreateTopic(ctx, 1, 3, nil, "nope"); err == nil {
		t.Fatal("created a topic without authenticating")
	}
	adm := kadm.NewClient(c.Client(kgo.SASL(admin)))
	if resp, err := adm.CreateTopic(ctx, 2, 3, nil, "secure"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	produceN(t, c.Client(kgo.SASL(admin)), "secure", 0, 20)
	for p := int32(0); p < 2; p++ {
		c.WaitFor(fmt.Sprintf("partition %d fully replicated", p), 30*time.Second, func() bool {
			ok, _ := c.replicasIdentical("secure", p)
			return ok && len(c.isrOf("secure", p)) == 3
		})
		if ok, why := c.replicasIdentical("secure", p); !ok {
			t.Fatal(why)
		}
	}

	res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "replicator", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "r-secret"}})
	if err != nil || res.Error() != nil {
		t.Fatalf("create SCRAM user: %v %v", err, res.Error())
	}
	for _, b := range c.Brokers {
		b.Cfg.SASL.InterBrokerMechanism = "SCRAM-SHA-512"
		b.Cfg.SASL.JAAS["PLAINTEXT/scram-sha-512"] = `org.apache.kafka.common.security.scram.ScramLoginModule required username="replicator" password="r-secret";`
		c.Stop(b.ID)
		c.Restart(b.ID)
	}
	scramClient := c.Client(kgo.SASL(scram.Auth{User: "replicator", Pass: "r-secret"}.AsSha512Mechanism()))
	produceN(t, scramClient, "secure", 20, 20)
	for p := int32(0); p < 2; p++ {
		c.WaitFor(fmt.Sprintf("partition %d replicated over SCRAM", p), 30*time.Second, func() bool {
			ok, _ := c.replicasIdentical("secure", p)
			return ok && len(c.isrOf("secure", p)) == 3
		})
	}
}
