package group

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

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
	if r := join(t, c, joinReq(5, "existing", "", 10*time.Second)); r.Err != nil {
		t.Fatalf("setup join: %v", r.Err)
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
		want error
	}{
		{"empty group id", joinReq(5, "", "", 10*time.Second), ErrInvalidGroupID},
		{"session too short", joinReq(5, "g", "", 500*time.Millisecond), ErrInvalidSessionTimeout},
		{"session too long", joinReq(5, "g", "", 2*time.Minute), ErrInvalidSessionTimeout},
		{"unknown member of unknown group", joinReq(5, "nope", "m-1", 10*time.Second), ErrUnknownMemberID},
		{"unknown member of known group", joinReq(5, "existing", "m-1", 10*time.Second), ErrUnknownMemberID},
		{"no common protocol", other, ErrInconsistentProtocol},
		{"protocol type mismatch", badType, ErrInconsistentProtocol},
		{"first member without protocols", noProtocols, ErrInconsistentProtocol},
		{"first member without protocol type", emptyType, ErrInconsistentProtocol},
		{"member id required v4", joinReq(4, "g2", "", 10*time.Second), ErrMemberIDRequired},
		{"unsupported version", joinReq(10, "g2", "", 10*time.Second), ErrUnsupportedVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := doJoin(c, context.Background(), tc.req)
			if !errors.Is(resp.Err, tc.want) {
				t.Fatalf("error %v, want %v", resp.Err, tc.want)
			}
			if resp.Generation != -1 {
				t.Fatalf("generation %d on error, want -1", resp.Generation)
			}
			if errors.Is(tc.want, ErrMemberIDRequired) && resp.MemberID == "" {
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
	if r := doJoin(c, context.Background(), joinReq(5, groups[0], "", time.Second)); !errors.Is(r.Err, ErrNotCoordinator) {
		t.Fatalf("join before load: %v, want NOT_COORDINATOR", r.Err)
	}
	log := &memLog{readHold: make(chan struct{})}
	log.next = 1 // non-empty, so the load reads (and blocks)
	loaded := make(chan error, 1)
	go func() { loaded <- c.LoadPartition(context.Background(), 0, log) }()
	waitFor(t, "loading", func() bool {
		return errors.Is(doJoin(c, context.Background(), joinReq(5, groups[0], "", time.Second)).Err, ErrLoadInProgress)
	})
	if code := heartbeat(c, 4, groups[0], "m", 1, nil); code != nil {
		t.Fatalf("heartbeat while loading: %v, want NONE", code)
	}
	if r := doSync(c, context.Background(), syncReq(5, groups[0], "m", 1, nil)); !errors.Is(r.Err, ErrRebalanceInProgress) {
		t.Fatalf("sync while loading: %v, want REBALANCE_IN_PROGRESS", r.Err)
	}
	if _, err := c.ListGroups(context.Background(), nil, nil); !errors.Is(err, ErrLoadInProgress) {
		t.Fatalf("list while loading: %v", err)
	}
	log.mu.Lock()
	log.next = 0
	log.mu.Unlock()
	close(log.readHold)
	if err := <-loaded; err != nil {
		t.Fatalf("load: %v", err)
	}
	if r := join(t, c, joinReq(5, groups[0], "", time.Second)); r.Err != nil {
		t.Fatalf("join after load: %v", r.Err)
	}
	if r := join(t, c, joinReq(5, groups[1], "", time.Second)); !errors.Is(r.Err, ErrNotCoordinator) {
		t.Fatalf("join other partition: %v, want NOT_COORDINATOR", r.Err)
	}
	c.UnloadPartition(0)
	if r := join(t, c, joinReq(5, groups[0], "", time.Second)); !errors.Is(r.Err, ErrNotCoordinator) {
		t.Fatalf("join after unload: %v, want NOT_COORDINATOR", r.Err)
	}
}

// TestSingleMemberAllVersions runs join, sync, heartbeat, commit, fetch and
// leave for one member at every JoinGroup version.
func TestSingleMemberAllVersions(t *testing.T) {
	c, _ := newTestCoordinator(t, testConfig(), nil)
	for v := int16(0); v <= 9; v++ {
		group := fmt.Sprintf("single-v%d", v)
		req := joinReq(v, group, "", 10*time.Second)
		resp := doJoin(c, context.Background(), req)
		if v >= 4 {
			if !errors.Is(resp.Err, ErrMemberIDRequired) {
				t.Fatalf("v%d: first join code %v, want MEMBER_ID_REQUIRED", v, resp.Err)
			}
			req.MemberID = resp.MemberID
			resp = doJoin(c, context.Background(), req)
		}
		if resp.Err != nil || resp.Generation != 1 || resp.LeaderID != resp.MemberID || len(resp.Members) != 1 {
			t.Fatalf("v%d: join %+v", v, resp)
		}
		if resp.Protocol == nil || *resp.Protocol != "range" {
			t.Fatalf("v%d: protocol %v", v, resp.Protocol)
		}
		sv := min(v, 5)
		sr := doSync(c, context.Background(), syncReq(sv, group, resp.MemberID, 1, map[string]string{resp.MemberID: "mine"}))
		if sr.Err != nil || string(sr.MemberAssignment) != "mine" {
			t.Fatalf("v%d: sync %+v", v, sr)
		}
		if code := heartbeat(c, min(v, 4), group, resp.MemberID, 1, nil); code != nil {
			t.Fatalf("v%d: heartbeat %v", v, code)
		}
		cv := min(v, 9)
		cr := c.OffsetCommit(context.Background(), commitReq(cv, group, resp.MemberID, 1, map[string]map[int32]int64{"t1": {0: 10 + int64(v)}}))
		if cv == 0 {
			// v0 is a standalone commit: the group has members.
			allCodes(t, cr, ErrUnknownMemberID)
		} else {
			allCodes(t, cr, nil)
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
		if l := doLeave(c, context.Background(), lr); l.Err != nil || (lr.Version >= 3 && (len(l.Members) != 1 || l.Members[0].Err != nil)) {
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
		resp := doJoin(c, ctx, req)
		switch {
		case resp.Err == nil:
		case errors.Is(resp.Err, ErrMemberIDRequired):
			id = resp.MemberID
			continue
		case errors.Is(resp.Err, ErrUnknownMemberID):
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
		sr := doSync(c, ctx, syncReq(5, group, id, resp.Generation, assign))
		if sr.Err != nil {
			continue
		}
		select {
		case reports <- memberReport{id: id, gen: resp.Generation, leader: resp.LeaderID == id, members: len(resp.Members)}:
		case <-ctx.Done():
			return
		}
		for ctx.Err() == nil {
			if heartbeat(c, 4, group, id, resp.Generation, nil) != nil {
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
	if r := doLeave(c, context.Background(), lr); r.Err != nil || len(r.Members) != 1 || r.Members[0].Err != nil {
		t.Fatalf("leave: %+v", r)
	}
	if code := heartbeat(c, 4, "leave", ids[0], gen, nil); !errors.Is(code, ErrRebalanceInProgress) {
		t.Fatalf("heartbeat after leave: %v, want REBALANCE_IN_PROGRESS", code)
	}
	if code := heartbeat(c, 4, "leave", ids[1], gen, nil); !errors.Is(code, ErrUnknownMemberID) {
		t.Fatalf("heartbeat of the leaver: %v, want UNKNOWN_MEMBER_ID", code)
	}
	r := join(t, c, joinReq(5, "leave", ids[0], 10*time.Second))
	if r.Err != nil || r.Generation != gen+1 || len(r.Members) != 1 || r.LeaderID != ids[0] {
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
	resp := doLeave(c, context.Background(), lr)
	if resp.Err != nil || len(resp.Members) != 2 || !errors.Is(resp.Members[0].Err, ErrUnknownMemberID) {
		t.Fatalf("batch leave: %+v", resp)
	}
	lr.Group = "no-such-group"
	if resp := doLeave(c, context.Background(), lr); !errors.Is(resp.Members[0].Err, ErrUnknownMemberID) {
		t.Fatalf("leave unknown group: %+v", resp)
	}
	lr.Group = ""
	if resp := doLeave(c, context.Background(), lr); !errors.Is(resp.Err, ErrInvalidGroupID) {
		t.Fatalf("leave empty group id: %+v", resp)
	}
}

func TestSessionTimeoutTriggersRebalance(t *testing.T) {
	c, _ := newTestCoordinator(t, testConfig(), nil)
	// A long-lived member and a member with a short session that never
	// heartbeats.
	long := join(t, c, joinReq(5, "timeout", "", time.Hour))
	syncAll(t, c, "timeout", []string{long.MemberID}, long.Generation)
	shortCh := make(chan joinResp, 1)
	go func() { shortCh <- join(t, c, joinReq(5, "timeout", "", 200*time.Millisecond)) }()
	waitFor(t, "rebalance", func() bool { return describe(t, c, "timeout").State == "PreparingRebalance" })
	r := doJoin(c, context.Background(), joinReq(5, "timeout", long.MemberID, time.Hour))
	short := <-shortCh
	if r.Err != nil || short.Err != nil || r.Generation != short.Generation {
		t.Fatalf("joins: %+v %+v", r, short)
	}
	syncAll(t, c, "timeout", []string{r.MemberID, short.MemberID}, r.Generation)
	gen := r.Generation
	// The short member stops; the long one sees the rebalance via heartbeat.
	waitFor(t, "rebalance after session timeout", func() bool {
		code := heartbeat(c, 4, "timeout", r.MemberID, gen, nil)
		if code != nil && !errors.Is(code, ErrRebalanceInProgress) {
			t.Fatalf("heartbeat: %v", code)
		}
		return errors.Is(code, ErrRebalanceInProgress)
	})
	if code := heartbeat(c, 4, "timeout", short.MemberID, gen, nil); !errors.Is(code, ErrUnknownMemberID) {
		t.Fatalf("expired member heartbeat: %v", code)
	}
	again := doJoin(c, context.Background(), joinReq(5, "timeout", r.MemberID, time.Hour))
	if again.Err != nil || again.Generation != gen+1 || len(again.Members) != 1 {
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
	bCh := make(chan joinResp, 1)
	go func() { bCh <- join(t, c, mk("")) }()
	waitFor(t, "rebalance", func() bool { return describe(t, c, "laggard").State == "PreparingRebalance" })
	a2 := doJoin(c, context.Background(), mk(a.MemberID))
	b := <-bCh
	syncAll(t, c, "laggard", []string{a2.MemberID, b.MemberID}, a2.Generation)
	// The leader rejoins (forcing a rebalance); b never does.
	a3 := doJoin(c, context.Background(), mk(a.MemberID))
	if a3.Err != nil || a3.Generation != a2.Generation+1 || len(a3.Members) != 1 {
		t.Fatalf("join after rebalance timeout: %+v", a3)
	}
	if code := heartbeat(c, 4, "laggard", b.MemberID, a2.Generation, nil); !errors.Is(code, ErrUnknownMemberID) {
		t.Fatalf("laggard heartbeat: %v", code)
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
	if code := heartbeat(c, 4, "nosync", a.MemberID, a.Generation, nil); !errors.Is(code, ErrUnknownMemberID) {
		t.Fatalf("heartbeat: %v", code)
	}
}

func TestInitialRebalanceDelay(t *testing.T) {
	// A delay far longer than the test: the join phase of a new group must
	// wait for it even though every member has joined. The test then fires
	// the delay timer itself, so nothing depends on scheduling speed.
	cfg := testConfig()
	cfg.InitialRebalanceDelay = time.Hour
	c, _ := newTestCoordinator(t, cfg, nil)
	chs := make(chan joinResp, 2)
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
	if a.Err != nil || b.Err != nil || a.Generation != 1 || b.Generation != 1 {
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
	chs := make(chan joinResp, 2)
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
	a := doJoin(c, context.Background(), mk("", "a", "t1"))
	if a.Err != nil || a.Generation != 1 {
		t.Fatalf("static join a: %+v", a)
	}
	syncAll(t, c, "static", []string{a.MemberID}, 1)
	bCh := make(chan joinResp, 1)
	go func() { bCh <- doJoin(c, context.Background(), mk("", "b", "t1")) }()
	waitFor(t, "rebalance", func() bool { return describe(t, c, "static").State == "PreparingRebalance" })
	a2 := doJoin(c, context.Background(), mk(a.MemberID, "a", "t1"))
	b := <-bCh
	if a2.Err != nil || b.Err != nil || a2.Generation != 2 {
		t.Fatalf("joins: %+v %+v", a2, b)
	}
	syncAll(t, c, "static", []string{a.MemberID, b.MemberID}, 2)
	batchesBefore := len(log.records(t))

	// b restarts: same instance id, no member id, same metadata.
	b2 := doJoin(c, context.Background(), mk("", "b", "t1"))
	if b2.Err != nil || b2.Generation != 2 || b2.MemberID == b.MemberID || b2.LeaderID != a.MemberID {
		t.Fatalf("static rejoin: %+v", b2)
	}
	if len(log.records(t)) != batchesBefore+1 {
		t.Fatal("static replacement was not persisted")
	}
	if code := heartbeat(c, 4, "static", a.MemberID, 2, inst("a")); code != nil {
		t.Fatalf("a heartbeat after b's restart: %v (a rebalance happened)", code)
	}
	if code := heartbeat(c, 4, "static", b.MemberID, 2, inst("b")); !errors.Is(code, ErrFencedInstanceID) {
		t.Fatalf("old b heartbeat: %v, want FENCED_INSTANCE_ID", code)
	}
	sr := doSync(c, context.Background(), syncReq(5, "static", b2.MemberID, 2, nil))
	if sr.Err != nil || string(sr.MemberAssignment) != "a-"+b.MemberID {
		t.Fatalf("new b sync keeps the assignment: %+v", sr)
	}

	// The leader restarting is told to skip the assignment (v9).
	a3 := doJoin(c, context.Background(), mk("", "a", "t1"))
	if a3.Err != nil || !a3.SkipAssignment || a3.LeaderID != a3.MemberID || len(a3.Members) != 2 {
		t.Fatalf("static leader rejoin: %+v", a3)
	}
	if d := describe(t, c, "static"); d.State != "Stable" {
		t.Fatalf("state %s after static leader rejoin", d.State)
	}

	// b restarting with a new subscription forces a rebalance.
	b3Ch := make(chan joinResp, 1)
	go func() { b3Ch <- doJoin(c, context.Background(), mk("", "b", "t1", "t2")) }()
	waitFor(t, "rebalance on changed metadata", func() bool {
		return errors.Is(heartbeat(c, 4, "static", a3.MemberID, 2, inst("a")), ErrRebalanceInProgress)
	})
	a4 := doJoin(c, context.Background(), mk(a3.MemberID, "a", "t1"))
	b3 := <-b3Ch
	if a4.Err != nil || b3.Err != nil || a4.Generation != 3 || b3.Generation != 3 {
		t.Fatalf("rebalance joins: %+v %+v", a4, b3)
	}
	// A stale member id with a known instance id is fenced on join.
	if r := doJoin(c, context.Background(), mk(b2.MemberID, "b", "t1")); !errors.Is(r.Err, ErrFencedInstanceID) {
		t.Fatalf("stale static join: %v", r.Err)
	}
	// Leave by instance id only.
	lr := kmsg.NewPtrLeaveGroupRequest()
	lr.Version = 4
	lr.Group = "static"
	m := kmsg.NewLeaveGroupRequestMember()
	m.InstanceID = inst("b")
	lr.Members = append(lr.Members, m)
	if r := doLeave(c, context.Background(), lr); r.Members[0].Err != nil {
		t.Fatalf("leave by instance id: %+v", r)
	}
	m.MemberID, m.InstanceID = "wrong-id", inst("a")
	lr.Members[0] = m
	if r := doLeave(c, context.Background(), lr); !errors.Is(r.Members[0].Err, ErrFencedInstanceID) {
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
		want error
	}{
		{"empty group", syncReq(5, "", ids[0], gen, nil), ErrInvalidGroupID},
		{"unknown group", syncReq(5, "nope", ids[0], gen, nil), ErrUnknownMemberID},
		{"unknown member", syncReq(5, "sg", "who", gen, nil), ErrUnknownMemberID},
		{"old generation", syncReq(5, "sg", ids[0], gen-1, nil), ErrIllegalGeneration},
		{"protocol type mismatch", wrongType, ErrInconsistentProtocol},
		{"stable resend", syncReq(3, "sg", ids[0], gen, nil), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := doSync(c, context.Background(), tc.req); !errors.Is(r.Err, tc.want) {
				t.Fatalf("code %v, want %v", r.Err, tc.want)
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
		want          error
	}{
		{"ok", "hb", ids[0], gen, nil},
		{"empty group", "", ids[0], gen, ErrInvalidGroupID},
		{"unknown group", "nope", ids[0], gen, ErrUnknownMemberID},
		{"unknown member", "hb", "who", gen, ErrUnknownMemberID},
		{"illegal generation", "hb", ids[0], gen + 1, ErrIllegalGeneration},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code := heartbeat(c, 4, tc.group, tc.member, tc.gen, nil); !errors.Is(code, tc.want) {
				t.Fatalf("code %v, want %v", code, tc.want)
			}
		})
	}
}

func TestCancelledJoinStillCounts(t *testing.T) {
	c, _ := newTestCoordinator(t, testConfig(), nil)
	ids, _ := stableGroup(t, c, "wake", 1, time.Minute)
	// A second member's join blocks until the first rejoins.
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		req := joinReq(3, "wake", "", time.Minute)
		got <- doJoin(c, ctx, req).Err
	}()
	waitFor(t, "rebalance", func() bool { return describe(t, c, "wake").State == "PreparingRebalance" })
	cancel()
	if code := <-got; !errors.Is(code, ErrRebalanceInProgress) {
		t.Fatalf("cancelled join: %v", code)
	}
	// The cancelled member still counts as joined (as in Kafka), so the
	// leader's rejoin completes the phase with both members.
	lj := doJoin(c, context.Background(), joinReq(5, "wake", ids[0], time.Minute))
	if lj.Err != nil || len(lj.Members) != 2 {
		t.Fatalf("rejoin: %+v", lj)
	}
	d := describe(t, c, "wake")
	if d.State != "CompletingRebalance" {
		t.Fatalf("state %s", d.State)
	}
	var gen int32 = 2
	if code := doSync(c, context.Background(), syncReq(5, "wake", ids[0], gen, nil)).Err; code != nil {
		t.Fatalf("leader sync: %v", code)
	}
	c.UnloadPartition(0)
	if code := heartbeat(c, 4, "wake", ids[0], gen, nil); !errors.Is(code, ErrNotCoordinator) {
		t.Fatalf("heartbeat after unload: %v", code)
	}
}

func TestUnloadWakesBlockedJoin(t *testing.T) {
	c, _ := newTestCoordinator(t, testConfig(), nil)
	ids, _ := stableGroup(t, c, "wake2", 1, time.Minute)
	got := make(chan error, 1)
	go func() { got <- join(t, c, joinReq(5, "wake2", "", time.Minute)).Err }()
	waitFor(t, "rebalance", func() bool { return describe(t, c, "wake2").State == "PreparingRebalance" })
	if code := heartbeat(c, 4, "wake2", ids[0], 1, nil); !errors.Is(code, ErrRebalanceInProgress) {
		t.Fatalf("heartbeat during rebalance: %v", code)
	}
	c.UnloadPartition(0)
	if code := <-got; !errors.Is(code, ErrNotCoordinator) {
		t.Fatalf("blocked join after unload: %v", code)
	}
}

func TestCloseWakesBlockedJoin(t *testing.T) {
	c := New(testConfig())
	if err := c.LoadPartition(context.Background(), 0, &memLog{}); err != nil {
		t.Fatal(err)
	}
	stableGroup(t, c, "wake3", 1, time.Minute)
	got := make(chan error, 1)
	go func() { got <- join(t, c, joinReq(5, "wake3", "", time.Minute)).Err }()
	waitFor(t, "rebalance", func() bool { return describe(t, c, "wake3").State == "PreparingRebalance" })
	c.Close()
	if code := <-got; !errors.Is(code, ErrNotCoordinator) {
		t.Fatalf("blocked join after close: %v", code)
	}
	if r := doJoin(c, context.Background(), joinReq(5, "wake3", "", time.Minute)); !errors.Is(r.Err, ErrCoordinatorNotAvailable) {
		t.Fatalf("join after close: %v", r.Err)
	}
	if err := c.LoadPartition(context.Background(), 0, &memLog{}); err == nil {
		t.Fatal("load after close succeeded")
	}
}
