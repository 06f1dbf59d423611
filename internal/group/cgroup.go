package group

// Consumer-protocol groups (KIP-848): the coordinator owns the assignment.
// A group is either classic (group.cons == nil) or consumer (cons != nil);
// both keep their committed offsets in group.offsets. An empty group of one
// kind becomes the other when a member of the other protocol arrives
// (offline migration, as Kafka allows); a non-empty one refuses it.

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"time"
)

// topicID is a topic's UUID; KIP-848 assignments name topics by id.
type topicID = [16]byte

// TopicInfo is what the consumer-group coordinator needs of a topic.
type TopicInfo struct {
	Name       string
	ID         [16]byte
	Partitions int32
}

// parts is a set of partitions by topic id: sorted, duplicate-free, no
// empty entries.
type parts map[topicID][]int32

func (a parts) add(id topicID, ps ...int32) {
	if len(ps) == 0 {
		return
	}
	cur := append(slices.Clone(a[id]), ps...)
	slices.Sort(cur)
	a[id] = slices.Compact(cur)
}

func (a parts) has(id topicID, p int32) bool {
	_, ok := slices.BinarySearch(a[id], p)
	return ok
}

func (a parts) count() int {
	n := 0
	for _, ps := range a {
		n += len(ps)
	}
	return n
}

func (a parts) topicIDs() []topicID {
	ids := make([]topicID, 0, len(a))
	for id := range a {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	return ids
}

func (a parts) clone() parts {
	out := make(parts, len(a))
	for id, ps := range a {
		out[id] = slices.Clone(ps)
	}
	return out
}

func (a parts) equal(b parts) bool {
	if len(a) != len(b) {
		return false
	}
	for id, ps := range a {
		if !slices.Equal(ps, b[id]) {
			return false
		}
	}
	return true
}

// memberState is Kafka's MemberState (persisted as an int8).
type memberState int8

// Kafka's MemberState values.
const (
	memberStable               memberState = 0
	memberUnrevokedPartitions  memberState = 1
	memberUnreleasedPartitions memberState = 2
	memberUnknown              memberState = 127
)

// Special member epochs of ConsumerGroupHeartbeat.
const (
	leaveEpoch       = -1 // the member leaves
	staticLeaveEpoch = -2 // a static member leaves for now, keeping its assignment
)

// cmember is one consumer-protocol member. Values are replaced, never
// mutated, once in cgroup.members (copy on write: heartbeats compute a new
// member, append its records, then install it).
type cmember struct {
	id                 string
	instanceID         *string
	rackID             *string
	clientID           string
	clientHost         string
	topics             []string // subscribed topic names, sorted
	regex              *string
	re                 *regexp.Regexp // regex compiled (whole-name match); not persisted
	rebalanceTimeoutMs int32
	assignor           *string

	epoch, prevEpoch int32
	state            memberState
	assigned         parts // owned (or being given) partitions
	revoking         parts // still owned, to be revoked
}

// setRegex sets the subscription regex and its compiled form (nil if it
// does not compile: only validated regexes reach here, or replayed ones).
func (m *cmember) setRegex(s *string) {
	m.regex, m.re = s, nil
	if s != nil {
		m.re, _ = compileTopicRegex(*s)
	}
}

func (m *cmember) clone() *cmember {
	c := *m
	c.topics = slices.Clone(m.topics)
	c.assigned = m.assigned.clone()
	c.revoking = m.revoking.clone()
	return &c
}

// sameMetadata reports whether the persisted member metadata is unchanged.
func (m *cmember) sameMetadata(o *cmember) bool {
	return eqStrPtr(m.instanceID, o.instanceID) && eqStrPtr(m.rackID, o.rackID) &&
		m.clientID == o.clientID && m.clientHost == o.clientHost &&
		slices.Equal(m.topics, o.topics) && eqStrPtr(m.regex, o.regex) &&
		m.rebalanceTimeoutMs == o.rebalanceTimeoutMs && eqStrPtr(m.assignor, o.assignor)
}

func (m *cmember) sameAssignment(o *cmember) bool {
	return m.epoch == o.epoch && m.prevEpoch == o.prevEpoch && m.state == o.state &&
		m.assigned.equal(o.assigned) && m.revoking.equal(o.revoking)
}

func eqStrPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// cgroup is the consumer-protocol state of a group. Guarded by group.mu;
// changed only by a writer holding group.appendMu.
type cgroup struct {
	epoch       int32 // group epoch
	assignEpoch int32 // target assignment epoch
	members     map[string]*cmember
	target      map[string]parts     // target assignment by member id
	subMeta     map[string]TopicInfo // subscribed topics at the last epoch bump
	topicsSeen  map[string]TopicInfo // the Config.Topics view subMeta was last checked against

	// timers by member id: the session timeout, and the rebalance timeout
	// of a member that must revoke partitions. seq invalidates stale ones.
	session map[string]cgTimer
	revoke  map[string]cgTimer
	seq     uint64
}

// cgTimer is a member timer; seq tells a stale callback from the current.
type cgTimer struct {
	t   *time.Timer
	seq uint64
}

func newCGroup() *cgroup {
	return &cgroup{
		members: make(map[string]*cmember),
		target:  make(map[string]parts),
		subMeta: make(map[string]TopicInfo),
		session: make(map[string]cgTimer),
		revoke:  make(map[string]cgTimer),
	}
}

func (cg *cgroup) staticMember(instanceID string) *cmember {
	for _, m := range cg.members {
		if m.instanceID != nil && *m.instanceID == instanceID {
			return m
		}
	}
	return nil
}

// stateString is the group state as Kafka names it: Empty, Assigning
// (the target assignment lags the group epoch), Reconciling (some member
// has not reached the target), Stable.
func (cg *cgroup) stateString() string {
	switch {
	case len(cg.members) == 0:
		return "Empty"
	case cg.epoch > cg.assignEpoch:
		return "Assigning"
	}
	for _, m := range cg.members {
		if m.epoch != cg.assignEpoch || m.state != memberStable {
			return "Reconciling"
		}
	}
	return "Stable"
}

// owners maps every partition owned by a member (assigned or pending
// revocation) to that member's id: Kafka's partition epochs.
func (cg *cgroup) owners() map[topicID]map[int32]string {
	own := make(map[topicID]map[int32]string)
	mark := func(a parts, id string) {
		for t, ps := range a {
			if own[t] == nil {
				own[t] = make(map[int32]string)
			}
			for _, p := range ps {
				own[t][p] = id
			}
		}
	}
	for id, m := range cg.members {
		mark(m.assigned, id)
		mark(m.revoking, id)
	}
	return own
}

// stopTimers stops every member timer (unload, close, deletion).
func (cg *cgroup) stopTimers() {
	for _, t := range cg.session {
		t.t.Stop()
	}
	for _, t := range cg.revoke {
		t.t.Stop()
	}
	cg.session = make(map[string]cgTimer)
	cg.revoke = make(map[string]cgTimer)
}

// groupTombstones deletes a group's metadata records of either kind: the
// classic GroupMetadata and, for a consumer group, its group-level records
// (its members have none left: only empty groups are deleted). Caller holds mu.
func (g *group) groupTombstones() []kv {
	recs := []kv{{key: groupKey(g.id)}}
	if g.cons != nil {
		for id := range g.cons.members {
			recs = append(recs, g.cgMemberTombstones(id)...)
		}
		recs = append(recs,
			kv{key: cgKey(keyCGTargetMeta, g.id, nil)},
			kv{key: cgKey(keyCGPartitionMeta, g.id, nil)},
			kv{key: cgKey(keyCGMetadata, g.id, nil)})
	}
	return recs
}

// cgCommitCheck is Kafka's ConsumerGroup.validateOffsetCommit: without a
// member epoch only an empty group takes commits; a member must commit at
// its current epoch (STALE_MEMBER_EPOCH; ILLEGAL_GENERATION for
// TxnOffsetCommit, version -1) with OffsetCommit v9+. Caller holds mu.
func (g *group) cgCommitCheck(epoch int32, memberID string, version int16) error {
	cg := g.cons
	if epoch < 0 && len(cg.members) == 0 {
		return nil
	}
	m := cg.members[memberID]
	switch {
	case m == nil:
		return fmt.Errorf("%w: %q in consumer group %q", ErrUnknownMemberID, memberID, g.id)
	case version >= 0 && version < 9:
		return fmt.Errorf("%w: OffsetCommit version 9 or above must be used by members using the consumer group protocol", ErrUnsupportedVersion)
	case epoch != m.epoch && version < 0:
		return fmt.Errorf("%w: member epoch %d, the coordinator has %d", ErrIllegalGeneration, epoch, m.epoch)
	case epoch != m.epoch:
		return fmt.Errorf("%w: member epoch %d, the coordinator has %d", ErrStaleMemberEpoch, epoch, m.epoch)
	}
	return nil
}

// CheckFetchMember is Kafka's ConsumerGroup.validateOffsetFetch for
// OffsetFetch v9+: a consumer-group member (memberID non-nil) must fetch at
// its current epoch. Groups of the classic protocol and unknown groups pass.
func (c *Coordinator) CheckFetchMember(groupID string, memberID *string, epoch int32) error {
	_, g, err := c.lookup(groupID)
	if err != nil || g == nil || (memberID == nil && epoch < 0) {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cons == nil {
		return nil
	}
	id := ""
	if memberID != nil {
		id = *memberID
	}
	m := g.cons.members[id]
	switch {
	case m == nil:
		return fmt.Errorf("%w: %q in consumer group %q", ErrUnknownMemberID, id, groupID)
	case m.epoch != epoch:
		return fmt.Errorf("%w: member epoch %d, the coordinator has %d", ErrStaleMemberEpoch, epoch, m.epoch)
	}
	return nil
}

// cgToClassic turns an empty consumer group into a classic one for a
// JoinGroup (offline migration), writing tombstones for the consumer
// group's records first (as Kafka does) so that a replay does not bring it
// back; a consumer group with members answers ErrInconsistentProtocol, as
// Kafka does without online migration.
func (g *group) cgToClassic(ctx context.Context) error {
	g.mu.Lock()
	cons := g.cons
	g.mu.Unlock()
	if cons == nil {
		return nil
	}
	g.appendMu.Lock()
	defer g.appendMu.Unlock()
	g.mu.Lock()
	switch {
	case g.cons == nil:
		g.mu.Unlock()
		return nil
	case len(g.cons.members) > 0:
		g.mu.Unlock()
		return fmt.Errorf("%w: group %q is a consumer-protocol group with %d members", ErrInconsistentProtocol, g.id, len(g.cons.members))
	}
	recs := []kv{
		{key: cgKey(keyCGTargetMeta, g.id, nil)},
		{key: cgKey(keyCGPartitionMeta, g.id, nil)},
		{key: cgKey(keyCGMetadata, g.id, nil)},
	}
	g.mu.Unlock()
	// appendMu keeps every heartbeat out until the conversion is done.
	if err := g.append(ctx, recs); err != nil {
		return fmt.Errorf("convert consumer group to classic: %w", err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.closedErr(); err != nil {
		return err
	}
	g.cons.stopTimers()
	g.cons = nil
	return nil
}
