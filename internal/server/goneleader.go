package server

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/raftmeta"
)

// goneLeaderWaitMax bounds, per episode, how long Metadata answers wait for
// the controller to replace a leader this broker found gone (below).
const goneLeaderWaitMax = 5 * time.Second

// goneLeaderPoll is how often a waiting Metadata answer looks again at the
// followers' view of the leader, which changes without a metadata change
// (a restarted leader reconnects).
const goneLeaderPoll = 25 * time.Millisecond

// awaitGoneLeaders holds a Metadata answer that would name, as a partition
// leader, a broker whose process this broker's follower fetchers find gone
// (its connections closed, reset or refused: replica.Manager.LeaderGoneSince)
// while the metadata still names it: a SIGKILLed leader, in the second or so
// before gossip notices, the controller fences it and then elects another (a
// fenced leader is no better: clients read it as LEADER_NOT_AVAILABLE and, at
// default settings, also wait). A client asks for metadata the moment its
// connection to the leader breaks; answered at once it is told the dead
// leader again, and a client at default settings does not ask again soon
// (franz-go's MetadataMinAge is 5s): that, not the broker's failover, was
// most of what it saw of one (tests/ TestChaosFailoverTiming: franz-go at
// default settings 5.2s median, against 1.3s for the broker). Held here, the
// first answer names the new leader.
//
// It waits until the metadata no longer names such a leader for the
// requested topics, the fetchers see the leader again, or goneLeaderWaitMax
// has passed since the leader was first found gone, so that a leader wrongly
// taken for gone (its listener closing connections it does not want) delays
// answers once, not every time. Only brokers that follow a partition of that
// leader can tell; others answer at once. Timeouts never count as gone, so a
// cut-off or paused leader changes nothing here.
func (s *Server) awaitGoneLeaders(ctx context.Context, r *kmsg.MetadataRequest) {
	for {
		changed := s.meta.Changed()
		until, ok := s.goneLeaderNamed(s.meta.State(), r)
		if !ok {
			return
		}
		wait := time.Until(until)
		if wait <= 0 {
			return
		}
		t := time.NewTimer(min(wait, goneLeaderPoll))
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		t.Stop()
	}
}

// goneLeaderNamed reports whether st names, as the leader of a partition of
// a topic r asks for, a broker found gone (fenced or not yet), and until when to wait
// for that to change (the earliest episode's end).
func (s *Server) goneLeaderNamed(st *raftmeta.State, r *kmsg.MetadataRequest) (until time.Time, ok bool) {
	gone := map[int32]time.Time{}
	for id := range st.Brokers {
		if id == s.cfg.NodeID {
			continue
		}
		if since, g := s.replicas.LeaderGoneSince(id); g {
			gone[id] = since.Add(goneLeaderWaitMax)
		}
	}
	if len(gone) == 0 {
		return time.Time{}, false
	}
	check := func(t *raftmeta.Topic) {
		if t == nil {
			return
		}
		for _, p := range t.Partitions {
			if end, g := gone[p.Leader]; g && (!ok || end.Before(until)) {
				until, ok = end, true
			}
		}
	}
	if r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0) {
		for _, t := range st.Topics {
			check(t)
		}
		return until, ok
	}
	for _, rt := range r.Topics {
		if rt.Topic != nil {
			check(st.Topics[*rt.Topic])
		} else {
			check(st.TopicsByID[rt.TopicID])
		}
	}
	return until, ok
}
