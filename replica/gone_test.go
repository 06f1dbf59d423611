package replica

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
)

// A follower's fetcher finds its leader gone when the leader's connections
// are closed and its port refuses (a killed broker), keeps the time it first
// did across further refusals, and stops calling it gone when a dial merely
// times out (a cut-off or paused leader).
func TestReplicationLeaderGone(t *testing.T) {
	leader := newReplNode(t, 1, replOptions{})
	leader.lead(t, 1, 1, 2)
	addr, stop := startLeaderServer(t, leader.m)
	var timeouts atomic.Bool
	follower := newReplNode(t, 2, replOptions{dialHook: func(string) error {
		if timeouts.Load() {
			return fmt.Errorf("dial: %w", os.ErrDeadlineExceeded)
		}
		return nil
	}})
	if err := follower.m.BecomeFollower(replTopic, 0, leader.id, addr, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the follower connected", func() bool { return follower.dials.Load() > 0 })
	if _, gone := follower.m.LeaderGoneSince(1); gone {
		t.Fatal("leader gone while it serves")
	}

	stop()
	waitFor(t, "the leader found gone", func() bool { _, gone := follower.m.LeaderGoneSince(1); return gone })
	since, _ := follower.m.LeaderGoneSince(1)
	dials := follower.dials.Load()
	waitFor(t, "two more refused dials", func() bool { return follower.dials.Load() >= dials+2 })
	if again, gone := follower.m.LeaderGoneSince(1); !gone || !again.Equal(since) {
		t.Fatalf("after more refusals: gone %v since %v, want since %v", gone, again, since)
	}
	if _, gone := follower.m.LeaderGoneSince(3); gone {
		t.Fatal("a broker nothing here follows is gone")
	}

	timeouts.Store(true)
	waitFor(t, "a timed-out dial clearing gone", func() bool { _, gone := follower.m.LeaderGoneSince(1); return !gone })
}
