package replica

import (
	"slices"
	"time"
)

// Leader-side follower tracking and ISR maintenance.
//
// The leader learns everything about a follower from its fetches: the fetch
// offset is the follower's log end offset (it asks for the next offset it
// lacks). From that the leader keeps, per follower:
//
//   - its LEO (Partition.followerLEO), which feeds the high watermark: the
//     minimum LEO over the *maximal* ISR, the leader's own durable LEO
//     included. The maximal ISR is Kafka's: the committed ISR (the set
//     metadata last gave BecomeLeader) plus the followers this leader has
//     proposed adding (Partition.pendingAdd). A replica being added counts
//     from the moment the proposal is made, before the controller can make
//     it electable; a replica being removed keeps counting until metadata
//     has taken it out. Both errors are on the safe side: the high
//     watermark can lag, never run ahead of a replica that may lead.
//     A pending addition stops counting when metadata delivers it (it is
//     then simply in the ISR), when a new leadership begins, or
//     replica.lag.time.max.ms after its proposal returned without
//     metadata delivering it (rejected, or lost): the same delay after
//     which an ISR member that stopped fetching is proposed for removal.
//   - lastCaughtUp, the last time the follower was known to have everything
//     the leader had. Kafka's rule (Replica.updateFetchState), kept here:
//     a fetch at or past the leader's LEO *now* makes the follower caught up
//     as of now; a fetch at or past the leader's LEO as of the *previous*
//     fetch makes it caught up as of that previous fetch. The second half
//     matters on a busy partition, where the leader's LEO moves between any
//     two fetches and a follower that keeps up would otherwise never count
//     as caught up.
//
// A follower whose lastCaughtUp is older than replica.lag.time.max.ms is
// proposed for removal (ISRCheck); one outside the ISR that has reached the
// high watermark (and the start of the current leader epoch) and still
// fetches is proposed for addition (ExpandCandidates). Proposals go to the
// controller (ISRChanger); the partition only adopts a new ISR when the
// server calls BecomeLeader again with it.

// followerState is the leader's view of one follower, built from its fetches.
// Guarded by Partition.mu.
type followerState struct {
	lastCaughtUp       time.Time
	lastFetch          time.Time
	lastFetchLeaderLEO int64 // the leader's LEO at lastFetch
	// hwSent is the high watermark last answered to the follower (-1:
	// none in this leadership). A parked follower fetch answers as soon as
	// the high watermark passes it, as Kafka's delayed fetch does, so
	// followers' copies of it do not lag a whole long poll.
	hwSent int64
}

// leaderState is the per-leadership follower bookkeeping. Guarded by
// Partition.mu; reset whenever a new leadership (epoch) begins, because LEOs
// reported to an earlier leadership may predate a truncation.
type leaderState struct {
	followers map[int32]*followerState
	// epochStart is the log end offset when this leadership began: a
	// follower below it has not yet replicated anything of this epoch and
	// may still hold a divergent tail, so it is not an ISR candidate.
	epochStart int64
}

// resetLeaderStateLocked prepares follower tracking for BecomeLeader(epoch,
// isr). A new leadership (we were not leading, or the epoch changed) forgets
// every follower; ISR members start as caught up now, as in Kafka, so that
// they get a full lag window to fetch before being proposed for removal. An
// ISR change at the same epoch keeps what is known and only gives members
// new to the set a fresh window. Caller holds p.mu.
func (p *Partition) resetLeaderStateLocked(epoch int32, isr []int32) {
	now := time.Now()
	for _, id := range isr {
		delete(p.pendingAdd, id) // committed now
	}
	if !p.leader || p.leaderEpoch != epoch || p.lead.followers == nil {
		clear(p.followerLEO)
		clear(p.pendingAdd)
		p.lead = leaderState{
			followers:  make(map[int32]*followerState),
			epochStart: p.log.LogEndOffset(),
		}
	}
	for _, id := range isr {
		if id == p.self {
			continue
		}
		if _, ok := p.lead.followers[id]; !ok {
			p.lead.followers[id] = &followerState{lastCaughtUp: now, lastFetchLeaderLEO: -1, hwSent: -1}
		}
	}
}

// RecordFollowerFetch notes a fetch from follower id at fetchOffset (the
// follower's log end offset) and advances the high watermark, waking
// acks=all producers when it moves. The server calls it for every replica
// fetch (ReplicaID >= 0) that passed the leader-epoch check, after reading
// the records, with now = the time the fetch was handled.
//
// Calls on a replica that is not leading, and fetch offsets beyond the
// leader's log end (a follower that has yet to truncate), are ignored.
// Safe for concurrent use.
func (p *Partition) RecordFollowerFetch(id int32, fetchOffset int64, now time.Time) {
	p.mu.Lock()
	if !p.leader || p.closed || id == p.self || p.lead.followers == nil {
		p.mu.Unlock()
		return
	}
	leo := p.log.LogEndOffset()
	if fetchOffset < 0 || fetchOffset > leo {
		p.mu.Unlock()
		return
	}
	fs, ok := p.lead.followers[id]
	if !ok {
		fs = &followerState{lastFetchLeaderLEO: -1, hwSent: -1}
		p.lead.followers[id] = fs
	}
	switch {
	case fetchOffset >= leo:
		fs.lastCaughtUp = now
	case fs.lastFetchLeaderLEO >= 0 && fetchOffset >= fs.lastFetchLeaderLEO && fs.lastFetch.After(fs.lastCaughtUp):
		fs.lastCaughtUp = fs.lastFetch
	}
	fs.lastFetchLeaderLEO = leo
	fs.lastFetch = now
	p.followerLEO[id] = fetchOffset
	inISR := slices.Contains(p.isr, id)
	rejoin := !inISR && fetchOffset >= p.hw.Load() && fetchOffset >= p.lead.epochStart
	lost := inISR && fetchOffset < p.hw.Load()
	if lost {
		// An ISR member asking for records below the high watermark no
		// longer has them all: it restarted after an unclean stop and lost
		// its unflushed tail. It is not caught up; propose removing it now
		// rather than after replica.lag.time.max.ms, so it is not electable
		// while it lacks committed records. It rejoins like any follower,
		// once it has fetched up to the high watermark.
		fs.lastCaughtUp = time.Time{}
	}
	kick := p.kickISR
	p.mu.Unlock()
	p.advanceHW()
	if (rejoin || lost) && kick != nil {
		kick()
	}
}

// FollowerBehindHW reports whether follower id was last answered a high
// watermark below the current one (or none in this leadership): a parked
// fetch of its should answer, with nothing but that. False when not leading.
func (p *Partition) FollowerBehindHW(id int32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	fs := p.lead.followers[id]
	return p.leader && fs != nil && fs.hwSent < p.hw.Load()
}

// NoteHWSent records that follower id was answered high watermark hw.
func (p *Partition) NoteHWSent(id int32, hw int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if fs := p.lead.followers[id]; p.leader && fs != nil {
		fs.hwSent = hw
	}
}

// ISR returns a copy of the in-sync replica set last given to BecomeLeader
// (nil when not leading).
func (p *Partition) ISR() []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.leader {
		return nil
	}
	return slices.Clone(p.isr)
}

// ISRCheck returns the ISR members, other than the leader, whose last
// caught-up time is more than lagMax (replica.lag.time.max.ms) before now:
// the replicas to propose removing. Nil when not leading.
func (p *Partition) ISRCheck(now time.Time, lagMax time.Duration) (shrink []int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.leader || p.closed {
		return nil
	}
	for _, id := range p.isr {
		if id == p.self {
			continue
		}
		fs, ok := p.lead.followers[id]
		if !ok || now.Sub(fs.lastCaughtUp) > lagMax {
			shrink = append(shrink, id)
		}
	}
	return shrink
}

// ExpandCandidates returns, sorted, the followers outside the ISR that have
// caught up: their LEO is at least the high watermark and the start offset
// of the current leader epoch, and they fetched within lagMax of now. Only
// replicas that fetched from this leader are considered; the controller
// checks they are assigned replicas. Nil when not leading.
func (p *Partition) ExpandCandidates(now time.Time, lagMax time.Duration) []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.leader || p.closed {
		return nil
	}
	hw := p.hw.Load()
	var out []int32
	for id, fs := range p.lead.followers {
		if id == p.self || slices.Contains(p.isr, id) {
			continue
		}
		leo, ok := p.followerLEO[id]
		if !ok || leo < hw || leo < p.lead.epochStart || now.Sub(fs.lastFetch) > lagMax {
			continue
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// isrProposal combines ISRCheck and ExpandCandidates into the ISR to propose,
// with the leader epoch it was computed at; ok is false when nothing changes.
func (p *Partition) isrProposal(now time.Time, lagMax time.Duration) (newISR []int32, epoch int32, ok bool) {
	shrink := p.ISRCheck(now, lagMax)
	expand := p.ExpandCandidates(now, lagMax)
	if len(shrink) == 0 && len(expand) == 0 {
		return nil, 0, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.leader {
		return nil, 0, false
	}
	for _, id := range p.isr {
		if !slices.Contains(shrink, id) {
			newISR = append(newISR, id)
		}
	}
	newISR = append(newISR, expand...)
	return newISR, p.leaderEpoch, true
}

// beginProposal records, before newISR is proposed at epoch, the followers
// it adds as pending additions: from now on they count toward the high
// watermark (maximal ISR). It reports false, proposing nothing, when the
// replica no longer leads at epoch.
func (p *Partition) beginProposal(epoch int32, newISR []int32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.leader || p.closed || p.leaderEpoch != epoch {
		return false
	}
	for _, id := range newISR {
		if !slices.Contains(p.isr, id) {
			p.pendingAdd[id] = time.Time{} // in flight: never expires
		}
	}
	return true
}

// endProposal starts the expiry clock of the pending additions of a
// proposal that has returned (accepted or not): they count until until,
// unless metadata delivers them first.
func (p *Partition) endProposal(epoch int32, newISR []int32, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.leaderEpoch != epoch {
		return
	}
	for _, id := range newISR {
		if t, ok := p.pendingAdd[id]; ok && t.IsZero() {
			p.pendingAdd[id] = until
		}
	}
}

// expirePendingAdditions drops pending additions whose time has passed and
// recomputes the high watermark if any was dropped.
func (p *Partition) expirePendingAdditions(now time.Time) {
	p.mu.Lock()
	expired := false
	for id, until := range p.pendingAdd {
		if !until.IsZero() && now.After(until) {
			delete(p.pendingAdd, id)
			expired = true
		}
	}
	p.mu.Unlock()
	if expired {
		p.advanceHW()
	}
}

// wakeReplicaFetches wakes long-polling replica fetches after a leader
// append when there are followers (Manager.ReplicaChanged). Consumer fetches
// only care about the high watermark, which does not move on append once
// the ISR has followers, but follower fetches read to the log end and must
// see new records at once, or every acks=all produce would wait out a
// follower's whole long-poll (Kafka completes delayed replica fetches on
// append for the same reason).
func (p *Partition) wakeReplicaFetches() {
	p.mu.Lock()
	wake := p.leader && len(p.lead.followers) > 0
	p.mu.Unlock()
	if wake && p.appended != nil {
		p.appended()
	}
}
