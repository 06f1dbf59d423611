package group

// Consumer-group members leave with epoch -1 (gone: the group epoch bumps
// and the others get its partitions at the next assignment) or, static
// members, -2 (away for now: the member keeps its assignment, nobody else
// gets its partitions, and a new member with the same instance id takes its
// place within the session timeout). A member whose session or rebalance
// timeout lapses is removed like one leaving with -1.

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// cgLeave handles epochs -1 and -2. Caller holds appendMu and mu.
func (g *group) cgLeave(req *kmsg.ConsumerGroupHeartbeatRequest) (cgChange, error) {
	var ch cgChange
	if err := g.cgEnsure(false, &ch); err != nil {
		return ch, err
	}
	cg := g.cons
	m := cg.members[req.MemberID]
	if req.InstanceID != nil {
		st := cg.staticMember(*req.InstanceID)
		switch {
		case st == nil:
			return ch, fmt.Errorf("%w: no static member with instance id %q", ErrUnknownMemberID, *req.InstanceID)
		case st.id != req.MemberID:
			return ch, fmt.Errorf("%w: instance %q belongs to member %s, not %s", ErrFencedInstanceID, *req.InstanceID, st.id, req.MemberID)
		}
		m = st
	}
	if m == nil {
		return ch, fmt.Errorf("%w: %s in consumer group %q", ErrUnknownMemberID, req.MemberID, g.id)
	}
	ch.epoch, ch.assignEpoch = cg.epoch, cg.assignEpoch
	ch.result = ConsumerHeartbeatResult{MemberID: m.id, MemberEpoch: req.MemberEpoch}
	// Epoch -2 keeps a static member's place whether or not the request
	// repeats its instance id (franz-go leaves without it); a dynamic
	// member sending -2 leaves for good, as Kafka fences it.
	if req.MemberEpoch == staticLeaveEpoch && m.instanceID != nil {
		n := m.clone()
		n.epoch, n.revoking = staticLeaveEpoch, parts{}
		ch.recs = append(ch.recs, kv{cgKey(keyCGCurrentAssign, g.id, &n.id), cgCurrentAssignValue(n)})
		ch.put = append(ch.put, n)
		ch.session = n.id // it has the session timeout to come back
		return ch, nil
	}
	g.cgRemove(cg, m.id, &ch)
	return ch, nil
}

// cgRemove removes a member into ch: tombstones, the group epoch bumped,
// its target dropped, the subscription metadata recomputed.
func (g *group) cgRemove(cg *cgroup, id string, ch *cgChange) {
	ch.recs = append(ch.recs, g.cgMemberTombstones(id)...)
	ch.del = append(ch.del, id)
	target := make(map[string]parts, len(cg.target))
	for mid, a := range cg.target {
		if mid != id {
			target[mid] = a
		}
	}
	ch.target = target
	rest := make(map[string]*cmember, len(cg.members))
	for mid, m := range cg.members {
		if mid != id {
			rest[mid] = m
		}
	}
	if meta := subscriptionMeta(rest, g.c.topicsByName()); !sameSubMeta(meta, cg.subMeta) {
		ch.subMeta = meta
		ch.recs = append(ch.recs, kv{cgKey(keyCGPartitionMeta, g.id, nil), cgPartitionMetaValue(meta)})
	}
	ch.epoch = cg.epoch + 1
	ch.recs = append(ch.recs, kv{cgKey(keyCGMetadata, g.id, nil), cgEpochValue(ch.epoch)})
}

// cgApply installs a change whose records are in the log. Caller holds mu
// (and appendMu).
func (g *group) cgApply(ch cgChange) {
	if g.cons == nil {
		if !ch.convert {
			return
		}
		g.cons = newCGroup()
		g.protocolType, g.protocol, g.generation, g.leader = "", "", 0, ""
	}
	cg := g.cons
	cg.epoch, cg.assignEpoch = ch.epoch, ch.assignEpoch
	if ch.subMeta != nil {
		cg.subMeta = ch.subMeta
	}
	if ch.topicsSeen != nil {
		cg.topicsSeen = ch.topicsSeen
	}
	if ch.target != nil {
		cg.target = ch.target
	}
	for _, id := range ch.del {
		delete(cg.members, id)
		g.cgStopTimers(id)
	}
	for _, m := range ch.put {
		old := cg.members[m.id]
		cg.members[m.id] = m
		if m.state != memberUnrevokedPartitions {
			g.cgStopRevokeTimer(m.id)
		} else if old == nil || old.state != memberUnrevokedPartitions || old.epoch != m.epoch {
			g.cgStartRevokeTimer(m)
		}
	}
	if ch.session != "" {
		g.cgStartSession(ch.session)
	}
}

func (g *group) cgStopTimers(id string) {
	g.cgStopRevokeTimer(id)
	if t, ok := g.cons.session[id]; ok {
		t.t.Stop()
		delete(g.cons.session, id)
	}
}

func (g *group) cgStopRevokeTimer(id string) {
	if t, ok := g.cons.revoke[id]; ok {
		t.t.Stop()
		delete(g.cons.revoke, id)
	}
}

// errTimerStale: a member timer fired after it was replaced or stopped.
var errTimerStale = errors.New("group: stale consumer member timer")

// cgStartSession (re)starts a member's session timer
// (group.consumer.session.timeout.ms).
func (g *group) cgStartSession(id string) {
	cg := g.cons
	if t, ok := cg.session[id]; ok {
		t.t.Stop()
	}
	cg.seq++
	seq := cg.seq
	cg.session[id] = cgTimer{seq: seq, t: g.c.afterFunc(g.c.cfg.ConsumerSessionTimeout, func() {
		g.cgExpire(id, func(cg *cgroup) bool { return cg.session[id].seq == seq })
	})}
}

// cgStartRevokeTimer gives a member its rebalance timeout to revoke
// partitions; if it is still at this epoch revoking then, it is removed.
func (g *group) cgStartRevokeTimer(m *cmember) {
	cg := g.cons
	g.cgStopRevokeTimer(m.id)
	d := time.Duration(m.rebalanceTimeoutMs) * time.Millisecond
	if d <= 0 {
		d = g.c.cfg.ConsumerSessionTimeout
	}
	id, epoch := m.id, m.epoch
	cg.seq++
	seq := cg.seq
	cg.revoke[id] = cgTimer{seq: seq, t: g.c.afterFunc(d, func() {
		g.cgExpire(id, func(cg *cgroup) bool {
			cur := cg.members[id]
			return cg.revoke[id].seq == seq && cur != nil && cur.state == memberUnrevokedPartitions && cur.epoch == epoch
		})
	})}
}

// cgExpire removes member id if its timer still applies (current says so
// under the locks), writing the removal first.
func (g *group) cgExpire(id string, current func(*cgroup) bool) {
	_, err := g.cgRun(g.c.ctx, func() (cgChange, error) {
		var ch cgChange
		cg := g.cons
		if cg == nil || cg.members[id] == nil || !current(cg) {
			return ch, errTimerStale
		}
		ch.epoch, ch.assignEpoch = cg.epoch, cg.assignEpoch
		g.c.log.Info("consumer group member timed out", "group", g.id, "member", id)
		g.cgRemove(cg, id, &ch)
		return ch, nil
	})
	if err != nil && !errors.Is(err, errTimerStale) {
		g.c.log.Warn("cannot remove timed-out consumer group member", "group", g.id, "member", id, "err", err)
	}
}

// newUUIDString is a member id as Kafka generates one for v0 clients: a
// random UUID, base64url without padding.
func newUUIDString() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
