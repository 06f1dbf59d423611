package group

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

var (
	idA = topicID{0xa}
	idB = topicID{0xb}
	idC = topicID{0xc}
)

// cgConfig serves topics a (4 partitions), b (2) and orders-x (3).
func cgConfig() Config {
	cfg := testConfig()
	topics := map[string]TopicInfo{
		"a":        {Name: "a", ID: idA, Partitions: 4},
		"b":        {Name: "b", ID: idB, Partitions: 2},
		"orders-x": {Name: "orders-x", ID: idC, Partitions: 3},
	}
	cfg.Topics = func() map[string]TopicInfo { return topics }
	return cfg
}

// hbReq is a v1 heartbeat; owned nil means "not sent".
func hbReq(group, member string, epoch int32, topics []string, owned parts) *kmsg.ConsumerGroupHeartbeatRequest {
	r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	r.Version = 1
	r.Group, r.MemberID, r.MemberEpoch = group, member, epoch
	r.SubscribedTopicNames = topics
	if epoch == 0 {
		r.RebalanceTimeoutMillis = 60000
		r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	}
	if owned != nil {
		r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		for _, id := range owned.topicIDs() {
			r.Topics = append(r.Topics, kmsg.ConsumerGroupHeartbeatRequestTopic{TopicID: id, Partitions: owned[id]})
		}
	}
	return r
}

func beat(t *testing.T, c *Coordinator, r *kmsg.ConsumerGroupHeartbeatRequest) ConsumerHeartbeatResult {
	t.Helper()
	res, err := c.ConsumerGroupHeartbeat(context.Background(), r)
	if err != nil {
		t.Fatalf("heartbeat %s epoch %d: %v", r.MemberID, r.MemberEpoch, err)
	}
	return res
}

func partsOf(res ConsumerHeartbeatResult) parts {
	a := parts{}
	for _, t := range res.Assignment {
		a.add(t.TopicID, t.Partitions...)
	}
	return a
}

func cgDescribe(t *testing.T, c *Coordinator, id string) ConsumerGroupDescription {
	t.Helper()
	d := c.ConsumerGroupDescribe(context.Background(), []string{id})[0]
	if d.Err != nil {
		t.Fatalf("describe %s: %v", id, d.Err)
	}
	return d
}

func TestCGAssignors(t *testing.T) {
	all := map[topicID]bool{idA: true, idB: true}
	ms := []assignMember{{id: "m1", subs: all}, {id: "m2", subs: all}, {id: "m3", subs: all}}
	topics := map[topicID]int32{idA: 4, idB: 2}
	u := assignUniform(ms, topics, nil)
	for _, m := range ms {
		if n := u[m.id].count(); n != 2 {
			t.Errorf("uniform: %s has %d partitions, want 2: %v", m.id, n, u)
		}
	}
	// Sticky: a fourth member takes partitions only from the others; the
	// rest stay where they were.
	ms4 := append(ms, assignMember{id: "m4", subs: all})
	u4 := assignUniform(ms4, topics, u)
	moved := 0
	for _, m := range ms {
		for id, ps := range u[m.id] {
			for _, p := range ps {
				if !u4[m.id].has(id, p) {
					moved++
				}
			}
		}
	}
	if c4 := u4["m4"].count(); moved != c4 || c4 != 1 {
		t.Errorf("uniform with a 4th member moved %d partitions, m4 got %d (want 1 and 1): %v", moved, c4, u4)
	}
	for _, m := range ms4 {
		if n := u4[m.id].count(); n < 1 || n > 2 {
			t.Errorf("uniform with 4 members: %s has %d", m.id, n)
		}
	}
	// Heterogeneous: m2 subscribes to b only.
	h := assignUniform([]assignMember{{id: "m1", subs: all}, {id: "m2", subs: map[topicID]bool{idB: true}}}, topics, nil)
	if h["m2"].count() != 2 || len(h["m2"][idA]) != 0 || h["m1"].count() != 4 {
		t.Errorf("uniform heterogeneous: %v", h)
	}
	r := assignRange([]assignMember{{id: "m2", subs: all}, {id: "m1", subs: all}}, map[topicID]int32{idA: 5}, nil)
	if fmt.Sprint(r["m1"][idA]) != "[0 1 2]" || fmt.Sprint(r["m2"][idA]) != "[3 4]" {
		t.Errorf("range: %v", r)
	}
	// Static members are ordered by instance id, whatever their member ids.
	r = assignRange([]assignMember{{id: "m1", order: "0b", subs: all}, {id: "m2", order: "0a", subs: all}}, map[topicID]int32{idA: 5}, nil)
	if fmt.Sprint(r["m2"][idA]) != "[0 1 2]" || fmt.Sprint(r["m1"][idA]) != "[3 4]" {
		t.Errorf("range by instance id: %v", r)
	}
}

// ownedNowhereTwice fails if a partition is in two members' assignments or
// pending revocations.
func ownedNowhereTwice(t *testing.T, c *Coordinator, group string) {
	t.Helper()
	_, g, _ := c.lookup(group)
	g.mu.Lock()
	defer g.mu.Unlock()
	seen := map[tpKey]string{}
	for id, m := range g.cons.members {
		for _, a := range []parts{m.assigned, m.revoking} {
			for tid, ps := range a {
				for _, p := range ps {
					if o, ok := seen[tpKey{tid, p}]; ok {
						t.Fatalf("partition %x/%d owned by %s and %s", tid[0], p, o, id)
					}
					seen[tpKey{tid, p}] = id
				}
			}
		}
	}
}

// TestCGIncrementalReconciliation walks Kafka's revoke-then-assign: the
// partitions B is to get are held back until A acknowledged their
// revocation.
func TestCGIncrementalReconciliation(t *testing.T) {
	c, _ := newTestCoordinator(t, cgConfig(), nil)
	a := beat(t, c, hbReq("g", "A", 0, []string{"a"}, nil))
	if a.MemberEpoch != 1 || partsOf(a).count() != 4 {
		t.Fatalf("A joined: %+v", a)
	}
	b := beat(t, c, hbReq("g", "B", 0, []string{"a"}, nil))
	if b.MemberEpoch != 2 || partsOf(b).count() != 0 {
		t.Fatalf("B joined: %+v, want epoch 2 with nothing yet (A still owns it)", b)
	}
	ownedNowhereTwice(t, c, "g")
	if st := cgDescribe(t, c, "g").State; st != "Reconciling" {
		t.Fatalf("state %s, want Reconciling", st)
	}
	a = beat(t, c, hbReq("g", "A", 1, nil, partsOf(a)))
	if a.MemberEpoch != 1 || partsOf(a).count() != 2 {
		t.Fatalf("A told to revoke: %+v, want epoch 1 keeping 2", a)
	}
	if b = beat(t, c, hbReq("g", "B", 2, nil, parts{})); partsOf(b).count() != 0 {
		t.Fatalf("B got %v before A revoked", partsOf(b))
	}
	ownedNowhereTwice(t, c, "g")
	a = beat(t, c, hbReq("g", "A", 1, nil, partsOf(a)))
	if a.MemberEpoch != 2 {
		t.Fatalf("A after revoking: %+v, want epoch 2", a)
	}
	b = beat(t, c, hbReq("g", "B", 2, nil, parts{}))
	if partsOf(b).count() != 2 || b.MemberEpoch != 2 {
		t.Fatalf("B after A revoked: %+v", b)
	}
	ownedNowhereTwice(t, c, "g")
	if d := cgDescribe(t, c, "g"); d.State != "Stable" || d.Epoch != 2 || d.AssignmentEpoch != 2 || d.Assignor != AssignorUniform {
		t.Fatalf("described %+v", d)
	}
	// A lost response: A retries at its previous epoch with a subset of
	// its partitions and is accepted; a wrong epoch is fenced.
	if _, err := c.ConsumerGroupHeartbeat(context.Background(), hbReq("g", "A", 1, nil, partsOf(a))); err != nil {
		t.Fatalf("previous epoch with owned subset: %v", err)
	}
	if _, err := c.ConsumerGroupHeartbeat(context.Background(), hbReq("g", "A", 7, nil, nil)); !errors.Is(err, ErrFencedMemberEpoch) {
		t.Fatalf("epoch 7: %v, want ErrFencedMemberEpoch", err)
	}
	// B leaves: the group epoch bumps and A gets everything back.
	if r := beat(t, c, hbReq("g", "B", -1, nil, nil)); r.MemberEpoch != -1 {
		t.Fatalf("leave: %+v", r)
	}
	a = beat(t, c, hbReq("g", "A", 2, nil, partsOf(a)))
	if a.MemberEpoch != 3 || partsOf(a).count() != 4 {
		t.Fatalf("A after B left: %+v", a)
	}
}

func TestCGStaticMembership(t *testing.T) {
	c, _ := newTestCoordinator(t, cgConfig(), nil)
	inst := "i1"
	join := func(member string) *kmsg.ConsumerGroupHeartbeatRequest {
		r := hbReq("g", member, 0, []string{"a", "b"}, nil)
		r.InstanceID = &inst
		return r
	}
	first := beat(t, c, join("S1"))
	held := partsOf(first)
	other := beat(t, c, hbReq("g", "D", 0, []string{"a", "b"}, nil))
	for i := 0; i < 2; i++ {
		first = beat(t, c, withInstance(hbReq("g", "S1", first.MemberEpoch, nil, held), inst))
		if first.HasAssignment {
			held = partsOf(first)
		}
	}
	beat(t, c, hbReq("g", "D", other.MemberEpoch, nil, parts{}))
	before := cgDescribe(t, c, "g")
	if before.State != "Stable" || held.count() != 3 {
		t.Fatalf("before the static leave: %+v, S1 holds %v", before, held)
	}
	if _, err := c.ConsumerGroupHeartbeat(context.Background(), join("S2")); !errors.Is(err, ErrUnreleasedInstanceID) {
		t.Fatalf("second instance while the first is in: %v", err)
	}
	// The leave need not repeat the instance id (franz-go sends none).
	if r := beat(t, c, hbReq("g", "S1", -2, nil, nil)); r.MemberEpoch != -2 {
		t.Fatalf("static leave: %+v", r)
	}
	back := beat(t, c, join("S2"))
	after := cgDescribe(t, c, "g")
	if !partsOf(back).equal(held) || after.Epoch != before.Epoch || back.MemberEpoch != before.Epoch {
		t.Fatalf("rejoined with %v at epoch %d, group epoch %d; had %v at %d", partsOf(back), back.MemberEpoch, after.Epoch, held, before.Epoch)
	}
	if len(after.Members) != 2 || (after.Members[0].MemberID != "S2" && after.Members[1].MemberID != "S2") {
		t.Fatalf("members %+v", after.Members)
	}
	if _, err := c.ConsumerGroupHeartbeat(context.Background(), withInstance(hbReq("g", "S1", first.MemberEpoch, nil, nil), inst)); !errors.Is(err, ErrFencedInstanceID) {
		t.Fatalf("old static member id: %v", err)
	}
}

func withInstance(r *kmsg.ConsumerGroupHeartbeatRequest, inst string) *kmsg.ConsumerGroupHeartbeatRequest {
	r.InstanceID = &inst
	return r
}

func TestCGRegexSubscription(t *testing.T) {
	c, log := newTestCoordinator(t, cgConfig(), nil)
	r := hbReq("g", "R", 0, nil, nil)
	re := "orders-.*"
	r.SubscribedTopicRegex = &re
	res := beat(t, c, r)
	if a := partsOf(res); a.count() != 3 || len(a[idC]) != 3 {
		t.Fatalf("regex assignment %v, want orders-x's 3 partitions", a)
	}
	// Replayed, the member keeps its regex: a full heartbeat changes nothing.
	c2, _ := newTestCoordinator(t, cgConfig(), log)
	full := hbReq("g", "R", res.MemberEpoch, nil, partsOf(res))
	full.SubscribedTopicRegex, full.RebalanceTimeoutMillis = &re, 60000
	if again := beat(t, c2, full); again.MemberEpoch != res.MemberEpoch || !partsOf(again).equal(partsOf(res)) {
		t.Fatalf("after replay: %+v, want %+v", again, res)
	}
	bad := "orders-("
	r2 := hbReq("g", "R2", 0, nil, nil)
	r2.SubscribedTopicRegex = &bad
	if _, err := c.ConsumerGroupHeartbeat(context.Background(), r2); !errors.Is(err, ErrInvalidRegularExpression) {
		t.Fatalf("bad regex: %v", err)
	}
}

func TestCGRequestValidation(t *testing.T) {
	c, _ := newTestCoordinator(t, cgConfig(), nil)
	unknown := "sticky"
	for name, tc := range map[string]struct {
		mutate func(*kmsg.ConsumerGroupHeartbeatRequest)
		want   error
	}{
		"empty member id v1":       {func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID = "" }, ErrInvalidRequest},
		"no rebalance timeout":     {func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.RebalanceTimeoutMillis = -1 }, ErrInvalidRequest},
		"owned partitions on join": {func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.Topics = nil }, ErrInvalidRequest},
		"no subscription":          {func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.SubscribedTopicNames = nil }, ErrInvalidRequest},
		"epoch -3":                 {func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = -3 }, ErrInvalidRequest},
		"unknown assignor":         {func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.ServerAssignor = &unknown }, ErrUnsupportedAssignor},
		"unknown member":           {func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = 3 }, ErrGroupIDNotFound},
	} {
		r := hbReq("g", "M", 0, []string{"a"}, nil)
		tc.mutate(r)
		if _, err := c.ConsumerGroupHeartbeat(context.Background(), r); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	// v0 hands out a member id.
	r := hbReq("g", "", 0, []string{"a"}, nil)
	r.Version = 0
	if res := beat(t, c, r); res.MemberID == "" || res.MemberEpoch != 1 {
		t.Fatalf("v0 join: %+v", res)
	}
}

// TestCGReplay: a second coordinator loading the log has the same group:
// epochs, members, their epochs and assignments, targets.
func TestCGReplay(t *testing.T) {
	c, log := newTestCoordinator(t, cgConfig(), nil)
	a := beat(t, c, hbReq("g", "A", 0, []string{"a", "b"}, nil))
	beat(t, c, hbReq("g", "B", 0, []string{"a"}, nil))
	beat(t, c, hbReq("g", "A", a.MemberEpoch, nil, partsOf(a)))
	beat(t, c, hbReq("gone", "X", 0, []string{"b"}, nil))
	beat(t, c, hbReq("gone", "X", -1, nil, nil))
	if res := c.DeleteGroups(context.Background(), []string{"gone"}); res[0].Err != nil {
		t.Fatalf("delete: %v", res[0].Err)
	}
	want := cgDescribe(t, c, "g")
	c2, _ := newTestCoordinator(t, cgConfig(), log)
	if got := cgDescribe(t, c2, "g"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("replayed\n%+v\nwant\n%+v", got, want)
	}
	if d := c2.ConsumerGroupDescribe(context.Background(), []string{"gone"})[0]; !errors.Is(d.Err, ErrGroupIDNotFound) {
		t.Fatalf("deleted group after replay: %+v", d)
	}
	// The members carry on with the replayed coordinator.
	if _, err := c2.ConsumerGroupHeartbeat(context.Background(), hbReq("g", "B", want.Members[1].MemberEpoch, nil, nil)); err != nil {
		t.Fatalf("heartbeat after replay: %v", err)
	}
}

// TestCGMigrationAndCommits: offline migration both ways, and commits of
// consumer-group members checked against their epoch.
func TestCGMigrationAndCommits(t *testing.T) {
	c, log := newTestCoordinator(t, cgConfig(), nil)
	stableGroup(t, c, "classic", 1, time.Minute)
	if _, err := c.ConsumerGroupHeartbeat(context.Background(), hbReq("classic", "M", 0, []string{"a"}, nil)); !errors.Is(err, ErrGroupIDNotFound) {
		t.Fatalf("join a classic group with members: %v", err)
	}
	// An empty classic group with offsets becomes a consumer group and
	// keeps them.
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(9, "mig", "", -1, map[string]map[int32]int64{"a": {0: 7}})), nil)
	m := beat(t, c, hbReq("mig", "M", 0, []string{"a"}, nil))
	if got := fetchAll(t, c, "mig"); got[tp{"a", 0}] != 7 {
		t.Fatalf("offsets after migration: %v", got)
	}
	if j := join(t, c, joinReq(5, "mig", "", time.Minute)); !errors.Is(j.Err, ErrInconsistentProtocol) {
		t.Fatalf("classic join of a consumer group with members: %+v", j)
	}
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(9, "mig", "M", m.MemberEpoch+1, map[string]map[int32]int64{"a": {0: 8}})), ErrStaleMemberEpoch)
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(9, "mig", "Z", m.MemberEpoch, map[string]map[int32]int64{"a": {0: 8}})), ErrUnknownMemberID)
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(8, "mig", "M", m.MemberEpoch, map[string]map[int32]int64{"a": {0: 8}})), ErrUnsupportedVersion)
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(9, "mig", "M", m.MemberEpoch, map[string]map[int32]int64{"a": {0: 9}})), nil)
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(9, "nosuch", "M", 3, map[string]map[int32]int64{"a": {0: 1}})), ErrGroupIDNotFound)
	id := "M"
	if err := c.CheckFetchMember("mig", &id, m.MemberEpoch+1); !errors.Is(err, ErrStaleMemberEpoch) {
		t.Fatalf("fetch at a stale epoch: %v", err)
	}
	if err := c.CheckFetchMember("mig", &id, m.MemberEpoch); err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if gs, _ := c.ListGroups(context.Background(), nil, []string{"consumer"}); len(gs) != 1 || gs[0].Group != "mig" || gs[0].GroupState != "Stable" {
		t.Fatalf("listed consumer groups %+v", gs)
	}
	for _, co := range c.Committed() {
		if co.Group == "mig" && (co.State != "Stable" || co.Members != 1) {
			t.Fatalf("metrics snapshot %+v", co)
		}
	}
	if res := c.DeleteGroups(context.Background(), []string{"mig"}); !errors.Is(res[0].Err, ErrNonEmptyGroup) {
		t.Fatalf("delete a consumer group with members: %v", res[0].Err)
	}
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "mig"
	od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "a", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
	if res, err := c.OffsetDelete(context.Background(), od); err != nil || !errors.Is(res[0].Err, ErrGroupSubscribedToTopic) {
		t.Fatalf("offset delete of a subscribed topic: %v %+v", err, res)
	}
	// Once empty, a classic member may take the group back.
	beat(t, c, hbReq("mig", "M", -1, nil, nil))
	if j := join(t, c, joinReq(5, "mig", "", time.Minute)); j.Err != nil && !errors.Is(j.Err, ErrMemberIDRequired) {
		t.Fatalf("classic join of an empty consumer group: %+v", j)
	}
	if d := c.ConsumerGroupDescribe(context.Background(), []string{"mig"})[0]; !errors.Is(d.Err, ErrGroupIDNotFound) {
		t.Fatalf("ConsumerGroupDescribe of a classic group: %+v", d)
	}
	// Replayed, it is not a consumer group any more: the conversion wrote
	// tombstones for the consumer group's records.
	c2, _ := newTestCoordinator(t, cgConfig(), log)
	if d := c2.ConsumerGroupDescribe(context.Background(), []string{"mig"})[0]; !errors.Is(d.Err, ErrGroupIDNotFound) {
		t.Fatalf("replayed after migrating back: %+v", d)
	}
}

// TestCGSessionTimeout: a member that stops heartbeating is removed, with
// tombstones for its records, and the group epoch bumps.
func TestCGSessionTimeout(t *testing.T) {
	cfg := cgConfig()
	cfg.ConsumerHeartbeatInterval = 10 * time.Millisecond
	cfg.ConsumerSessionTimeout = 100 * time.Millisecond
	c, log := newTestCoordinator(t, cfg, nil)
	beat(t, c, hbReq("g", "A", 0, []string{"a"}, nil))
	waitFor(t, "A timed out", func() bool { return cgDescribe(t, c, "g").State == "Empty" })
	if d := cgDescribe(t, c, "g"); d.Epoch != 2 || len(d.Members) != 0 {
		t.Fatalf("after timeout: %+v", d)
	}
	tombstones := 0
	for _, r := range log.records(t) {
		if r.value == nil && len(r.key) > 2 && cgKeyVersion(r.key) >= keyCGMemberMeta {
			tombstones++
		}
	}
	if tombstones != 3 {
		t.Fatalf("%d member tombstones, want 3", tombstones)
	}
}

func TestCGMaxSize(t *testing.T) {
	cfg := cgConfig()
	cfg.ConsumerMaxSize = 1
	c, _ := newTestCoordinator(t, cfg, nil)
	beat(t, c, hbReq("g", "A", 0, []string{"a"}, nil))
	if _, err := c.ConsumerGroupHeartbeat(context.Background(), hbReq("g", "B", 0, []string{"a"}, nil)); !errors.Is(err, ErrGroupMaxSizeReached) {
		t.Fatalf("second member: %v, want ErrGroupMaxSizeReached", err)
	}
	// A known member rejoining is not a new one.
	beat(t, c, hbReq("g", "A", 0, []string{"a"}, nil))
}

// TestCGRebalanceTimeout: a member that does not acknowledge a revocation
// within its rebalance timeout is removed, and its partitions go on.
func TestCGRebalanceTimeout(t *testing.T) {
	c, _ := newTestCoordinator(t, cgConfig(), nil)
	r := hbReq("g", "A", 0, []string{"a"}, nil)
	r.RebalanceTimeoutMillis = 100
	a := beat(t, c, r)
	beat(t, c, hbReq("g", "B", 0, []string{"a"}, nil))
	if a2 := beat(t, c, hbReq("g", "A", a.MemberEpoch, nil, partsOf(a))); partsOf(a2).count() != 2 {
		t.Fatalf("A told to revoke: %+v", a2)
	}
	waitFor(t, "A removed", func() bool { return len(cgDescribe(t, c, "g").Members) == 1 })
	b := beat(t, c, hbReq("g", "B", 2, nil, parts{}))
	if partsOf(b).count() != 4 {
		t.Fatalf("B after A was removed: %+v", b)
	}
}
