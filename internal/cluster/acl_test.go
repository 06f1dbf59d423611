package cluster

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/internal/server"
)

// TestClusterACLsReplicate: with the authorizer on and the inter-broker
// principal (User:ANONYMOUS on PLAINTEXT) in super.users, followers
// replicate (Fetch and OffsetForLeaderEpoch need CLUSTER_ACTION), an ACL
// created through any broker reaches every broker's metadata, and acks=all
// produce works with the full ISR.
func TestClusterACLsReplicate(t *testing.T) {
	c := New(t, 3, func(cfg *server.Config) {
		cfg.Authorizer = server.AuthorizerStandard
		cfg.SuperUsers = []string{"User:ANONYMOUS"}
	})
	ctx := ctxFor(t, 60*time.Second)
	adm := kadm.NewClient(c.Client())
	if _, err := adm.CreateTopic(ctx, 1, 3, nil, "replicated"); err != nil {
		t.Fatal(err)
	}
	for _, b := range c.Brokers {
		bc := kadm.NewClient(c.Client(kgo.SeedBrokers(b.Addr())))
		res, err := bc.CreateACLs(ctx, kadm.NewACLs().Allow("User:alice").Topics("t").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
		if err != nil || res[0].Err != nil {
			t.Fatalf("CreateAcls through broker %d: %v %v", b.ID, err, res)
		}
	}
	c.WaitFor("the ACL on every broker", 10*time.Second, func() bool {
		for _, b := range c.Brokers {
			if len(b.Srv.Metadata().ACLs) != 1 {
				return false
			}
		}
		return true
	})
	cl := c.Client()
	for i := range 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "replicated", Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatalf("acks=all produce: %v", err)
		}
	}
	c.WaitFor("identical replicas with the full ISR", 20*time.Second, func() bool {
		ok, _ := c.replicasIdentical("replicated", 0)
		return ok && len(c.isrOf("replicated", 0)) == 3
	})
}

// TestClusterACLsDenyReplicas: a DENY of CLUSTER_ACTION for every principal
// stops follower fetches (TOPIC_AUTHORIZATION_FAILED, as Kafka), so the
// followers drop out of the ISR, while clients, with no ACLs on topics and
// allow.everyone.if.no.acl.found, still produce.
func TestClusterACLsDenyReplicas(t *testing.T) {
	c := New(t, 3, func(cfg *server.Config) {
		cfg.Authorizer = server.AuthorizerStandard
		cfg.AllowEveryoneIfNoACLFound = true
	})
	ctx := ctxFor(t, 60*time.Second)
	adm := kadm.NewClient(c.Client())
	if _, err := adm.CreateTopic(ctx, 1, 3, nil, "cut"); err != nil {
		t.Fatal(err)
	}
	res, err := adm.CreateACLs(ctx, kadm.NewACLs().Deny("User:*").Clusters().Operations(kadm.OpClusterAction))
	if err != nil || res[0].Err != nil {
		t.Fatalf("CreateAcls: %v %v", err, res)
	}
	c.WaitFor("the ACL on every broker", 10*time.Second, func() bool {
		for _, b := range c.Brokers {
			if len(b.Srv.Metadata().ACLs) != 1 {
				return false
			}
		}
		return true
	})
	cl := c.Client()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "cut", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	leader := c.leaderOf("cut", 0)
	c.WaitFor("followers out of the ISR", 30*time.Second, func() bool {
		return slices.Equal(c.isrOf("cut", 0), []int32{leader})
	})
}
