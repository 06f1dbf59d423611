package cluster

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/strombroker/strom/internal/server"
	"github.com/strombroker/strom/wire"
)

// rawAt sends req to addr on a fresh connection at req's version.
func rawAt(t *testing.T, addr string, req kmsg.Request) kmsg.Response {
	t.Helper()
	ctx := ctxFor(t, 10*time.Second)
	cl, err := wire.Dial(ctx, addr, "cluster-test")
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer cl.Close()
	resp, err := cl.Request(ctx, req)
	if err != nil {
		t.Fatalf("%s at %s: %v", kmsg.NameForKey(req.Key()), addr, err)
	}
	return resp
}

// finalized is a broker's finalized level of feature, and the epoch.
func finalized(t *testing.T, addr, feature string) (int16, int64) {
	t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version, req.ClientSoftwareName, req.ClientSoftwareVersion = 4, "cluster-test", "1"
	resp := rawAt(t, addr, req).(*kmsg.ApiVersionsResponse)
	for _, f := range resp.FinalizedFeatures {
		if f.Name == feature {
			return f.MaxVersionLevel, resp.FinalizedFeaturesEpoch
		}
	}
	return 0, resp.FinalizedFeaturesEpoch
}

// TestClusterFeatureLevels: a feature level finalized through one broker
// reaches every broker's ApiVersions and survives a restart; a client
// metrics subscription set through one broker is handed out by another.
func TestClusterFeatureLevels(t *testing.T) {
	c := New(t, 3)
	ctx := ctxFor(t, 60*time.Second)
	c.WaitFor("an established controller", 15*time.Second, func() bool { return c.controllerID() > 0 })
	via := c.Brokers[0]
	if via.ID == c.controllerID() {
		via = c.Brokers[1]
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(via.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	res, err := kadm.NewClient(cl).UpdateFeatures(ctx, false, kadm.FeatureUpdate{Feature: "transaction.version", MaxVersionLevel: 1, UpgradeType: 2})
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("downgrade through broker %d: %v", via.ID, err)
	}
	for _, b := range c.Brokers {
		c.WaitFor("transaction.version 1 at broker "+b.Addr(), 10*time.Second, func() bool {
			l, epoch := finalized(t, b.Addr(), "transaction.version")
			return l == 1 && epoch == 1
		})
	}
	c.Stop(3)
	c.Restart(3)
	c.WaitFor("transaction.version 1 at the restarted broker", 10*time.Second, func() bool {
		l, epoch := finalized(t, c.Broker(3).Addr(), "transaction.version")
		return l == 1 && epoch == 1
	})

	alter := kmsg.NewPtrIncrementalAlterConfigsRequest()
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeClientMetrics, "cluster-sub"
	for k, v := range map[string]string{"metrics": "org.apache.kafka.", "interval.ms": "2000"} {
		cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		cfg.Name, cfg.Value = k, kmsg.StringPtr(v)
		r.Configs = append(r.Configs, cfg)
	}
	alter.Resources = append(alter.Resources, r)
	if code := rawAt(t, c.Broker(1).Addr(), alter).(*kmsg.IncrementalAlterConfigsResponse).Resources[0].ErrorCode; code != 0 {
		t.Fatalf("alter client metrics: code %d", code)
	}
	c.WaitFor("the subscription at broker 2", 10*time.Second, func() bool {
		g := rawAt(t, c.Broker(2).Addr(), kmsg.NewPtrGetTelemetrySubscriptionsRequest()).(*kmsg.GetTelemetrySubscriptionsResponse)
		return g.ErrorCode == 0 && g.PushIntervalMillis == 2000 && len(g.RequestedMetrics) == 1
	})
}

// tokenLogin logs in at addr with a delegation token and returns the error
// of a DescribeDelegationToken on that connection.
func tokenLogin(t *testing.T, addr string, auth scram.Auth) (loginErr error, describeCode int16) {
	t.Helper()
	ctx := ctxFor(t, 10*time.Second)
	cl, err := wire.Dial(ctx, addr, "cluster-test")
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer cl.Close()
	if _, err := cl.AuthenticateSASL(ctx, auth.AsSha256Mechanism()); err != nil {
		return err, 0
	}
	resp, err := cl.Request(ctx, kmsg.NewPtrDescribeDelegationTokenRequest())
	if err != nil {
		t.Fatal(err)
	}
	return nil, resp.(*kmsg.DescribeDelegationTokenResponse).ErrorCode
}

// TestClusterDelegationTokens: a token created through one broker logs in
// at every broker (as a token login: token requests refused there), and
// once expired through another broker it logs in nowhere.
func TestClusterDelegationTokens(t *testing.T) {
	c := New(t, 3, saslListener("PLAIN"), func(cfg *server.Config) { cfg.SASL.DelegationTokenSecretKey = "cluster-secret" })
	ctx := ctxFor(t, 60*time.Second)
	admin := kadm.NewClient(c.Client(kgo.SASL(plain.Auth{User: "broker", Pass: "broker-secret"}.AsMechanism())))
	res, err := admin.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "alice", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "alice-secret"}})
	if err != nil || res.Error() != nil {
		t.Fatalf("create alice: %v %v", err, res.Error())
	}
	at := func(id int32) *kadm.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Broker(id).Addr()), kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return kadm.NewClient(cl)
	}
	var tok kadm.DelegationToken
	c.WaitFor("alice's credential everywhere and a token", 10*time.Second, func() bool {
		tok, err = at(1).CreateDelegationToken(ctx, kadm.CreateDelegationToken{})
		return err == nil
	})
	auth := scram.Auth{User: tok.TokenID, Pass: base64.StdEncoding.EncodeToString(tok.HMAC), IsToken: true}
	for _, b := range c.Brokers {
		c.WaitFor("a token login at broker "+b.Addr(), 10*time.Second, func() bool {
			loginErr, code := tokenLogin(t, b.Addr(), auth)
			return loginErr == nil && code == kerr.DelegationTokenRequestNotAllowed.Code
		})
	}
	if _, err := at(2).ExpireDelegationToken(ctx, tok.HMAC, -time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for _, b := range c.Brokers {
		c.WaitFor("no token login at broker "+b.Addr(), 10*time.Second, func() bool {
			loginErr, _ := tokenLogin(t, b.Addr(), auth)
			return errors.Is(loginErr, kerr.SaslAuthenticationFailed)
		})
	}
}
