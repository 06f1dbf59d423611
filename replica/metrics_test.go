package replica

import (
	"encoding/binary"
	"testing"
)

// TestFollowerLagAndSegments: a follower's lag is the leader's last sent
// high watermark minus its log end, back to 0 once it has appended up to
// it; a leader reports none. Segments are counted as they roll.
func TestFollowerLagAndSegments(t *testing.T) {
	m := newManager(t, "")
	p, err := m.Open("lag", 0, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	p.BecomeFollower(2)
	if lag, ok := p.FollowerLag(); !ok || lag != 0 {
		t.Fatalf("before any fetch: lag %d ok %v, want 0 true", lag, ok)
	}
	p.updateFollowerHW(2, 5) // the leader is 5 records ahead
	if lag, _ := p.FollowerLag(); lag != 5 {
		t.Fatalf("lag %d, want 5", lag)
	}
	b := plain("a", "b", "c", "d", "e")
	binary.BigEndian.PutUint64(b[:8], 0)
	if _, err := p.appendAsFollower(2, b); err != nil {
		t.Fatal(err)
	}
	p.updateFollowerHW(2, 5)
	if lag, _ := p.FollowerLag(); lag != 0 {
		t.Fatalf("caught up: lag %d, want 0", lag)
	}
	if n := p.NumSegments(); n != 1 {
		t.Fatalf("segments %d, want 1", n)
	}
	p.BecomeLeader(3, []int32{self})
	if _, ok := p.FollowerLag(); ok {
		t.Fatal("a leader reports follower lag")
	}
	big := make([]byte, 3000)
	produce(t, p, 1, plain(string(big)))
	produce(t, p, 1, plain(string(big))) // past the 4 KiB segment size: rolls
	if n := p.NumSegments(); n < 2 {
		t.Fatalf("segments %d after rolling, want at least 2", n)
	}
}
