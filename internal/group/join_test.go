package group

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestPartitionFor(t *testing.T) {
	for _, tc := range []struct {
		group string
		n     int32
		want  int32
	}{
		{"", 50, 0},
		{"a", 50, 97 % 50},
		{"hello", 50, 99162322 % 50},
		{"polygenelubricants", 50, 0},    // hashCode is Integer.MIN_VALUE; Utils.abs maps it to 0
		{"\U0001F600", 50, 1772899 % 50}, // surrogate pair 0xD83D 0xDE00
		{"hello", 1, 0},
	} {
		if got := partitionFor(tc.group, tc.n); got != tc.want {
			t.Errorf("partitionFor(%q, %d) = %d, want %d", tc.group, tc.n, got, tc.want)
		}
	}
}

func TestJoinGroupErrors(t *testing.T) {
	cfg := testConfig()
	cfg.MinSessionTimeout = time.Second
	cfg.MaxSessionTimeout = time.Minute
	c, _ := newTestCoordinator(t, cfg, nil)
	// An existing group with protocol "range" of type consumer.
	if r := join(t, c, joinReq(5, "existing", "", 10*time.Second)); r.ErrorCode != 0 {
		t.Fatalf("setup join: %d", r.ErrorCode)
	}
	other := joinReq(5, "existing", "", 10*time.Second, "roundrobin")
	badType := joinReq(5, "existing", "", 10*time.Second)
	badType.ProtocolType = "connect"
	noProtocols := joinReq(5, "fresh", "", 10*time.Second)
	noProtocols.Protocols = nil
	emptyType := joinReq(5, "fresh", "", 10*time.Second)
	emptyType.ProtocolType = ""
	for _, tc := range []struct {
		name string
		req  *kmsg.JoinGroupRequest
		want int16
	}{
		{"empty group id", joinReq(5, "", "", 10*time.Second), kerr.InvalidGroupID.Code},
		{"session too short", joinReq(5, "g", "", 500*time.Millisecond), kerr.InvalidSessionTimeout.Code},
		{"session too long", joinReq(5, "g", "", 2*time.Minute), kerr.InvalidSessionTimeout.Code},
		{"unknown member of unknown group", joinReq(5, "nope", "m-1", 10*time.Second), kerr.UnknownMemberID.Code},
		{"unknown member of known group", joinReq(5, "existing", "m-1", 10*time.Second), kerr.UnknownMemberID.Code},
		{"no common protocol", other, kerr.InconsistentGroupProtocol.Code},
		{"protocol type mismatch", badType, kerr.InconsistentGroupProtocol.Code},
		{"first member without protocols", noProtocols, kerr.InconsistentGroupProtocol.Code},
		{"first member without protocol type", emptyType, kerr.InconsistentGroupProtocol.Code},
		{"member id required v4", joinReq(4, "g2", "", 10*time.Second), kerr.MemberIDRequired.Code},
		{"unsupported version", joinReq(10, "g2", "", 10*time.Second), kerr.UnsupportedVersion.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := c.JoinGroup(context.Background(), tc.req)
			if resp.ErrorCode != tc.want {
				t.Fatalf("code %d, want %d", resp.ErrorCode, tc.want)
			}
			if resp.Version != tc.req.Version {
				t.Fatalf("response version %d, want %d", resp.Version, tc.req.Version)
			}
			if resp.Generation != -1 {
				t.Fatalf("generation %d on error, want -1", resp.Generation)
			}
			if tc.want == kerr.MemberIDRequired.Code && resp.MemberID == "" {
				t.Fatal("MEMBER_ID_REQUIRED without a member id")
			}
		})
	}
}

func TestNotCoordinatorAndLoading(t *testing.T) {
	cfg := testConfig()
	cfg.NumPartitions = 2
	c := New(cfg)
	t.Cleanup(c.Close)
	// Find a group in each partition.
	groups := map[int32]string{}
	for i := 0; len(groups) < 2; i++ {
		g := fmt.Sprintf("g%d", i)
		if _, ok := groups[c.PartitionFor(g)]; !ok {
			groups[c.PartitionFor(g)] = g
		}
	}
	if r := c.JoinGroup(context.Background(), joinReq(5, groups[0], "", time.Second)); r.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("join before load: %d, want NOT_COORDINATOR", r.ErrorCode)
	}
	log := &memLog{readHold: make(chan struct{})}
	log.next = 1 // non-empty, so the load reads (and blocks)
	loaded := make(chan error, 1)
	go func() { loaded <- c.LoadPartition(context.Background(), 0, log) }()
	waitFor(t, "loading", func() bool {
		return c.JoinGroup(context.Background(), joinReq(5, groups[0], "", time.Second)).ErrorCode == kerr.CoordinatorLoadInProgress.Code
	})
	if code := heartbeat(c, 4, groups[0], "m", 1, nil); code != 0 {
		t.Fatalf("heartbeat while loading: %d, want NONE", code)
	}
	if r := c.SyncGroup(context.Background(), syncReq(5, groups[0], "m", 1, nil)); r.ErrorCode != kerr.RebalanceInProgress.Code {
		t.Fatalf("sync while loading: %d, want REBALANCE_IN_PROGRESS", r.ErrorCode)
	}
	lg := kmsg.NewPtrListGroupsRequest()
	lg.Version = 4
	if r := c.ListGroups(context.Background(), lg); r.ErrorCode != kerr.CoordinatorLoadInProgress.Code {
		t.Fatalf("list while loading: %d", r.ErrorCode)
	}
	log.mu.Lock()
	log.next = 0
	log.mu.Unlock()
	close(log.readHold)
	if err := <-loaded; err != nil {
		t.Fatalf("load: %v", err)
	}
	if r := join(t, c, joinReq(5, groups[0], "", time.Second)); r.ErrorCode != 0 {
		t.Fatalf("join after load: %d", r.ErrorCode)
	}
	if r := join(t, c, joinReq(5, groups[1], "", time.Second)); r.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("join other partition: %d, want NOT_COORDINATOR", r.ErrorCode)
	}
	c.UnloadPartition(0)
	if r := join(t, c, joinReq(5, groups[0], "", time.Second)); r.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("join after unload: %d, want NOT_COORDINATOR", r.ErrorCode)
	}
}

// TestSingleMemberAllVersions runs join, sync, heartbeat, commit, fetch and
// leave for one member at every JoinGroup version.
func TestSingleMemberAllVersions(t *testing.T) {
	c, _ := newTestCoordinator(t, testConfig(), nil)
	for v := int16(0); v <= 9; v++ {
		group := fmt.Sprintf("single-v%d", v)
		req := joinReq(v, group, "", 10*time.Second)
		resp := c.JoinGroup(context.Background(), req)
		if v >= 4 {
			if resp.ErrorCode != kerr.MemberIDRequired.Code {
				t.Fatalf("v%d: first join code %d, want MEMBER_ID_REQUIRED", v, resp.ErrorCode)
			}
			req.MemberID = resp.MemberID
			resp = c.JoinGroup(context.Background(), req)
		}
		if resp.ErrorCode != 0 || resp.Generation != 1 || resp.LeaderID != resp.MemberID || len(resp.Members) != 1 {
			t.Fatalf("v%d: join %+v", v, resp)
		}
		if resp.Version != v || resp.Protocol == nil || *resp.Protocol != "range" {
			t.Fatalf("v%d: version %d protocol %v", v, resp.Version, resp.Protocol)
		}
		sv := min(v, 5)
		sr := c.SyncGroup(context.Background(), syncReq(sv, group, resp.MemberID, 1, map[string]string{resp.MemberID: "mine"}))
		if sr.ErrorCode != 0 || string(sr.MemberAssignment) != "mine" || sr.Version != sv {
			t.Fatalf("v%d: sync %+v", v, sr)
		}
		if code := heartbeat(c, min(v, 4), group, resp.MemberID, 1, nil); code != 0 {
			t.Fatalf("v%d: heartbeat %d", v, code)
		}
		cv := min(v, 9)
		cr := c.OffsetCommit(context.Background(), commitReq(cv, group, resp.MemberID, 1, map[string]map[int32]int64{"t1": {0: 10 + int64(v)}}))
		if cv == 0 {
			// v0 is a standalone commit: the group has members.
			allCodes(t, cr, kerr.UnknownMemberID.Code)
		} else {
			allCodes(t, cr, 0)
			if got := fetchAll(t, c, group); got[tp{"t1", 0}] != 10+int64(v) {
				t.Fatalf("v%d: fetched %v", v, got)
			}
		}
		lr := kmsg.NewPtrLeaveGroupRequest()
		lr.Version = min(v, 5)
		lr.Group = group
		if lr.Version >= 3 {
			m := kmsg.NewLeaveGroupRequestMember()
			m.MemberID = resp.MemberID
			lr.Members = append(lr.Members, m)
		} else {
			lr.MemberID = resp.MemberID
		}
		if l := c.LeaveGroup(context.Background(), lr); l.ErrorCode != 0 || (lr.Version >= 3 && (len(l.Members) != 1 || l.Members[0].ErrorCode != 0)) {
			t.Fatalf("v%d: leave %+v", v, l)
		}
		waitFor(t, "group empty", func() bool { return describe(t, c, group).State == "Empty" })
	}
}

// runMember is a minimal client: join, sync, heartbeat until told to rejoin,
// reporting each successfully synced generation, until ctx is done.
type memberReport struct {
	id      string
	gen     int32
	leader  bool
	members int
}

func runMember(ctx context.Context, c *Coordinator, group string, reports chan<- memberReport, meta []byte) {
	id := ""
	for ctx.Err() == nil {
		req := joinReq(5, group, id, 10*time.Second)
		req.Protocols[0].Metadata = meta
		resp := c.JoinGroup(ctx, req)
		switch resp.ErrorCode {
		case 0:
		case kerr.MemberIDRequired.Code:
			id = resp.MemberID
			continue
		case kerr.UnknownMemberID.Code:
			id = ""
			continue
		default:
			continue
		}
		id = resp.MemberID
		assign := map[string]string{}
		for _, m := range resp.Members {
			assign[m.MemberID] = "a-" + m.MemberID
		}
		sr := c.SyncGroup(ctx, syncReq(5, group, id, resp.Generation, assign))
		if sr.ErrorCode != 0 {
			continue
		}
		select {
		case reports <- memberReport{id: id, gen: resp.Generation, leader: resp.LeaderID == id, members: len(resp.Members)}:
		case <-ctx.Done():
			return
		}
		for ctx.Err() == nil {
			if heartbeat(c, 4, group, id, resp.Generation, nil) != 0 {
				break
			}
			select {
			case <-time.After(5 * time.Millisecond):
			case <-ctx.Done():
			}
		}
	}
}

func TestThreeConcurrentMembers(t *testing.T) {
	c, _ := newTestCoordinator(t, testConfig(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	reports := make(chan memberReport, 64)
	metas := map[string]bool{}
	for i := 0; i < 3; i++ {
		meta := consumerMeta(fmt.Sprintf("topic-%d", i))
		metas[string(meta)] = true
		wg.Add(1)
		go func() { defer wg.Done(); runMember(ctx, c, "three", reports, meta) }()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })

	// Until one generation has three synced members whose leader saw all
	// three members' metadata.
	latest := map[string]memberReport{}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case r := <-reports:
			latest[r.id] = r
		case <-deadline:
			t.Fatalf("no stable generation with three members: %+v", latest)
		}
		byGen := map[int32][]memberReport{}
		for _, r := range latest {
			byGen[r.gen] = append(byGen[r.gen], r)
		}
		done := false
		for gen, rs := range byGen {
			if len(rs) != 3 {
				continue
			}
			leaders := 0
			for _, r := range rs {
				if r.leader {
					leaders++
					if r.members != 3 {
						t.Fatalf("gen %d leader saw %d members", gen, r.members)
					}
				} else if r.members != 0 {
					t.Fatalf("gen %d follower got %d members", gen, r.members)
				}
			}
			if leaders != 1 {
				t.Fatalf("gen %d has %d leaders", gen, leaders)
			}
			done = true
		}
		if done {
			break
		}
	}
	d := describe(t, c, "three")
	if d.State != "Stable" || len(d.Members) != 3 {
		t.Fatalf("describe: state %s, %d members", d.State, len(d.Members))
	}
	for _, m := range d.Members {
		if !metas[string(m.ProtocolMetadata)] || string(m.MemberAssignment) != "a-"+m.MemberID {
			t.Fatalf("member %s: metadata %q assignment %q", m.MemberID, m.ProtocolMetadata, m.MemberAssignment)
		}
	}
}

func TestLeaveTriggersRebalance(t *testing.T) {
	c, _ := newTestCoordinator(t, testConfig(), nil)
	ids, gen := stableGroup(t, c, "leave", 2, 10*time.Second)
	lr := kmsg.NewPtrLeaveGroupRequest()
	lr.Version = 0
	lr.Group, lr.MemberID = "leave", ids[1]
	if r := c.LeaveGroup(context.Background(), lr); r.ErrorCode != 0 {
		t.Fatalf("leave: %d", r.ErrorCode)
	}
	if code := heartbeat(c, 4, "leave", ids[0], gen, nil); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat after leave: %d, want REBALANCE_IN_PROGRESS", code)
	}
	if code := heartbeat(c, 4, "leave", ids[1], gen, nil); code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat of the leaver: %d, want UNKNOWN_MEMBER_ID", code)
	}
	r := join(t, c, joinReq(5, "leave", ids[0], 10*time.Second))
	if r.ErrorCode != 0 || r.Generation != gen+1 || len(r.Members) != 1 || r.LeaderID != ids[0] {
		t.Fatalf("rejoin: %+v", r)
	}
	// Leaving again: unknown member, v3 batch with per-member errors.
	lr = kmsg.NewPtrLeaveGroupRequest()
	lr.Version = 3
	lr.Group = "leave"
	for _, id := range []string{ids[1], "nobody"} {
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID = id
		lr.Members = append(lr.Members, m)
	}
	resp := c.LeaveGroup(context.Background(), lr)
	if resp.ErrorCode != 0 || len(resp.Members) != 2 || resp.Members[0].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("batch leave: %+v", resp)
	}
	lr.Group = "no-such-group"
	if resp := c.LeaveGroup(context.Background(), lr); resp.Members[0].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("leave unknown group: %+v", resp)
	}
	lr.Group = ""
	if resp := c.LeaveGroup(context.Background(), lr); resp.ErrorCode != kerr.InvalidGroupID.Code {
		t.Fatalf("leave empty group id: %+v", resp)
	}
}

func TestSessionTimeoutTriggersRebalance(t *testing.T) {
	c, _ := newTestCoordinator(t, testConfig(), nil)
	// A long-lived member and a member with a short session that never
	// heartbeats.
	long := join(t, c, joinReq(5, "timeout", "", time.Hour))
	syncAll(t, c, "timeout", []string{long.MemberID}, long.Generation)
	shortCh := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { shortCh <- join(t, c, joinReq(5, "timeout", "", 200*time.Millisecond)) }()
	waitFor(t, "rebalance", func() bool { return describe(t, c, "timeout").State == "PreparingRebalance" })
	r := c.JoinGroup(context.Background(), joinReq(5, "timeout", long.MemberID, time.Hour))
	short := <-shortCh
	if r.ErrorCode != 0 || short.ErrorCode != 0 || r.Generation != short.Generation {
		t.Fatalf("joins: %+v %+v", r, short)
	}
	syncAll(t, c, "timeout", []string{r.MemberID, short.MemberID}, r.Generation)
	gen := r.Generation
	// The short member stops; the long one sees the rebalance via heartbeat.
	waitFor(t, "rebalance after session timeout", func() bool {
		code := heartbeat(c, 4, "timeout", r.MemberID, gen, nil)
		if code != 0 && code != kerr.RebalanceInProgress.Code {
			t.Fatalf("heartbeat: %d", code)
		}
		return code == kerr.RebalanceInProgress.Code
	})
	if code := heartbeat(c, 4, "timeout", short.MemberID, gen, nil); code != kerr.UnknownMemberID.Code {
		t.Fatalf("expired member heartbeat: %d", code)
	}
	again := c.JoinGroup(context.Background(), joinReq(5, "timeout", r.MemberID, time.Hour))
	if again.ErrorCode != 0 || again.Generation != gen+1 || len(again.Members) != 1 {
		t.Fatalf("rejoin: %+v", again)
	}
}

func TestRebalanceTimeoutRemovesLaggards(t *testing.T) {
	c, _ := newTestCoordinator(t, testConfig(), nil)
	mk := func(id string) *kmsg.JoinGroupRequest {
		r := joinReq(5, "laggard", id, time.Hour)
		r.RebalanceTimeoutMillis = 100
		return r
	}
	a := join(t, c, mk(""))
	bCh := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { bCh <- join(t, c, mk("")) }()
	waitFor(t, "rebalance", func() bool { return describe(t, c, "laggard").State == "PreparingRebalance" })
	a2 := c.JoinGroup(context.Background(), mk(a.MemberID))
	b := <-bCh
	syncAll(t, c, "laggard", []string{a2.MemberID, b.MemberID}, a2.Generation)
	// The leader rejoins (forcing a rebalance); b never does.
	a3 := c.JoinGroup(context.Background(), mk(a.MemberID))
	if a3.ErrorCode != 0 || a3.Generation != a2.Generation+1 || len(a3.Members) != 1 {
		t.Fatalf("join after rebalance timeout: %+v", a3)
	}
	if code := heartbeat(c, 4, "laggard", b.MemberID, a2.Generation, nil); code != kerr.UnknownMemberID.Code {
		t.Fatalf("laggard heartbeat: %d", code)
	}
}

func TestPendingSyncTimeout(t *testing.T) {
	c, _ := newTestCoordinator(t, testConfig(), nil)
	mk := func(id string) *kmsg.JoinGroupRequest {
		r := joinReq(5, "nosync", id, time.Hour)
		r.RebalanceTimeoutMillis = 100
		return r
	}
	a := join(t, c, mk(""))
	// The leader never syncs: it is removed and the group empties.
	waitFor(t, "leader removed", func() bool { return describe(t, c, "nosync").State == "Empty" })
	if code := heartbeat(c, 4, "nosync", a.MemberID, a.Generation, nil); code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat: %d", code)
	}
}

func TestInitialRebalanceDelay(t *testing.T) {
	// A delay far longer than the test: the join phase of a new group must
	// wait for it even though every member has joined. The test then fires
	// the delay timer itself, so nothing depends on scheduling speed.
	cfg := testConfig()
	cfg.InitialRebalanceDelay = time.Hour
	c, _ := newTestCoordinator(t, cfg, nil)
	chs := make(chan *kmsg.JoinGroupResponse, 2)
	go func() { chs <- join(t, c, joinReq(5, "delayed", "", time.Minute)) }()
	go func() { chs <- join(t, c, joinReq(5, "delayed", "", time.Minute)) }()
	waitFor(t, "both members waiting in the delay", func() bool {
		d := describe(t, c, "delayed")
		return d.State == "PreparingRebalance" && len(d.Members) == 2
	})
	_, g, _ := c.lookup("delayed")
	g.mu.Lock()
	epoch, remain := g.epoch, g.initialRemain
	g.mu.Unlock()
	if remain != 0 {
		t.Fatalf("initial delay remainder %v, want 0 (rebalance timeout < delay)", remain)
	}
	g.onJoinTimer(epoch)
	a, b := <-chs, <-chs
	if a.ErrorCode != 0 || b.ErrorCode != 0 || a.Generation != 1 || b.Generation != 1 {
		t.Fatalf("joins: %+v %+v", a, b)
	}
	if len(a.Members)+len(b.Members) != 2 {
		t.Fatalf("leader saw %d members", len(a.Members)+len(b.Members))
	}
}

func TestInitialRebalanceDelayExtends(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelay = time.Hour
	c, _ := newTestCoordinator(t, cfg, nil)
	mk := func() *kmsg.JoinGroupRequest {
		r := joinReq(5, "extend", "", time.Minute)
		r.RebalanceTimeoutMillis = int32((3 * time.Hour) / time.Millisecond)
		return r
	}
	chs := make(chan *kmsg.JoinGroupResponse, 2)
	go func() { chs <- join(t, c, mk()) }()
	waitFor(t, "first member waiting", func() bool { return len(describe(t, c, "extend").Members) == 1 })
	_, g, _ := c.lookup("extend")
	g.mu.Lock()
	epoch := g.epoch
	g.mu.Unlock()
	go func() { chs <- join(t, c, mk()) }()
	waitFor(t, "second member waiting", func() bool { return len(describe(t, c, "extend").Members) == 2 })
	// A member arrived during the delay: the first expiry extends it.
	g.onJoinTimer(epoch)
	g.mu.Lock()
	state, remain := g.state, g.initialRemain
	g.mu.Unlock()
	if state != statePreparingRebalance || remain != time.Hour {
		t.Fatalf("after first delay: state %v remain %v, want PreparingRebalance and 1h left", state, remain)
	}
	g.onJoinTimer(epoch) // no new member since: complete
	a, b := <-chs, <-chs
	if a.Generation != 1 || b.Generation != 1 {
		t.Fatalf("joins: %+v %+v", a, b)
	}
}

func TestStaticMemberRejoin(t *testing.T) {
	c, log := newTestCoordinator(t, testConfig(), nil)
	inst := func(s string) *string { return &s }
	mk := func(id, instance string, topics ...string) *kmsg.JoinGroupRequest {
		r := joinReq(9, "static", id, time.Hour)
		r.InstanceID = inst(instance)
		r.Protocols[0].Metadata = consumerMeta(topics...)
		return r
	}
	// Static members need no MEMBER_ID_REQUIRED round.
	a := c.JoinGroup(context.Background(), mk("", "a", "t1"))
	if a.ErrorCode != 0 || a.Generation != 1 {
		t.Fatalf("static join a: %+v", a)
	}
	syncAll(t, c, "static", []string{a.MemberID}, 1)
	bCh := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { bCh <- c.JoinGroup(context.Background(), mk("", "b", "t1")) }()
	waitFor(t, "rebalance", func() bool { return describe(t, c, "static").State == "PreparingRebalance" })
	a2 := c.JoinGroup(context.Background(), mk(a.MemberID, "a", "t1"))
	b := <-bCh
	if a2.ErrorCode != 0 || b.ErrorCode != 0 || a2.Generation != 2 {
		t.Fatalf("joins: %+v %+v", a2, b)
	}
	syncAll(t, c, "static", []string{a.MemberID, b.MemberID}, 2)
	batchesBefore := len(log.records(t))

	// b restarts: same instance id, no member id, same metadata.
	b2 := c.JoinGroup(context.Background(), mk("", "b", "t1"))
	if b2.ErrorCode != 0 || b2.Generation != 2 || b2.MemberID == b.MemberID || b2.LeaderID != a.MemberID {
		t.Fatalf("static rejoin: %+v", b2)
	}
	if len(log.records(t)) != batchesBefore+1 {
		t.Fatal("static replacement was not persisted")
	}
	if code := heartbeat(c, 4, "static", a.MemberID, 2, inst("a")); code != 0 {
		t.Fatalf("a heartbeat after b's restart: %d (a rebalance happened)", code)
	}
	if code := heartbeat(c, 4, "static", b.MemberID, 2, inst("b")); code != kerr.FencedInstanceID.Code {
		t.Fatalf("old b heartbeat: %d, want FENCED_INSTANCE_ID", code)
	}
	sr := c.SyncGroup(context.Background(), syncReq(5, "static", b2.MemberID, 2, nil))
	if sr.ErrorCode != 0 || string(sr.MemberAssignment) != "a-"+b.MemberID {
		t.Fatalf("new b sync keeps the assignment: %+v", sr)
	}

	// The leader restarting is told to skip the assignment (v9).
	a3 := c.JoinGroup(context.Background(), mk("", "a", "t1"))
	if a3.ErrorCode != 0 || !a3.SkipAssignment || a3.LeaderID != a3.MemberID || len(a3.Members) != 2 {
		t.Fatalf("static leader rejoin: %+v", a3)
	}
	if d := describe(t, c, "static"); d.State != "Stable" {
		t.Fatalf("state %s after static leader rejoin", d.State)
	}

	// b restarting with a new subscription forces a rebalance.
	b3Ch := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { b3Ch <- c.JoinGroup(context.Background(), mk("", "b", "t1", "t2")) }()
	waitFor(t, "rebalance on changed metadata", func() bool {
		return heartbeat(c, 4, "static", a3.MemberID, 2, inst("a")) == kerr.RebalanceInProgress.Code
	})
	a4 := c.JoinGroup(context.Background(), mk(a3.MemberID, "a", "t1"))
	b3 := <-b3Ch
	if a4.ErrorCode != 0 || b3.ErrorCode != 0 || a4.Generation != 3 || b3.Generation != 3 {
		t.Fatalf("rebalance joins: %+v %+v", a4, b3)
	}
	// A stale member id with a known instance id is fenced on join.
	if r := c.JoinGroup(context.Background(), mk(b2.MemberID, "b", "t1")); r.ErrorCode != kerr.FencedInstanceID.Code {
		t.Fatalf("stale static join: %d", r.ErrorCode)
	}
	// Leave by instance id only.
	lr := kmsg.NewPtrLeaveGroupRequest()
	lr.Version = 4
	lr.Group = "static"
	m := kmsg.NewLeaveGroupRequestMember()
	m.InstanceID = inst("b")
	lr.Members = append(lr.Members, m)
	if r := c.LeaveGroup(context.Background(), lr); r.Members[0].ErrorCode != 0 {
		t.Fatalf("leave by instance id: %+v", r)
	}
	m.MemberID, m.InstanceID = "wrong-id", inst("a")
	lr.Members[0] = m
	if r := c.LeaveGroup(context.Background(), lr); r.Members[0].ErrorCode != kerr.FencedInstanceID.Code {
		t.Fatalf("leave with wrong member id: %+v", r)
	}
}

func TestSyncGroupErrors(t *testing.T) {
	c, _ := newTestCoordinator(t, testConfig(), nil)
	ids, gen := stableGroup(t, c, "sg", 1, time.Minute)
	wrongType := syncReq(5, "sg", ids[0], gen, nil)
	ct := "connect"
	wrongType.ProtocolType = &ct
	for _, tc := range []struct {
		name string
		req  *kmsg.SyncGroupRequest
		want int16
	}{
		{"empty group", syncReq(5, "", ids[0], gen, nil), kerr.InvalidGroupID.Code},
		{"unknown group", syncReq(5, "nope", ids[0], gen, nil), kerr.UnknownMemberID.Code},
		{"unknown member", syncReq(5, "sg", "who", gen, nil), kerr.UnknownMemberID.Code},
		{"old generation", syncReq(5, "sg", ids[0], gen-1, nil), kerr.IllegalGeneration.Code},
		{"protocol type mismatch", wrongType, kerr.InconsistentGroupProtocol.Code},
		{"stable resend", syncReq(3, "sg", ids[0], gen, nil), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := c.SyncGroup(context.Background(), tc.req); r.ErrorCode != tc.want {
				t.Fatalf("code %d, want %d", r.ErrorCode, tc.want)
			}
		})
	}
}

func TestHeartbeatErrors(t *testing.T) {
	c, _ := newTestCoordinator(t, testConfig(), nil)
	ids, gen := stableGroup(t, c, "hb", 1, time.Minute)
	for _, tc := range []struct {
		name          string
		group, member string
		gen           int32
		want          int16
	}{
		{"ok", "hb", ids[0], gen, 0},
		{"empty group", "", ids[0], gen, kerr.InvalidGroupID.Code},
		{"unknown group", "nope", ids[0], gen, kerr.UnknownMemberID.Code},
		{"unknown member", "hb", "who", gen, kerr.UnknownMemberID.Code},
		{"illegal generation", "hb", ids[0], gen + 1, kerr.IllegalGeneration.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code := heartbeat(c, 4, tc.group, tc.member, tc.gen, nil); code != tc.want {
				t.Fatalf("code %d, want %d", code, tc.want)
			}
		})
	}
}

func TestCancelledJoinStillCounts(t *testing.T) {
	c, _ := newTestCoordinator(t, testConfig(), nil)
	ids, _ := stableGroup(t, c, "wake", 1, time.Minute)
	// A second member's join blocks until the first rejoins.
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan int16, 1)
	go func() {
		req := joinReq(3, "wake", "", time.Minute)
		got <- c.JoinGroup(ctx, req).ErrorCode
	}()
	waitFor(t, "rebalance", func() bool { return describe(t, c, "wake").State == "PreparingRebalance" })
	cancel()
	if code := <-got; code != kerr.RebalanceInProgress.Code {
		t.Fatalf("cancelled join: %d", code)
	}
	// The cancelled member still counts as joined (as in Kafka), so the
	// leader's rejoin completes the phase with both members.
	lj := c.JoinGroup(context.Background(), joinReq(5, "wake", ids[0], time.Minute))
	if lj.ErrorCode != 0 || len(lj.Members) != 2 {
		t.Fatalf("rejoin: %+v", lj)
	}
	d := describe(t, c, "wake")
	if d.State != "CompletingRebalance" {
		t.Fatalf("state %s", d.State)
	}
	var gen int32 = 2
	if code := c.SyncGroup(context.Background(), syncReq(5, "wake", ids[0], gen, nil)).ErrorCode; code != 0 {
		t.Fatalf("leader sync: %d", code)
	}
	c.UnloadPartition(0)
	if code := heartbeat(c, 4, "wake", ids[0], gen, nil); code != kerr.NotCoordinator.Code {
		t.Fatalf("heartbeat after unload: %d", code)
	}
}

func TestUnloadWakesBlockedJoin(t *testing.T) {
	c, _ := newTestCoordinator(t, testConfig(), nil)
	ids, _ := stableGroup(t, c, "wake2", 1, time.Minute)
	got := make(chan int16, 1)
	go func() { got <- join(t, c, joinReq(5, "wake2", "", time.Minute)).ErrorCode }()
	waitFor(t, "rebalance", func() bool { return describe(t, c, "wake2").State == "PreparingRebalance" })
	if code := heartbeat(c, 4, "wake2", ids[0], 1, nil); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat during rebalance: %d", code)
	}
	c.UnloadPartition(0)
	if code := <-got; code != kerr.NotCoordinator.Code {
		t.Fatalf("blocked join after unload: %d", code)
	}
}

func TestCloseWakesBlockedJoin(t *testing.T) {
	c := New(testConfig())
	if err := c.LoadPartition(context.Background(), 0, &memLog{}); err != nil {
		t.Fatal(err)
	}
	stableGroup(t, c, "wake3", 1, time.Minute)
	got := make(chan int16, 1)
	go func() { got <- join(t, c, joinReq(5, "wake3", "", time.Minute)).ErrorCode }()
	waitFor(t, "rebalance", func() bool { return describe(t, c, "wake3").State == "PreparingRebalance" })
	c.Close()
	if code := <-got; code != kerr.NotCoordinator.Code {
		t.Fatalf("blocked join after close: %d", code)
	}
	if r := c.JoinGroup(context.Background(), joinReq(5, "wake3", "", time.Minute)); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("join after close: %d", r.ErrorCode)
	}
	if err := c.LoadPartition(context.Background(), 0, &memLog{}); err == nil {
		t.Fatal("load after close succeeded")
	}
}
