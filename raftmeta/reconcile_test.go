package raftmeta

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

func peersOf(ids ...int32) []Peer {
	out := make([]Peer, len(ids))
	for i, id := range ids {
		out[i] = Peer{NodeID: id, RaftAddr: addrOf(id)}
	}
	return out
}

func addrOf(id int32) string { return "10.0.0." + string(rune('0'+id)) + ":9093" }

func TestPlanBootstrap(t *testing.T) {
	withState := func(ps []Peer, id int32) []Peer {
		ps = slices.Clone(ps)
		for i := range ps {
			if ps[i].NodeID == id {
				ps[i].HasState = true
			}
		}
		return ps
	}
	tests := []struct {
		name   string
		self   int32
		expect int
		peers  []Peer
		want   []int32 // voters; nil: no bootstrap
	}{
		{name: "expect 0 never bootstraps", self: 1, expect: 0, peers: peersOf(1, 2, 3)},
		{name: "too few peers", self: 1, expect: 3, peers: peersOf(1, 2)},
		{name: "lowest of three bootstraps", self: 1, expect: 3, peers: peersOf(3, 1, 2), want: []int32{1, 2, 3}},
		{name: "not the lowest", self: 2, expect: 3, peers: peersOf(3, 1, 2)},
		{name: "self missing from the list is added", self: 1, expect: 3, peers: peersOf(2, 3), want: []int32{1, 2, 3}},
		{name: "only the first N become voters", self: 2, expect: 3, peers: peersOf(5, 4, 2, 3), want: []int32{2, 3, 4}},
		{name: "second lowest of more than N waits", self: 5, expect: 3, peers: peersOf(4, 5, 6, 7)},
		{name: "a peer with state blocks", self: 1, expect: 3, peers: withState(peersOf(1, 2, 3), 3)},
		{name: "a peer with state outside the first N blocks too", self: 1, expect: 3, peers: withState(peersOf(1, 2, 3, 9), 9)},
		{name: "duplicates count once", self: 1, expect: 3, peers: append(peersOf(1, 2), peersOf(2)...)},
		{name: "expect 1: lowest bootstraps alone", self: 1, expect: 1, peers: peersOf(1, 2), want: []int32{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			voters, ok, err := planBootstrap(tt.self, addrOf(tt.self), tt.expect, tt.peers)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int32
			for _, v := range voters {
				ids = append(ids, v.NodeID)
				if v.RaftAddr != addrOf(v.NodeID) || v.HasState {
					t.Fatalf("voter %+v", v)
				}
			}
			if ok != (tt.want != nil) || !slices.Equal(ids, tt.want) {
				t.Fatalf("planBootstrap = %v, %v; want %v", ids, ok, tt.want)
			}
		})
	}

	// Exactly one of the N expected nodes bootstraps, whatever order each
	// sees the members in.
	all := peersOf(4, 2, 7, 3)
	var boots []int32
	for _, p := range all {
		order := slices.Clone(all)
		slices.Reverse(order)
		if _, ok, _ := planBootstrap(p.NodeID, p.RaftAddr, 3, order); ok {
			boots = append(boots, p.NodeID)
		}
	}
	if !slices.Equal(boots, []int32{2}) {
		t.Fatalf("bootstrappers = %v, want [2]", boots)
	}
}

func TestNormalizePeersInvalid(t *testing.T) {
	for name, peers := range map[string][]Peer{
		"negative id":       {{NodeID: -1, RaftAddr: "a:1"}},
		"empty address":     {{NodeID: 2}},
		"conflicting addrs": {{NodeID: 2, RaftAddr: "a:1"}, {NodeID: 2, RaftAddr: "b:1"}},
	} {
		if _, err := normalizePeers(1, "self:1", peers); !errors.Is(err, ErrInvalidPeer) {
			t.Errorf("%s: err = %v, want ErrInvalidPeer", name, err)
		}
	}
	// Our own entry is replaced by our own address, even if gossip is stale.
	got, err := normalizePeers(1, "self:1", []Peer{{NodeID: 2, RaftAddr: "b:1"}, {NodeID: 1, RaftAddr: "old:1"}})
	if err != nil || !reflect.DeepEqual(got, []Peer{{NodeID: 1, RaftAddr: "self:1"}, {NodeID: 2, RaftAddr: "b:1"}}) {
		t.Fatalf("normalizePeers = %+v, %v", got, err)
	}
}

func TestPlanMembership(t *testing.T) {
	now := time.Unix(1000, 0)
	long := now.Add(-time.Minute)  // missing for longer than deadAfter
	short := now.Add(-time.Second) // missing, but not long enough
	v := func(id int32) RaftServer { return RaftServer{NodeID: id, RaftAddr: addrOf(id), Voter: true} }
	nv := func(id int32) RaftServer { return RaftServer{NodeID: id, RaftAddr: addrOf(id)} }
	live := func(ids ...int32) map[int32]string {
		m := map[int32]string{}
		for _, id := range ids {
			m[id] = addrOf(id)
		}
		return m
	}
	add := func(id int32) memberAction { return memberAction{op: opAddNonvoter, id: id, addr: addrOf(id)} }
	promote := func(id int32) memberAction { return memberAction{op: opAddVoter, id: id, addr: addrOf(id)} }
	remove := func(id int32) memberAction { return memberAction{op: opRemove, id: id} }

	tests := []struct {
		name    string
		servers []RaftServer
		peers   map[int32]string
		gone    map[int32]time.Time
		target  int
		want    []memberAction
	}{
		{
			name:    "steady state: nothing",
			servers: []RaftServer{v(1), v(2), v(3), nv(4)},
			peers:   live(1, 2, 3, 4),
			target:  3,
		},
		{
			name:    "new brokers join as non-voters, ascending",
			servers: []RaftServer{v(1), v(2), v(3)},
			peers:   live(5, 1, 2, 3, 4),
			target:  3,
			want:    []memberAction{add(4), add(5)},
		},
		{
			name:    "changed address re-added with the same suffrage",
			servers: []RaftServer{v(1), {NodeID: 2, RaftAddr: "old:1", Voter: true}, {NodeID: 4, RaftAddr: "old:4"}},
			peers:   live(1, 2, 4),
			target:  2,
			want:    []memberAction{promote(2), add(4)},
		},
		{
			name:    "dead voter not yet past the timeout stays",
			servers: []RaftServer{v(1), v(2), v(3), nv(4)},
			peers:   live(1, 2, 4),
			gone:    map[int32]time.Time{3: short},
			target:  3,
		},
		{
			name:    "dead voter replaced by the lowest live non-voter",
			servers: []RaftServer{v(1), v(2), v(3), nv(5), nv(4)},
			peers:   live(1, 2, 4, 5),
			gone:    map[int32]time.Time{3: long},
			target:  3,
			want:    []memberAction{promote(4), remove(3)},
		},
		{
			name:    "dead voter kept without a replacement",
			servers: []RaftServer{v(1), v(2), v(3)},
			peers:   live(1, 2),
			gone:    map[int32]time.Time{3: long},
			target:  3,
		},
		{
			name:    "dead voter beyond the target removed without replacement",
			servers: []RaftServer{v(1), v(2), v(3), v(4)},
			peers:   live(1, 2, 3),
			gone:    map[int32]time.Time{4: long},
			target:  3,
			want:    []memberAction{remove(4)},
		},
		{
			name:    "too few voters: promote up to the target",
			servers: []RaftServer{v(1), v(2), nv(3), nv(4)},
			peers:   live(1, 2, 3, 4),
			target:  3,
			want:    []memberAction{promote(3)},
		},
		{
			name:    "newly added members are not promoted in the same run",
			servers: []RaftServer{v(1), v(2)},
			peers:   live(1, 2, 3),
			target:  3,
			want:    []memberAction{add(3)},
		},
		{
			name:    "live voters must stay a majority: two of three dead, one replacement",
			servers: []RaftServer{v(1), v(2), v(3), nv(4)},
			peers:   live(1, 4),
			gone:    map[int32]time.Time{2: long, 3: long},
			target:  3,
			// After promoting 4: voters {1,2,3,4}, live {1,4}; removing 2
			// would leave {1,3,4} with live {1,4}: still a majority.
			want: []memberAction{promote(4), remove(2)},
		},
		{
			name:    "never remove when live voters would not be a majority",
			servers: []RaftServer{v(1), v(2), v(3), v(4), v(5)},
			peers:   live(1),
			gone:    map[int32]time.Time{2: long, 3: long, 4: long, 5: long},
			target:  3,
			// 5 voters, 1 live: removing down to 3 would leave live 1 of 3
			// (removing 2 leaves 1 of 4, not a majority either).
		},
		{
			name:    "self is never dead",
			servers: []RaftServer{v(1), v(2), v(3), nv(4)},
			peers:   live(2, 3, 4), // gossip has not reported us yet
			gone:    map[int32]time.Time{1: long},
			target:  3,
		},
		{
			name:    "dead non-voter removed after the timeout, not before",
			servers: []RaftServer{v(1), nv(4), nv(5)},
			peers:   live(1),
			gone:    map[int32]time.Time{4: long, 5: short},
			target:  1,
			want:    []memberAction{remove(4)},
		},
		{
			name:    "missing without a recorded time is not dead",
			servers: []RaftServer{v(1), v(2), v(3), nv(4)},
			peers:   live(1, 2, 4),
			target:  3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planMembership(membershipInput{
				self: 1, servers: tt.servers, peers: tt.peers, goneSince: tt.gone,
				now: now, deadAfter: 30 * time.Second, target: tt.target,
			})
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("planMembership = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPlanFencing(t *testing.T) {
	s := emptyState()
	s.Brokers[1] = Broker{ID: 1}
	s.Brokers[2] = Broker{ID: 2}
	s.Brokers[3] = Broker{ID: 3, Fenced: true}
	s.Brokers[4] = Broker{ID: 4, Fenced: true}
	s.Brokers[5] = Broker{ID: 5, Fenced: true}
	// Self (1) is alive even when not listed; 2 left; 3 came back; 4 and 5 still gone.
	fence, unfence := planFencing(s, map[int32]string{3: "c:1", 9: "unregistered:1"}, 1)
	if !slices.Equal(fence, []int32{2}) || !slices.Equal(unfence, []int32{3}) {
		t.Fatalf("planFencing = fence %v unfence %v", fence, unfence)
	}
	// The controller itself is never fenced, and is unfenced if it was.
	s.Brokers[1] = Broker{ID: 1, Fenced: true}
	if fence, unfence := planFencing(s, nil, 1); !slices.Equal(fence, []int32{2}) || !slices.Equal(unfence, []int32{1}) {
		t.Fatalf("planFencing self = fence %v unfence %v", fence, unfence)
	}
}

func TestFSMSetBrokersFenced(t *testing.T) {
	f, _ := testFSM(t)
	applyLog(t, f, baseLog(t))
	s := f.current()
	next, res := applyCommand(s, s.Index+1, cmd(t, cmdSetBrokersFenced, setBrokersFencedCmd{Fence: []int32{2, 3}}))
	if res.err != nil || next == nil || !next.Brokers[2].Fenced || !next.Brokers[3].Fenced || next.Brokers[1].Fenced {
		t.Fatalf("fence: %+v %v", next, res.err)
	}
	if s.Brokers[2].Fenced {
		t.Fatal("fencing mutated the previous state")
	}
	if b := next.Brokers[1]; len(b.Listeners) != 1 {
		t.Fatalf("broker 1 lost its listeners: %+v", b)
	}
	// Placement avoids fenced brokers.
	if _, err := planTopic(next, TopicSpec{Name: "x", Partitions: 1, ReplicationFactor: 2}, randomPlacement); !errors.Is(err, ErrInvalidReplicationFactor) {
		t.Fatalf("rf 2 with one unfenced broker = %v", err)
	}
	// Already in the requested state: no new state (no publication).
	if again, res := applyCommand(next, next.Index+1, cmd(t, cmdSetBrokersFenced, setBrokersFencedCmd{Fence: []int32{2}})); res.err != nil || again != nil {
		t.Fatalf("repeat fence = %v, %v", again, res.err)
	}
	un, res := applyCommand(next, next.Index+1, cmd(t, cmdSetBrokersFenced, setBrokersFencedCmd{Unfence: []int32{3}}))
	if res.err != nil || un.Brokers[3].Fenced || !un.Brokers[2].Fenced {
		t.Fatalf("unfence: %v", res.err)
	}
	for name, c := range map[string]setBrokersFencedCmd{
		"unregistered": {Fence: []int32{42}},
		"both lists":   {Fence: []int32{2}, Unfence: []int32{2}},
	} {
		if _, res := applyCommand(s, s.Index+1, cmd(t, cmdSetBrokersFenced, c)); !errors.Is(res.err, ErrInvalidBroker) {
			t.Errorf("%s: err = %v, want ErrInvalidBroker", name, res.err)
		}
	}
	// The fenced flag survives a snapshot round trip.
	got, err := decodeSnapshot(bytes.NewReader(snapshotBytes(t, un)))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Brokers[2].Fenced || got.Brokers[3].Fenced {
		t.Fatalf("after snapshot: %+v", got.Brokers)
	}
}

func TestNotControllerError(t *testing.T) {
	cause := errors.New("leadership lost")
	var err error = &NotControllerError{ControllerID: 3, Err: cause}
	if !errors.Is(err, ErrNotController) || !errors.Is(err, cause) {
		t.Fatalf("errors.Is fails for %v", err)
	}
	var nce *NotControllerError
	if !errors.As(err, &nce) || nce.ControllerID != 3 {
		t.Fatalf("errors.As = %+v", nce)
	}
	if got := err.Error(); got != "raftmeta: not the controller (controller is node 3): leadership lost" {
		t.Fatalf("Error() = %q", got)
	}
	if got := (&NotControllerError{ControllerID: -1}).Error(); got != "raftmeta: not the controller (no controller known)" {
		t.Fatalf("Error() = %q", got)
	}
	if errors.Is(&NotControllerError{}, ErrNoController) {
		t.Fatal("NotControllerError matches ErrNoController")
	}
}
