package replica

import "slices"

// KeepFollowers forgets every follower of a leading replica that is not in
// replicas: a partition reassignment removed it. Without this the leader
// would keep a removed broker that had caught up as an ISR candidate (and
// count it as a pending ISR addition in the high watermark, stalling acks=all
// produces) until replica.lag.time.max.ms passed. The reconciler calls it
// whenever it applies leadership. Safe for concurrent use; a no-op on a
// follower.
func (p *Partition) KeepFollowers(replicas []int32) {
	p.mu.Lock()
	changed := false
	if p.leader && p.lead.followers != nil {
		for id := range p.lead.followers {
			if !slices.Contains(replicas, id) {
				delete(p.lead.followers, id)
				delete(p.followerLEO, id)
				delete(p.pendingAdd, id)
				changed = true
			}
		}
	}
	p.mu.Unlock()
	if changed {
		p.advanceHW()
		p.wakeAcksWaiters()
	}
}
