package group

// ConsumerGroupHeartbeat (KIP-848): one request both joins, heartbeats,
// reports owned partitions and leaves. Each call is Kafka's
// GroupMetadataManager.consumerGroupHeartbeat: update the member (a new
// subscription or new matching topics bump the group epoch), recompute the
// target assignment when the group epoch passed the assignment epoch, then
// move the member one step towards its target (cgreconcile.go). The records
// of the change are appended first and the change installed in memory only
// once the append succeeded, under the group's appendMu, so memory never
// runs ahead of the log.

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ConsumerHeartbeatResult is a successful ConsumerGroupHeartbeat.
type ConsumerHeartbeatResult struct {
	MemberID          string
	MemberEpoch       int32
	HeartbeatInterval time.Duration
	// HasAssignment says Assignment is sent: on a full request or when the
	// member's assignment changed. Assignment lists the member's partitions.
	HasAssignment bool
	Assignment    []AssignedTopic
}

// AssignedTopic is one topic's partitions of an assignment.
type AssignedTopic struct {
	TopicID    [16]byte
	Topic      string // empty if the topic is gone
	Partitions []int32
}

// cgChange is a computed change of a consumer group: records to append and
// the state to install after the append.
type cgChange struct {
	recs        []kv
	epoch       int32
	assignEpoch int32
	subMeta     map[string]TopicInfo // nil: unchanged
	target      map[string]parts     // nil: unchanged
	put         []*cmember
	del         []string
	session     string // member whose session timer restarts
	result      ConsumerHeartbeatResult
	convert     bool // a classic group becomes a consumer group
	replaced    bool // the member replaces a static member (old is that one)
	topicsSeen  map[string]TopicInfo
}

// ConsumerGroupHeartbeat runs one heartbeat. Errors wrap ErrInvalidRequest,
// ErrUnsupportedAssignor, ErrInvalidRegularExpression, ErrGroupIDNotFound,
// ErrUnknownMemberID, ErrFencedMemberEpoch, ErrUnreleasedInstanceID,
// ErrFencedInstanceID, ErrGroupMaxSizeReached or the coordinator errors.
func (c *Coordinator) ConsumerGroupHeartbeat(ctx context.Context, req *kmsg.ConsumerGroupHeartbeatRequest) (ConsumerHeartbeatResult, error) {
	if err := checkVersion(apiConsumerGroupHeartbeat, req.Version); err != nil {
		return ConsumerHeartbeatResult{}, err
	}
	if err := c.validateHeartbeat(req); err != nil {
		return ConsumerHeartbeatResult{}, err
	}
	var g *group
	var err error
	if req.MemberEpoch == 0 {
		g, err = c.getOrCreate(req.Group)
	} else {
		_, g, err = c.lookup(req.Group)
		if err == nil && g == nil {
			err = fmt.Errorf("%w: consumer group %q not found", ErrGroupIDNotFound, req.Group)
		}
	}
	if err != nil {
		return ConsumerHeartbeatResult{}, err
	}
	ci := clientFrom(ctx)
	return g.cgRun(ctx, func() (cgChange, error) {
		if req.MemberEpoch < 0 {
			return g.cgLeave(req)
		}
		return g.cgBeat(req, ci)
	})
}

// cgRun computes a change under the group's locks, appends its records and
// installs it. compute runs with appendMu and mu held.
func (g *group) cgRun(ctx context.Context, compute func() (cgChange, error)) (ConsumerHeartbeatResult, error) {
	g.appendMu.Lock()
	defer g.appendMu.Unlock()
	g.mu.Lock()
	if err := g.closedErr(); err != nil {
		g.mu.Unlock()
		return ConsumerHeartbeatResult{}, err
	}
	ch, err := compute()
	g.mu.Unlock()
	if err != nil {
		return ConsumerHeartbeatResult{}, err
	}
	if len(ch.recs) > 0 {
		err = g.append(ctx, ch.recs)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		g.c.log.Warn("cannot persist consumer group change", "group", g.id, "err", err)
		return ConsumerHeartbeatResult{}, fmt.Errorf("consumer group heartbeat: %w", err)
	}
	if err := g.closedErr(); err != nil {
		return ConsumerHeartbeatResult{}, err
	}
	g.cgApply(ch)
	return ch.result, nil
}

// validateHeartbeat is Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid.
func (c *Coordinator) validateHeartbeat(req *kmsg.ConsumerGroupHeartbeatRequest) error {
	bad := func(msg string) error { return fmt.Errorf("%w: %s", ErrInvalidRequest, msg) }
	switch {
	case req.Group == "":
		return bad("GroupId can't be empty.")
	case req.InstanceID != nil && *req.InstanceID == "":
		return bad("InstanceId can't be empty.")
	case req.RackID != nil && *req.RackID == "":
		return bad("RackId can't be empty.")
	case req.MemberID == "" && (req.Version >= 1 || req.MemberEpoch != 0):
		return bad("MemberId can't be empty.")
	case req.MemberEpoch < staticLeaveEpoch:
		return bad("MemberEpoch is invalid.")
	}
	if req.MemberEpoch == 0 {
		switch {
		case req.RebalanceTimeoutMillis == -1:
			return bad("RebalanceTimeoutMs must be provided in first request.")
		case req.Topics == nil || len(req.Topics) > 0:
			return bad("TopicPartitions must be empty when (re-)joining.")
		case req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil:
			return bad("SubscribedTopicNames or SubscribedTopicRegex must be set in first request.")
		}
	}
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != "" {
		if _, err := compileTopicRegex(*req.SubscribedTopicRegex); err != nil {
			return fmt.Errorf("%w: SubscribedTopicRegex %q: %v", ErrInvalidRegularExpression, *req.SubscribedTopicRegex, err)
		}
	}
	if a := req.ServerAssignor; a != nil && !slices.Contains(c.cfg.ConsumerAssignors, *a) {
		return fmt.Errorf("%w: ServerAssignor %s is not supported. Supported assignors: %v", ErrUnsupportedAssignor, *a, c.cfg.ConsumerAssignors)
	}
	return nil
}

// compileTopicRegex compiles a subscription regex to match whole topic
// names, as Kafka's RE2J Matcher.matches does.
func compileTopicRegex(s string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + s + `)$`)
}

// cgEnsure makes g a consumer group if it may be one: a classic group with
// members (or a rebalance under way) refuses, as Kafka without online
// migration does. Caller holds appendMu and mu.
func (g *group) cgEnsure(join bool, ch *cgChange) error {
	if g.cons != nil {
		return nil
	}
	if !join || len(g.members) > 0 || len(g.pending) > 0 || g.state != stateEmpty {
		return fmt.Errorf("%w: group %q is not a consumer group", ErrGroupIDNotFound, g.id)
	}
	ch.convert = true
	// The classic group's metadata goes: Kafka writes its tombstone too.
	ch.recs = append(ch.recs, kv{key: groupKey(g.id)})
	return nil
}

// cgState returns the consumer state, a fresh one while converting.
func (g *group) cgState(ch *cgChange) *cgroup {
	if g.cons == nil && ch.convert {
		return newCGroup()
	}
	return g.cons
}

// cgBeat handles a join (epoch 0) or heartbeat. Caller holds appendMu, mu.
func (g *group) cgBeat(req *kmsg.ConsumerGroupHeartbeatRequest, ci clientInfo) (cgChange, error) {
	var ch cgChange
	if err := g.cgEnsure(req.MemberEpoch == 0, &ch); err != nil {
		return ch, err
	}
	cg := g.cgState(&ch)
	ch.epoch, ch.assignEpoch = cg.epoch, cg.assignEpoch
	old, upd, err := g.cgMemberFor(cg, req, &ch)
	if err != nil {
		return ch, err
	}
	applyRequest(upd, req, ci)
	bump := old == nil || !slices.Equal(old.topics, upd.topics) || !eqStrPtr(old.regex, upd.regex)
	if old == nil || ch.replaced || !upd.sameMetadata(old) {
		ch.recs = append(ch.recs, kv{cgKey(keyCGMemberMeta, g.id, &upd.id), cgMemberValue(upd)})
	}
	members := make(map[string]*cmember, len(cg.members)+1)
	for id, m := range cg.members {
		members[id] = m
	}
	for _, id := range ch.del {
		delete(members, id)
	}
	members[upd.id] = upd
	// The subscribed topics' metadata is recomputed when a subscription
	// changed or the topics did (a new topics view), not on every beat.
	all := g.c.topicsByName()
	subMeta := cg.subMeta
	if bump || !sameView(all, cg.topicsSeen) {
		subMeta = subscriptionMeta(members, all)
	}
	ch.topicsSeen = all
	if !sameSubMeta(subMeta, cg.subMeta) {
		bump = true
		ch.subMeta = subMeta
		ch.recs = append(ch.recs, kv{cgKey(keyCGPartitionMeta, g.id, nil), cgPartitionMetaValue(subMeta)})
	}
	if bump {
		ch.epoch++
		ch.recs = append(ch.recs, kv{cgKey(keyCGMetadata, g.id, nil), cgEpochValue(ch.epoch)})
	}
	target := cg.target
	if ch.target != nil {
		target = ch.target // a static replacement moved the old member's target
	}
	if ch.epoch > cg.assignEpoch {
		target = g.cgAssign(members, subMeta, target, &ch)
	}
	rec := reconcile(upd, ch.assignEpoch, target[upd.id], lazyOwners(members), req.Topics)
	if old == nil || ch.replaced || !rec.sameAssignment(old) || ch.convert {
		ch.recs = append(ch.recs, kv{cgKey(keyCGCurrentAssign, g.id, &rec.id), cgCurrentAssignValue(rec)})
	}
	ch.put = append(ch.put, rec)
	ch.session = rec.id
	// A full request (a join, or one carrying everything after an error)
	// always gets the assignment.
	full := req.MemberEpoch == 0 || (req.RebalanceTimeoutMillis != -1 &&
		(req.SubscribedTopicNames != nil || req.SubscribedTopicRegex != nil) && req.Topics != nil)
	ch.result = ConsumerHeartbeatResult{MemberID: rec.id, MemberEpoch: rec.epoch, HeartbeatInterval: g.c.cfg.ConsumerHeartbeatInterval}
	if full || old == nil || !old.assigned.equal(rec.assigned) {
		ch.result.HasAssignment = true
		ch.result.Assignment = assignedTopics(rec.assigned, nil) // the response names topics by id only
	}
	return ch, nil
}

// applyRequest copies what the request sets onto the member.
func applyRequest(m *cmember, req *kmsg.ConsumerGroupHeartbeatRequest, ci clientInfo) {
	if req.InstanceID != nil {
		m.instanceID = req.InstanceID
	}
	if req.RackID != nil {
		m.rackID = req.RackID
	}
	if req.RebalanceTimeoutMillis != -1 {
		m.rebalanceTimeoutMs = req.RebalanceTimeoutMillis
	}
	if req.ServerAssignor != nil {
		m.assignor = req.ServerAssignor
	}
	if req.SubscribedTopicNames != nil {
		m.topics = slices.Clone(req.SubscribedTopicNames)
		slices.Sort(m.topics)
		m.topics = slices.Compact(m.topics)
	}
	if r := req.SubscribedTopicRegex; r != nil {
		if *r == "" {
			r = nil
		}
		if !eqStrPtr(r, m.regex) {
			m.setRegex(r)
		}
	}
	m.clientID, m.clientHost = ci.id, ci.host
}

// cgMemberFor finds the member a heartbeat is for (creating or replacing
// one on a join) and checks its epoch; upd is the copy to change.
func (g *group) cgMemberFor(cg *cgroup, req *kmsg.ConsumerGroupHeartbeatRequest, ch *cgChange) (old, upd *cmember, err error) {
	id := req.MemberID
	if id == "" {
		id = newUUIDString()
	}
	if req.InstanceID != nil {
		if st := cg.staticMember(*req.InstanceID); st != nil && st.id != id {
			if req.MemberEpoch != 0 {
				return nil, nil, fmt.Errorf("%w: instance %q belongs to member %s, not %s", ErrFencedInstanceID, *req.InstanceID, st.id, id)
			}
			if st.epoch != staticLeaveEpoch {
				return nil, nil, fmt.Errorf("%w: instance %q is still used by member %s", ErrUnreleasedInstanceID, *req.InstanceID, st.id)
			}
			return st, g.cgReplaceStatic(cg, st, id, ch), nil
		}
	}
	old = cg.members[id]
	switch {
	case old == nil && req.MemberEpoch != 0:
		return nil, nil, fmt.Errorf("%w: %s in consumer group %q", ErrUnknownMemberID, id, g.id)
	case old == nil:
		if max := g.c.cfg.ConsumerMaxSize; max > 0 && len(cg.members) >= max {
			return nil, nil, fmt.Errorf("%w: consumer group %q has %d members, group.consumer.max.size is %d", ErrGroupMaxSizeReached, g.id, len(cg.members), max)
		}
		return nil, &cmember{id: id, rebalanceTimeoutMs: -1, assigned: parts{}, revoking: parts{}}, nil
	case req.MemberEpoch == 0:
		// A known member rejoining owns nothing client-side: its pending
		// revocations are done; what the coordinator still counts as its
		// own it may get back at once.
		upd = old.clone()
		upd.epoch, upd.prevEpoch, upd.state, upd.revoking = 0, 0, memberStable, parts{}
		return old, upd, nil
	}
	if err := checkMemberEpoch(old, req); err != nil {
		return nil, nil, err
	}
	return old, old.clone(), nil
}

// checkMemberEpoch is Kafka's throwIfConsumerGroupMemberEpochIsInvalid: a
// member may be one epoch behind if the response that bumped it was lost
// and it owns no partition it should not.
func checkMemberEpoch(m *cmember, req *kmsg.ConsumerGroupHeartbeatRequest) error {
	e := req.MemberEpoch
	switch {
	case e > m.epoch:
		return fmt.Errorf("%w: member %s sent epoch %d, the coordinator has %d; abandon all partitions and rejoin", ErrFencedMemberEpoch, m.id, e, m.epoch)
	case e < m.epoch && (e != m.prevEpoch || req.Topics == nil || !ownedSubset(req.Topics, m.assigned)):
		return fmt.Errorf("%w: member %s sent epoch %d, the coordinator has %d; abandon all partitions and rejoin", ErrFencedMemberEpoch, m.id, e, m.epoch)
	}
	return nil
}

func ownedSubset(owned []kmsg.ConsumerGroupHeartbeatRequestTopic, a parts) bool {
	for _, t := range owned {
		for _, p := range t.Partitions {
			if !a.has(t.TopicID, p) {
				return false
			}
		}
	}
	return true
}

// cgReplaceStatic replaces a static member that left with epoch -2 by a new
// member id with its assignment (Kafka's replaceMember): the old member's
// records are tombstoned, the new one starts at epoch 0.
func (g *group) cgReplaceStatic(cg *cgroup, st *cmember, id string, ch *cgChange) *cmember {
	n := st.clone()
	n.id = id
	n.epoch, n.prevEpoch, n.state, n.revoking = 0, 0, memberStable, parts{}
	ch.recs = append(ch.recs, g.cgMemberTombstones(st.id)...)
	ch.del = append(ch.del, st.id)
	target := make(map[string]parts, len(cg.target))
	for mid, a := range cg.target {
		target[mid] = a
	}
	if a, ok := target[st.id]; ok {
		delete(target, st.id)
		target[id] = a
		ch.recs = append(ch.recs, kv{cgKey(keyCGTargetMember, g.id, &id), cgTargetMemberValue(a)})
	}
	ch.target = target
	ch.replaced = true // cgBeat writes n's metadata and assignment records
	return n
}

// cgMemberTombstones deletes a member's three records.
func (g *group) cgMemberTombstones(id string) []kv {
	return []kv{
		{key: cgKey(keyCGCurrentAssign, g.id, &id)},
		{key: cgKey(keyCGTargetMember, g.id, &id)},
		{key: cgKey(keyCGMemberMeta, g.id, &id)},
	}
}

// cgAssign recomputes the target assignment at ch.epoch, recording the
// members whose target changed.
func (g *group) cgAssign(members map[string]*cmember, subMeta map[string]TopicInfo, prev map[string]parts, ch *cgChange) map[string]parts {
	topics := make(map[topicID]int32, len(subMeta))
	for _, t := range subMeta {
		topics[t.ID] = t.Partitions
	}
	all := g.c.topicsByName()
	ams := make([]assignMember, 0, len(members))
	for id, m := range members {
		am := assignMember{id: id, subs: make(map[topicID]bool)}
		if m.instanceID != nil {
			am.order = "0" + *m.instanceID // static members first, by instance id
		} else {
			am.order = "1" + id
		}
		for name := range subscribedNames(m, all) {
			if t, ok := subMeta[name]; ok {
				am.subs[t.ID] = true
			}
		}
		ams = append(ams, am)
	}
	sort.Slice(ams, func(i, j int) bool { return ams[i].id < ams[j].id })
	target := assignors[g.c.preferredAssignor(members)](ams, topics, prev)
	for _, am := range ams {
		a := target[am.id]
		if p, ok := prev[am.id]; !ok || !p.equal(a) {
			ch.recs = append(ch.recs, kv{cgKey(keyCGTargetMember, g.id, &am.id), cgTargetMemberValue(a)})
		}
	}
	ch.recs = append(ch.recs, kv{cgKey(keyCGTargetMeta, g.id, nil), cgEpochValue(ch.epoch)})
	ch.target = target
	ch.assignEpoch = ch.epoch
	return target
}

// preferredAssignor is the assignor most members ask for (ties: the one
// listed first in group.consumer.assignors), else the first listed.
func (c *Coordinator) preferredAssignor(members map[string]*cmember) string {
	votes := make(map[string]int)
	for _, m := range members {
		if m.assignor != nil {
			votes[*m.assignor]++
		}
	}
	best := c.cfg.ConsumerAssignors[0]
	for _, a := range c.cfg.ConsumerAssignors {
		if votes[a] > votes[best] {
			best = a
		}
	}
	return best
}

// lazyOwners returns the owner (assigned or pending revocation) of a
// partition among members, "" if none; the map is built on first use, as a
// member already at its target never asks.
func lazyOwners(members map[string]*cmember) func(topicID, int32) string {
	var own map[topicID]map[int32]string
	return func(t topicID, p int32) string {
		if own == nil {
			own = (&cgroup{members: members}).owners()
		}
		return own[t][p]
	}
}

// sameView reports whether two topic maps are the same map: Config.Topics
// returns one map per metadata state.
func sameView(a, b map[string]TopicInfo) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// subscribedNames resolves a member's subscription against the topics.
func subscribedNames(m *cmember, all map[string]TopicInfo) map[string]bool {
	out := make(map[string]bool, len(m.topics))
	for _, t := range m.topics {
		out[t] = true
	}
	if m.re != nil {
		for name := range all {
			if m.re.MatchString(name) {
				out[name] = true
			}
		}
	}
	return out
}

// subscriptionMeta is the metadata of every existing topic (of all) some
// member subscribes to.
func subscriptionMeta(members map[string]*cmember, all map[string]TopicInfo) map[string]TopicInfo {
	meta := make(map[string]TopicInfo)
	for _, m := range members {
		for name := range subscribedNames(m, all) {
			if t, ok := all[name]; ok {
				meta[name] = t
			}
		}
	}
	return meta
}

func sameSubMeta(a, b map[string]TopicInfo) bool {
	if len(a) != len(b) {
		return false
	}
	for n, t := range a {
		if b[n] != t {
			return false
		}
	}
	return true
}

func (c *Coordinator) topicsByName() map[string]TopicInfo {
	if c.cfg.Topics == nil {
		return nil
	}
	return c.cfg.Topics()
}

// assignedTopics lists an assignment in topic-id order, with names from
// names (nil: none).
func assignedTopics(a parts, names map[topicID]string) []AssignedTopic {
	out := make([]AssignedTopic, 0, len(a))
	for _, id := range a.topicIDs() {
		out = append(out, AssignedTopic{TopicID: id, Topic: names[id], Partitions: slices.Clone(a[id])})
	}
	return out
}
