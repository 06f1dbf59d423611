package raftmeta

import (
	"slices"
	"testing"
	"time"
)

// TestPlanMembershipSkipsDemoted: a voter demoted on request is never the
// one promoted to restore the voter count while another candidate lives;
// when it is the only candidate it stays an observer.
func TestPlanMembershipSkipsDemoted(t *testing.T) {
	v := func(id int32) RaftServer { return RaftServer{NodeID: id, RaftAddr: addrOf(id), Voter: true} }
	nv := func(id int32) RaftServer { return RaftServer{NodeID: id, RaftAddr: addrOf(id)} }
	peers := map[int32]string{1: addrOf(1), 2: addrOf(2), 3: addrOf(3)}
	in := membershipInput{self: 1, servers: []RaftServer{v(1), nv(2), nv(3)}, peers: peers, now: time.Unix(1000, 0), deadAfter: time.Second, target: 2}
	if got := planMembership(in); !slices.Equal(got, []memberAction{{op: opAddVoter, id: 2, addr: addrOf(2)}}) {
		t.Fatalf("without demotions: %v, want promote 2 (lowest id)", got)
	}
	in.demoted = map[int32]bool{2: true}
	if got := planMembership(in); !slices.Equal(got, []memberAction{{op: opAddVoter, id: 3, addr: addrOf(3)}}) {
		t.Fatalf("2 demoted: %v, want promote 3", got)
	}
	in.demoted[3] = true
	if got := planMembership(in); len(got) != 0 {
		t.Fatalf("both demoted: %v, want nothing", got)
	}
}
