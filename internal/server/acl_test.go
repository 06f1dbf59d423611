package server

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/wire"
)

// startACLServer starts a broker with the standard authorizer and User:admin
// as super user. TEST-ONLY PRINCIPAL SEAM: until SASL and TLS set real
// principals, every connection acts as User:<its client id>
// (Config.principalHook); kgo.ClientID("alice") is User:alice. The
// integration tests with SASL replace this seam with real logins.
func startACLServer(t *testing.T, mutate ...func(*Config)) (*Server, string) {
	t.Helper()
	return startTestServer(t, append([]func(*Config){func(c *Config) {
		c.Authorizer = AuthorizerStandard
		c.SuperUsers = []string{"User:admin"}
		c.principalHook = func(req *wire.Request) {
			req.Conn.SetPrincipal(wire.Principal{Type: "User", Name: req.ClientID})
		}
	}}, mutate...)...)
}

// clientAs is a franz-go client acting as User:<name> (see startACLServer).
func clientAs(t *testing.T, addr, name string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return newClient(t, addr, append([]kgo.Opt{kgo.ClientID(name)}, opts...)...)
}

// rawAs is a wire client sending requests at exact versions as User:<name>.
func rawAs(t *testing.T, addr, name string) *wire.Client {
	t.Helper()
	c, err := wire.Dial(testCtx(t, 10*time.Second), addr, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustRequest[R kmsg.Response](t *testing.T, c *wire.Client, req kmsg.Request) R {
	t.Helper()
	resp, err := c.Request(testCtx(t, 30*time.Second), req)
	if err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp.(R)
}

// addACLs creates ACLs as admin and fails on any error.
func addACLs(t *testing.T, adm *kadm.Client, b *kadm.ACLBuilder) {
	t.Helper()
	res, err := adm.CreateACLs(testCtx(t, 30*time.Second), b)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("create ACL %+v: %v", r, r.Err)
		}
	}
}

// TestACLProduceConsumeGroupCreate: User:alice, with no ACLs, is denied
// produce (TOPIC_AUTHORIZATION_FAILED; an idempotent producer
// CLUSTER_AUTHORIZATION_FAILED at InitProducerId), consume
// (TOPIC_AUTHORIZATION_FAILED), group join (GROUP_AUTHORIZATION_FAILED) and
// topic creation (TOPIC_AUTHORIZATION_FAILED); after the admin adds ACLs
// she does all of it with franz-go, and a DENY then wins over the ALLOW.
func TestACLProduceConsumeGroupCreate(t *testing.T) {
	_, addr := startACLServer(t)
	ctx := testCtx(t, 60*time.Second)
	adm := kadm.NewClient(clientAs(t, addr, "admin"))
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}

	plain := clientAs(t, addr, "alice", kgo.DisableIdempotentWrite(), kgo.RecordRetries(1))
	err := plain.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("denied produce: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	idem := clientAs(t, addr, "alice")
	err = idem.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.ClusterAuthorizationFailed) && !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("denied idempotent produce: %v", err)
	}
	raw := rawAs(t, addr, "alice")
	checkFetchCode(t, raw, "orders", kerr.TopicAuthorizationFailed)
	checkJoinCode(t, raw, "alice-g", kerr.GroupAuthorizationFailed)
	res, err := kadm.NewClient(clientAs(t, addr, "alice")).CreateTopic(ctx, 1, 1, nil, "alice-new")
	if !errors.Is(err, kerr.TopicAuthorizationFailed) && !errors.Is(res.Err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("denied create: %v / %v", err, res.Err)
	}

	addACLs(t, adm, kadm.NewACLs().Allow("User:alice").AllowHosts().
		Topics("orders").Operations(kadm.OpWrite, kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
	addACLs(t, adm, kadm.NewACLs().Allow("User:alice").AllowHosts().
		Topics("alice-").Groups("alice-").Operations(kadm.OpCreate, kadm.OpRead).ResourcePatternType(kadm.ACLPatternPrefixed))

	if err := idem.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatalf("allowed idempotent produce: %v", err)
	}
	consumeOne(t, addr, "alice", "alice-g", "orders")
	if _, err := kadm.NewClient(clientAs(t, addr, "alice")).CreateTopic(ctx, 1, 1, nil, "alice-new"); err != nil {
		t.Fatalf("allowed create: %v", err)
	}
	res, err = kadm.NewClient(clientAs(t, addr, "alice")).CreateTopic(ctx, 1, 1, nil, "bob-new")
	if !errors.Is(err, kerr.TopicAuthorizationFailed) && !errors.Is(res.Err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("create outside the prefix: %v / %v", err, res.Err)
	}

	// DENY beats ALLOW: READ denied to everyone on orders.
	addACLs(t, adm, kadm.NewACLs().Deny("User:*").DenyHosts().Topics("orders").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
	checkFetchCode(t, raw, "orders", kerr.TopicAuthorizationFailed)
}

// consumeOne reads one record of topic in group as User:<who>, committing it.
func consumeOne(t *testing.T, addr, who, group, topic string) {
	t.Helper()
	cl := clientAs(t, addr, who, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	ctx := testCtx(t, 30*time.Second)
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		if errs := fs.Errors(); len(errs) > 0 && ctx.Err() == nil {
			t.Fatalf("consume as %s: %v", who, errs[0].Err)
		}
		if fs.NumRecords() > 0 {
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				t.Fatalf("commit as %s: %v", who, err)
			}
			return
		}
	}
	t.Fatalf("consume as %s: no record before the deadline", who)
}

// checkFetchCode fetches partition 0 of topic and checks its error (nil:
// none).
func checkFetchCode(t *testing.T, c *wire.Client, topic string, want *kerr.Error) {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version = 11
	req.ReplicaID = -1
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rp.CurrentLeaderEpoch = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := mustRequest[*kmsg.FetchResponse](t, c, req)
	wantCode := int16(0)
	if want != nil {
		wantCode = want.Code
	}
	if got := resp.Topics[0].Partitions[0].ErrorCode; got != wantCode {
		t.Fatalf("fetch %s: error %v, want %v", topic, kerr.ErrorForCode(got), want)
	}
}

func checkJoinCode(t *testing.T, c *wire.Client, group string, want *kerr.Error) {
	t.Helper()
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version = 3
	fc.CoordinatorKey = group
	if got := mustRequest[*kmsg.FindCoordinatorResponse](t, c, fc).ErrorCode; got != want.Code {
		t.Fatalf("find coordinator %s: %v, want %v", group, kerr.ErrorForCode(got), want)
	}
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = 5
	req.Group = group
	req.SessionTimeoutMillis = 10000
	req.RebalanceTimeoutMillis = 10000
	req.ProtocolType = "consumer"
	req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{}}}
	if got := mustRequest[*kmsg.JoinGroupResponse](t, c, req).ErrorCode; got != want.Code {
		t.Fatalf("join %s: %v, want %v", group, kerr.ErrorForCode(got), want)
	}
}

// TestACLMetadataFiltering: an all-topics Metadata lists only what the
// principal may describe; a named topic it may not describe is
// TOPIC_AUTHORIZATION_FAILED, known or not; auto-creation needs CREATE.
func TestACLMetadataFiltering(t *testing.T) {
	s, addr := startACLServer(t)
	ctx := testCtx(t, 60*time.Second)
	adm := kadm.NewClient(clientAs(t, addr, "admin"))
	for _, name := range []string{"public", "secret"} {
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, name); err != nil {
			t.Fatal(err)
		}
	}
	addACLs(t, adm, kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("public").
		Operations(kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral))
	addACLs(t, adm, kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("auto-").
		Operations(kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternPrefixed))
	raw := rawAs(t, addr, "alice")

	all := kmsg.NewPtrMetadataRequest()
	all.Version = 9
	all.IncludeTopicAuthorizedOperations = true
	var names []string
	for _, mt := range mustRequest[*kmsg.MetadataResponse](t, raw, all).Topics {
		names = append(names, *mt.Topic)
		if mt.AuthorizedOperations != 1<<8 {
			t.Errorf("%s authorized ops %b, want DESCRIBE only", *mt.Topic, mt.AuthorizedOperations)
		}
	}
	if !slices.Equal(names, []string{"public"}) {
		t.Fatalf("all-topics metadata lists %v, want [public]", names)
	}

	named := kmsg.NewPtrMetadataRequest()
	named.Version = 9
	named.AllowAutoTopicCreation = true
	for _, n := range []string{"public", "secret", "nosuch", "auto-x"} {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(n)
		named.Topics = append(named.Topics, rt)
	}
	want := []int16{0, kerr.TopicAuthorizationFailed.Code, kerr.TopicAuthorizationFailed.Code, kerr.TopicAuthorizationFailed.Code}
	for i, mt := range mustRequest[*kmsg.MetadataResponse](t, raw, named).Topics {
		if mt.ErrorCode != want[i] {
			t.Errorf("metadata %s: %v, want %v", *mt.Topic, kerr.ErrorForCode(mt.ErrorCode), kerr.ErrorForCode(want[i]))
		}
	}
	if s.meta.State().Topics["auto-x"] != nil {
		t.Fatal("auto-x auto-created without CREATE")
	}
	addACLs(t, adm, kadm.NewACLs().Allow("User:alice").AllowHosts().Clusters().Operations(kadm.OpCreate))
	mustRequest[*kmsg.MetadataResponse](t, raw, named)
	if s.meta.State().Topics["auto-x"] == nil {
		t.Fatal("auto-x not auto-created with CREATE on the cluster")
	}
}

// TestACLAdminAPIs: the ACL APIs need cluster ALTER/DESCRIBE, validate as
// Kafka does, filter by pattern, and DeleteAcls removes what its filter
// matches, after which the principal is denied again.
func TestACLAdminAPIs(t *testing.T) {
	_, addr := startACLServer(t)
	ctx := testCtx(t, 60*time.Second)
	adm := kadm.NewClient(clientAs(t, addr, "admin"))
	alice := kadm.NewClient(clientAs(t, addr, "alice"))

	b := kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("t").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
	res, err := alice.CreateACLs(ctx, b)
	if err == nil && len(res) > 0 {
		err = res[0].Err
	}
	if !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("CreateAcls as alice: %v, want CLUSTER_AUTHORIZATION_FAILED", err)
	}
	if err := describeErr(alice.DescribeACLs(ctx, kadm.NewACLs().AnyResource().Allow().AllowHosts().Deny().DenyHosts().ResourcePatternType(kadm.ACLPatternAny).Operations(kadm.OpAny))); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("DescribeAcls as alice: %v, want CLUSTER_AUTHORIZATION_FAILED", err)
	}

	addACLs(t, adm, b)
	addACLs(t, adm, kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("t-").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternPrefixed))
	addACLs(t, adm, kadm.NewACLs().Allow("User:bob").AllowHosts().Groups("g").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))

	match := kadm.NewACLs().Topics("t-1").ResourcePatternType(kadm.ACLPatternMatch).Operations(kadm.OpAny).Allow().AllowHosts().Deny().DenyHosts()
	described, err := adm.DescribeACLs(ctx, match)
	if err != nil || len(described) != 1 || described[0].Err != nil || len(described[0].Described) != 1 ||
		described[0].Described[0].Pattern != kadm.ACLPatternPrefixed {
		t.Fatalf("DescribeAcls MATCH t-1: %+v, %v; want the prefixed t- ACL", described, err)
	}

	raw := rawAs(t, addr, "admin")
	bad := kmsg.NewPtrCreateACLsRequest()
	bad.Version = 2
	for _, c := range []kmsg.CreateACLsRequestCreation{
		{ResourceType: kmsg.ACLResourceTypeTopic, ResourceName: "t", ResourcePatternType: kmsg.ACLResourcePatternTypeLiteral, Principal: "alice", Host: "*", Operation: kmsg.ACLOperationRead, PermissionType: kmsg.ACLPermissionTypeAllow},
		{ResourceType: kmsg.ACLResourceTypeAny, ResourceName: "t", ResourcePatternType: kmsg.ACLResourcePatternTypeLiteral, Principal: "User:a", Host: "*", Operation: kmsg.ACLOperationRead, PermissionType: kmsg.ACLPermissionTypeAllow},
		{ResourceType: kmsg.ACLResourceTypeCluster, ResourceName: "c", ResourcePatternType: kmsg.ACLResourcePatternTypeLiteral, Principal: "User:a", Host: "*", Operation: kmsg.ACLOperationAlter, PermissionType: kmsg.ACLPermissionTypeAllow},
		{ResourceType: kmsg.ACLResourceTypeTopic, ResourceName: "t", ResourcePatternType: kmsg.ACLResourcePatternTypeMatch, Principal: "User:a", Host: "*", Operation: kmsg.ACLOperationRead, PermissionType: kmsg.ACLPermissionTypeAllow},
	} {
		bad.Creations = append(bad.Creations, c)
	}
	for i, r := range mustRequest[*kmsg.CreateACLsResponse](t, raw, bad).Results {
		if r.ErrorCode != kerr.InvalidRequest.Code {
			t.Errorf("invalid creation %d: %v, want INVALID_REQUEST", i, kerr.ErrorForCode(r.ErrorCode))
		}
	}

	// v0 has no pattern type: creations and filters are LITERAL.
	c0 := kmsg.NewPtrCreateACLsRequest()
	c0.Creations = []kmsg.CreateACLsRequestCreation{{ResourceType: kmsg.ACLResourceTypeGroup, ResourceName: "v0", Principal: "User:carol", Host: "*", Operation: kmsg.ACLOperationRead, PermissionType: kmsg.ACLPermissionTypeAllow}}
	if r := mustRequest[*kmsg.CreateACLsResponse](t, raw, c0).Results[0]; r.ErrorCode != 0 {
		t.Fatalf("CreateAcls v0: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	d0 := kmsg.NewPtrDescribeACLsRequest()
	d0.ResourceType, d0.ResourceName = kmsg.ACLResourceTypeGroup, kmsg.StringPtr("v0")
	d0.Operation, d0.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	if r := mustRequest[*kmsg.DescribeACLsResponse](t, raw, d0); r.ErrorCode != 0 || len(r.Resources) != 1 || r.Resources[0].ACLs[0].Principal != "User:carol" {
		t.Fatalf("DescribeAcls v0: %+v", r)
	}
	x0 := kmsg.NewPtrDeleteACLsRequest()
	x0.Filters = []kmsg.DeleteACLsRequestFilter{{ResourceType: kmsg.ACLResourceTypeGroup, ResourceName: kmsg.StringPtr("v0"), Operation: kmsg.ACLOperationAny, PermissionType: kmsg.ACLPermissionTypeAny}}
	if r := mustRequest[*kmsg.DeleteACLsResponse](t, raw, x0).Results[0]; r.ErrorCode != 0 || len(r.MatchingACLs) != 1 {
		t.Fatalf("DeleteAcls v0: %+v", r)
	}

	del := kadm.NewACLs().Allow("User:alice").AllowHosts().AnyResource().ResourcePatternType(kadm.ACLPatternAny).Operations(kadm.OpAny)
	deleted, err := adm.DeleteACLs(ctx, del)
	if err != nil || len(deleted) != 1 || deleted[0].Err != nil || len(deleted[0].Deleted) != 2 {
		t.Fatalf("DeleteAcls alice: %+v, %v; want her 2 ACLs deleted", deleted, err)
	}
	left, err := adm.DescribeACLs(ctx, kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternAny).Operations(kadm.OpAny).Allow().AllowHosts().Deny().DenyHosts())
	if err != nil || len(left) != 1 || len(left[0].Described) != 1 || left[0].Described[0].Principal != "User:bob" {
		t.Fatalf("ACLs left: %+v, %v; want bob's only", left, err)
	}
}

// describeErr is the request's or else the first filter's error.
func describeErr(res kadm.DescribeACLsResults, err error) error {
	if err == nil && len(res) > 0 {
		err = res[0].Err
	}
	return err
}

// TestACLSecurityDisabled: without authorizer.class.name every request is
// allowed and the ACL APIs answer SECURITY_DISABLED, as Kafka.
func TestACLSecurityDisabled(t *testing.T) {
	_, addr := startTestServer(t)
	ctx := testCtx(t, 30*time.Second)
	adm := newAdmin(t, addr)
	err := describeErr(adm.DescribeACLs(ctx, kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternAny).Operations(kadm.OpAny).Allow().AllowHosts().Deny().DenyHosts()))
	if !errors.Is(err, kerr.SecurityDisabled) {
		t.Fatalf("DescribeAcls: %v, want SECURITY_DISABLED", err)
	}
	res, err := adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:a").AllowHosts().Topics("t").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
	if err == nil && len(res) > 0 {
		err = res[0].Err
	}
	if !errors.Is(err, kerr.SecurityDisabled) {
		t.Fatalf("CreateAcls: %v, want SECURITY_DISABLED", err)
	}
}

// TestACLAllowEveryoneIfNoACLFound: with allow.everyone.if.no.acl.found a
// resource without ACLs is open to all, and one with any ACL is not.
func TestACLAllowEveryoneIfNoACLFound(t *testing.T) {
	_, addr := startACLServer(t, func(c *Config) { c.AllowEveryoneIfNoACLFound = true })
	ctx := testCtx(t, 60*time.Second)
	adm := kadm.NewClient(clientAs(t, addr, "admin"))
	for _, name := range []string{"open", "closed"} {
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, name); err != nil {
			t.Fatal(err)
		}
	}
	addACLs(t, adm, kadm.NewACLs().Allow("User:bob").AllowHosts().Topics("closed").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
	raw := rawAs(t, addr, "alice")
	checkFetchCode(t, raw, "open", nil)
	checkFetchCode(t, raw, "closed", kerr.TopicAuthorizationFailed)
}
