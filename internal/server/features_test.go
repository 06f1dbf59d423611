package server

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiVersionsFeatures asks addr for ApiVersions at version v and returns
// the finalized levels and epoch, and the supported ranges.
func apiVersionsFeatures(t *testing.T, addr string, v int16) (map[string]int16, int64, map[string][2]int16) {
	t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = v
	req.ClientSoftwareName, req.ClientSoftwareVersion = "strom-test", "1"
	resp, err := dialRaw(t, addr).Request(testCtx(t, 10*time.Second), req)
	if err != nil {
		t.Fatal(err)
	}
	r := resp.(*kmsg.ApiVersionsResponse)
	fin, sup := map[string]int16{}, map[string][2]int16{}
	for _, f := range r.FinalizedFeatures {
		if f.MinVersionLevel != f.MaxVersionLevel {
			t.Fatalf("finalized %s has a range %d-%d", f.Name, f.MinVersionLevel, f.MaxVersionLevel)
		}
		fin[f.Name] = f.MaxVersionLevel
	}
	for _, f := range r.SupportedFeatures {
		sup[f.Name] = [2]int16{f.MinVersion, f.MaxVersion}
	}
	return fin, r.FinalizedFeaturesEpoch, sup
}

// TestFeaturesApiVersions: ApiVersions lists every finalized feature at
// its default level; v3 leaves out the supported ranges starting at 0.
func TestFeaturesApiVersions(t *testing.T) {
	_, addr := startTestServer(t)
	fin, epoch, sup := apiVersionsFeatures(t, addr, 4)
	if fin[featureMetadata] != metadataVersion41IV1 || fin[featureKRaft] != 1 || fin[featureTransaction] != 2 || epoch != 0 {
		t.Fatalf("finalized %v epoch %d", fin, epoch)
	}
	if sup[featureTransaction] != [2]int16{0, 2} || sup[featureMetadata] != [2]int16{metadataVersion33IV3, metadataVersion41IV1} {
		t.Fatalf("supported %v", sup)
	}
	if _, ok := fin[featureGroup]; ok != (groupVersionMax > 0) {
		t.Fatalf("group.version finalized %v with max %d", fin, groupVersionMax)
	}
	_, _, sup3 := apiVersionsFeatures(t, addr, 3)
	if _, ok := sup3[featureTransaction]; ok || sup3[featureMetadata] == [2]int16{} {
		t.Fatalf("v3 supported %v", sup3)
	}
}

// TestUpdateFeaturesRules: Kafka's upgrade/downgrade rules, validate-only,
// all-or-nothing, and the epoch.
func TestUpdateFeaturesRules(t *testing.T) {
	_, addr := startTestServer(t)
	ctx := testCtx(t, 30*time.Second)
	adm := newAdmin(t, addr)
	update := func(validate bool, us ...kadm.FeatureUpdate) error {
		t.Helper()
		res, err := adm.UpdateFeatures(ctx, validate, us...)
		if err != nil {
			return err
		}
		return res.Error()
	}
	tv := func(l int16, typ int8) kadm.FeatureUpdate {
		return kadm.FeatureUpdate{Feature: featureTransaction, MaxVersionLevel: l, UpgradeType: typ}
	}
	for name, u := range map[string][]kadm.FeatureUpdate{
		"downgrade typed upgrade": {tv(1, upgradeTypeUpgrade)},
		"beyond supported":        {tv(3, upgradeTypeUpgrade)},
		"unknown feature":         {{Feature: "no.such.version", MaxVersionLevel: 1, UpgradeType: upgradeTypeUpgrade}},
		"unknown upgrade type":    {tv(1, 0)},
		"metadata downgrade":      {{Feature: featureMetadata, MaxVersionLevel: metadataVersion40IV2, UpgradeType: upgradeTypeSafeDowngrade}},
		"metadata unsafe":         {{Feature: featureMetadata, MaxVersionLevel: metadataVersion40IV2, UpgradeType: upgradeTypeUnsafeDowngrade}},
		"kraft fixed":             {{Feature: featureKRaft, MaxVersionLevel: 0, UpgradeType: upgradeTypeSafeDowngrade}},
		"one bad spoils all":      {tv(1, upgradeTypeSafeDowngrade), {Feature: featureKRaft, MaxVersionLevel: 0, UpgradeType: upgradeTypeSafeDowngrade}},
	} {
		if err := update(false, u...); !errors.Is(err, kerr.InvalidUpdateVersion) {
			t.Fatalf("%s: %v, want INVALID_UPDATE_VERSION", name, err)
		}
	}
	if err := update(true, tv(1, upgradeTypeSafeDowngrade)); err != nil {
		t.Fatalf("validate only: %v", err)
	}
	if fin, epoch, _ := apiVersionsFeatures(t, addr, 4); fin[featureTransaction] != 2 || epoch != 0 {
		t.Fatalf("a refused or validate-only update changed %v (epoch %d)", fin, epoch)
	}
	if err := update(false, tv(0, upgradeTypeUnsafeDowngrade)); err != nil {
		t.Fatalf("disable transaction.version: %v", err)
	}
	fin, epoch, _ := apiVersionsFeatures(t, addr, 4)
	if _, listed := fin[featureTransaction]; listed || epoch != 1 || fin[featureMetadata] != metadataVersion41IV1 {
		t.Fatalf("after disabling: %v epoch %d", fin, epoch)
	}
	if err := update(false, tv(2, upgradeTypeSafeDowngrade)); !errors.Is(err, kerr.InvalidUpdateVersion) {
		t.Fatalf("upgrade typed downgrade: %v", err)
	}
	if err := update(false, tv(2, upgradeTypeUpgrade)); err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if fin, epoch, _ := apiVersionsFeatures(t, addr, 4); fin[featureTransaction] != 2 || epoch != 2 {
		t.Fatalf("after upgrade: %v epoch %d", fin, epoch)
	}
}

// apiKeyCounter counts the requests a client wrote, by key.
type apiKeyCounter struct{ n [100]atomic.Int64 }

func (c *apiKeyCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err == nil && key >= 0 && int(key) < len(c.n) {
		c.n[key].Add(1)
	}
}

// TestUpdateFeaturesSwitchesTransactionVersion: finalizing
// transaction.version 1 makes franz-go use the classic transaction
// protocol (AddPartitionsToTxn before producing), 2 the KIP-890 part 2 one
// (none); both commit.
func TestUpdateFeaturesSwitchesTransactionVersion(t *testing.T) {
	_, addr := startTestServer(t, txnTestConfig)
	ctx := testCtx(t, 60*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "tv-out", 1); err != nil {
		t.Fatal(err)
	}
	run := func(level int16, typ int8, id string) int64 {
		t.Helper()
		res, err := newAdmin(t, addr).UpdateFeatures(ctx, false, kadm.FeatureUpdate{Feature: featureTransaction, MaxVersionLevel: level, UpgradeType: typ})
		if err == nil {
			err = res.Error()
		}
		if err != nil {
			t.Fatalf("set transaction.version %d: %v", level, err)
		}
		var c apiKeyCounter
		p := newClient(t, addr, kgo.TransactionalID(id), kgo.DefaultProduceTopic("tv-out"), kgo.WithHooks(&c))
		// franz-go picks the protocol when a transaction begins, from
		// the features of the brokers it has talked to: the second
		// transaction is the one to look at.
		produceTxn(t, ctx, p, "tv-out", true, id+"-first")
		before := c.n[kmsg.AddPartitionsToTxn].Load()
		produceTxn(t, ctx, p, "tv-out", true, id)
		return c.n[kmsg.AddPartitionsToTxn].Load() - before
	}
	if n := run(1, upgradeTypeSafeDowngrade, "tv1"); n == 0 {
		t.Fatal("at transaction.version 1 franz-go sent no AddPartitionsToTxn")
	}
	if n := run(2, upgradeTypeUpgrade, "tv2"); n != 0 {
		t.Fatalf("at transaction.version 2 franz-go sent %d AddPartitionsToTxn", n)
	}
	got := consumeUntil(t, ctx, addr, "tv-out", kgo.ReadCommitted(), "tv2")
	if len(got) != 4 {
		t.Fatalf("committed %v", got)
	}
}

// TestUpdateFeaturesAuthorization: without ALTER on the cluster the answer
// is CLUSTER_AUTHORIZATION_FAILED.
func TestUpdateFeaturesAuthorization(t *testing.T) {
	_, addr := startTestServer(t, func(c *Config) { c.Authorizer = AuthorizerStandard })
	req := kmsg.NewPtrUpdateFeaturesRequest()
	req.Version = 1
	u := kmsg.NewUpdateFeaturesRequestFeatureUpdate()
	u.Feature, u.MaxVersionLevel, u.UpgradeType = featureTransaction, 1, upgradeTypeSafeDowngrade
	req.FeatureUpdates = append(req.FeatureUpdates, u)
	resp, err := dialRaw(t, addr).Request(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	r := resp.(*kmsg.UpdateFeaturesResponse)
	if r.ErrorCode != kerr.ClusterAuthorizationFailed.Code || len(r.Results) != 1 || r.Results[0].ErrorCode != r.ErrorCode {
		t.Fatalf("answer %+v", r)
	}
}

// TestGroupAndShareVersionGateHeartbeats: group.version and share.version
// are finalized at 1, so the KIP-848 and share-group heartbeats are served;
// downgraded to 0, both are refused with UNSUPPORTED_VERSION, as a Kafka
// cluster with the feature off answers them.
func TestGroupAndShareVersionGateHeartbeats(t *testing.T) {
	_, addr := startTestServer(t)
	ctx := testCtx(t, 30*time.Second)
	if fin, _, _ := apiVersionsFeatures(t, addr, 4); fin[featureGroup] != 1 || fin[featureShare] != 1 {
		t.Fatalf("finalized %v, want group.version and share.version 1", fin)
	}
	cl := newClient(t, addr)
	heartbeats := func() (cg, share int16) {
		t.Helper()
		c := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		c.Group, c.MemberID, c.MemberEpoch, c.RebalanceTimeoutMillis = "gate", "m-consumer", 0, 1000
		c.SubscribedTopicNames = []string{"t"}
		c.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		cr, err := c.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		s := kmsg.NewPtrShareGroupHeartbeatRequest()
		s.GroupID, s.MemberID, s.MemberEpoch = "gate-share", "m-share", 0
		s.SubscribedTopicNames = []string{"t"}
		sr, err := s.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return cr.ErrorCode, sr.ErrorCode
	}
	if cg, sh := heartbeats(); cg == kerr.UnsupportedVersion.Code || sh == kerr.UnsupportedVersion.Code {
		t.Fatalf("heartbeats refused with the features on: %d, %d", cg, sh)
	}
	res, err := newAdmin(t, addr).UpdateFeatures(ctx, false,
		kadm.FeatureUpdate{Feature: featureGroup, MaxVersionLevel: 0, UpgradeType: upgradeTypeUnsafeDowngrade},
		kadm.FeatureUpdate{Feature: featureShare, MaxVersionLevel: 0, UpgradeType: upgradeTypeUnsafeDowngrade})
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("downgrade: %v", err)
	}
	if cg, sh := heartbeats(); cg != kerr.UnsupportedVersion.Code || sh != kerr.UnsupportedVersion.Code {
		t.Fatalf("heartbeats with the features off: %d, %d; want UNSUPPORTED_VERSION", cg, sh)
	}
}
