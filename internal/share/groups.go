package share

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// GroupsConfig configures the share groups' membership.
type GroupsConfig struct {
	// HeartbeatInterval is group.share.heartbeat.interval.ms.
	HeartbeatInterval time.Duration
	// SessionTimeout is group.share.session.timeout.ms: a member silent
	// this long is removed.
	SessionTimeout time.Duration
	// MaxSize is group.share.max.size.
	MaxSize int
}

// Groups is the membership side of share groups on their group
// coordinator (the leader of the group's __consumer_offsets partition):
// members, their subscriptions and epochs, and the server-side assignment.
// Assignment is Kafka's "simple" assignor (assign): partitions spread over
// the subscribers, shared when there are more subscribers than partitions;
// a member learns a change of its assignment at its next heartbeat.
// Membership is soft state, kept in memory: after a coordinator failover
// members are unknown and rejoin with epoch 0 (kgo and Kafka's consumer do
// so on UNKNOWN_MEMBER_ID); the records' state is not affected.
//
// Concurrency: safe for concurrent use; one mutex guards all groups.
type Groups struct {
	cfg GroupsConfig
	now func() time.Time

	mu     sync.Mutex
	groups map[string]*shareGroup
}

type shareGroup struct {
	epoch   int32
	members map[string]*member
	// topics are the topics with offsets set by AlterShareGroupOffsets
	// while the group had no subscription (for DescribeShareGroupOffsets).
	topics []string
}

type member struct {
	id, clientID, host string
	rack               *string
	epoch              int32
	topics             []string
	deadline           time.Time
	assignment         []Assigned
}

// Assigned is a member's partitions of one topic.
type Assigned struct {
	TopicID    [16]byte
	Topic      string
	Partitions []int32
}

// NewGroups returns the share-group membership state.
func NewGroups(cfg GroupsConfig) *Groups {
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 5 * time.Second
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 45 * time.Second
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = 200
	}
	return &Groups{cfg: cfg, now: time.Now, groups: make(map[string]*shareGroup)}
}

// HeartbeatInterval is the interval members are told to heartbeat at.
func (g *Groups) HeartbeatInterval() time.Duration { return g.cfg.HeartbeatInterval }

// Heartbeat is one ShareGroupHeartbeat.
type Heartbeat struct {
	Group, Member  string
	Epoch          int32
	Rack           *string
	Topics         []string // nil: unchanged
	ClientID, Host string
	// ResolveTopics gives the current partitions of the named topics
	// (unknown topics left out); called under the groups' lock, it must
	// not block.
	ResolveTopics func(names []string) []Assigned
}

// HeartbeatResult answers a Heartbeat. Assignment is non-nil when the
// member must be told its (new) assignment.
type HeartbeatResult struct {
	Epoch      int32
	Assignment []Assigned
}

// Heartbeat joins (epoch 0), leaves (epoch -1) or keeps a member alive,
// and delivers its assignment when it changed.
func (g *Groups) Heartbeat(hb Heartbeat) (HeartbeatResult, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	grp := g.groups[hb.Group]
	if grp == nil {
		if hb.Epoch != 0 {
			return HeartbeatResult{}, fmt.Errorf("%w: group %q has no member %q", ErrUnknownMember, hb.Group, hb.Member)
		}
		grp = &shareGroup{members: make(map[string]*member)}
		g.groups[hb.Group] = grp
	}
	grp.expire(now)
	m := grp.members[hb.Member]
	switch {
	case hb.Epoch == -1:
		if m == nil {
			return HeartbeatResult{}, fmt.Errorf("%w: %q", ErrUnknownMember, hb.Member)
		}
		delete(grp.members, hb.Member)
		grp.epoch++
		return HeartbeatResult{Epoch: -1}, nil
	case hb.Epoch == 0:
		if len(hb.Topics) == 0 {
			return HeartbeatResult{}, fmt.Errorf("%w: a joining member subscribes to no topic", ErrInvalidRequest)
		}
		if m == nil && len(grp.members) >= g.cfg.MaxSize {
			return HeartbeatResult{}, fmt.Errorf("%w: %d members", ErrGroupMaxSize, len(grp.members))
		}
		if m == nil {
			m = &member{id: hb.Member}
			grp.members[hb.Member] = m
		}
		m.assignment = nil // a rejoin is told its assignment again
	case m == nil:
		return HeartbeatResult{}, fmt.Errorf("%w: %q", ErrUnknownMember, hb.Member)
	case hb.Epoch != m.epoch:
		return HeartbeatResult{}, fmt.Errorf("%w: %d, current %d", ErrFencedMemberEpoch, hb.Epoch, m.epoch)
	}
	return grp.update(m, hb, now, g.cfg.SessionTimeout), nil
}

// update applies a heartbeat's fields and recomputes m's assignment.
func (grp *shareGroup) update(m *member, hb Heartbeat, now time.Time, timeout time.Duration) HeartbeatResult {
	if hb.Topics != nil {
		m.topics = slices.Sorted(slices.Values(hb.Topics))
		m.topics = slices.Compact(m.topics)
	}
	if hb.Rack != nil {
		m.rack = hb.Rack
	}
	m.clientID, m.host, m.deadline = hb.ClientID, hb.Host, now.Add(timeout)
	next := grp.assign(hb.ResolveTopics)[m.id]
	res := HeartbeatResult{Epoch: m.epoch}
	if m.assignment == nil || !sameAssignment(m.assignment, next) {
		grp.epoch++
		m.epoch = grp.epoch
		m.assignment = next
		res.Epoch = m.epoch
		res.Assignment = next
		if res.Assignment == nil {
			res.Assignment = []Assigned{}
		}
	}
	return res
}

// assign is the group's target assignment, Kafka's "simple" assignor in
// a deterministic form: for each topic, with its subscribers sorted by
// member id, a topic with at least as many partitions as subscribers gives
// each partition to one subscriber (round robin), and one with fewer
// gives every subscriber one partition, partitions shared (share groups
// hand out records, so several members may read one partition).
func (grp *shareGroup) assign(resolve func([]string) []Assigned) map[string][]Assigned {
	subs := map[string][]string{}
	for id, m := range grp.members {
		for _, t := range m.topics {
			subs[t] = append(subs[t], id)
		}
	}
	topics := make([]string, 0, len(subs))
	for t := range subs {
		topics = append(topics, t)
	}
	out := make(map[string][]Assigned, len(grp.members))
	for _, a := range resolve(topics) { // sorted by topic name
		ids := subs[a.Topic]
		slices.Sort(ids)
		n, parts := len(ids), a.Partitions
		if n == 0 || len(parts) == 0 {
			continue
		}
		got := map[string][]int32{}
		if n <= len(parts) {
			for i, p := range parts {
				got[ids[i%n]] = append(got[ids[i%n]], p)
			}
		} else {
			for j, id := range ids {
				got[id] = append(got[id], parts[j%len(parts)])
			}
		}
		for id, ps := range got {
			out[id] = append(out[id], Assigned{TopicID: a.TopicID, Topic: a.Topic, Partitions: ps})
		}
	}
	return out
}

// expire removes members whose session timed out.
func (grp *shareGroup) expire(now time.Time) {
	for id, m := range grp.members {
		if now.After(m.deadline) {
			delete(grp.members, id)
			grp.epoch++
		}
	}
}

func sameAssignment(a, b []Assigned) bool {
	return slices.EqualFunc(a, b, func(x, y Assigned) bool {
		return x.TopicID == y.TopicID && slices.Equal(x.Partitions, y.Partitions)
	})
}

// Member describes one member.
type Member struct {
	ID, ClientID, Host string
	Rack               *string
	Epoch              int32
	Topics             []string
	Assignment         []Assigned
}

// Description describes a share group.
type Description struct {
	State   string // "Empty" or "Stable"
	Epoch   int32
	Members []Member
}

// Describe describes group (ErrGroupNotFound when unknown here).
func (g *Groups) Describe(group string) (Description, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	grp := g.groups[group]
	if grp == nil {
		return Description{}, fmt.Errorf("%w: %q", ErrGroupNotFound, group)
	}
	grp.expire(g.now())
	d := Description{State: grp.state(), Epoch: grp.epoch}
	for _, m := range grp.members {
		d.Members = append(d.Members, Member{ID: m.id, ClientID: m.clientID, Host: m.host, Rack: m.rack,
			Epoch: m.epoch, Topics: m.topics, Assignment: m.assignment})
	}
	sort.Slice(d.Members, func(i, j int) bool { return d.Members[i].ID < d.Members[j].ID })
	return d, nil
}

func (grp *shareGroup) state() string {
	if len(grp.members) == 0 {
		return "Empty"
	}
	return "Stable"
}

// Listed is one group of List.
type Listed struct{ Group, State string }

// List lists the share groups known here.
func (g *Groups) List() []Listed {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	out := make([]Listed, 0, len(g.groups))
	for id, grp := range g.groups {
		grp.expire(now)
		out = append(out, Listed{Group: id, State: grp.state()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}

// Exists reports whether group is a share group known here.
func (g *Groups) Exists(group string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.groups[group] != nil
}

// Ensure makes group known (empty) when it is not; the offset admin APIs
// act on groups nobody joined yet, as Kafka's do.
func (g *Groups) Ensure(group string, topics ...string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	grp := g.groups[group]
	if grp == nil {
		grp = &shareGroup{members: make(map[string]*member)}
		g.groups[group] = grp
	}
	grp.expire(g.now())
	if len(grp.members) > 0 {
		return fmt.Errorf("%w: %q has %d members", ErrNonEmptyGroup, group, len(grp.members))
	}
	for _, t := range topics {
		if !slices.Contains(grp.topics, t) {
			grp.topics = append(grp.topics, t)
		}
	}
	return nil
}

// Topics lists the topics of group: its members' subscriptions and the
// topics whose offsets were altered.
func (g *Groups) Topics(group string) ([]string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	grp := g.groups[group]
	if grp == nil {
		return nil, fmt.Errorf("%w: %q", ErrGroupNotFound, group)
	}
	ts := slices.Clone(grp.topics)
	for _, m := range grp.members {
		ts = append(ts, m.topics...)
	}
	slices.Sort(ts)
	return slices.Compact(ts), nil
}

// ForgetTopics removes topics from an empty group's altered topics.
func (g *Groups) ForgetTopics(group string, topics []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if grp := g.groups[group]; grp != nil {
		grp.topics = slices.DeleteFunc(grp.topics, func(t string) bool { return slices.Contains(topics, t) })
	}
}

// Delete removes an empty group.
func (g *Groups) Delete(group string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	grp := g.groups[group]
	if grp == nil {
		return fmt.Errorf("%w: %q", ErrGroupNotFound, group)
	}
	grp.expire(g.now())
	if len(grp.members) > 0 {
		return fmt.Errorf("%w: %q", ErrNonEmptyGroup, group)
	}
	delete(g.groups, group)
	return nil
}
