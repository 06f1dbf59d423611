package group

// ConsumerGroupDescribe describes consumer-protocol groups: epochs, the
// assignor, and per member its subscription, current and target
// assignment. An unknown group, or a classic one, is ErrGroupIDNotFound,
// as in Kafka.

import (
	"context"
	"fmt"
	"sort"
)

// ConsumerGroupDescription is one group of ConsumerGroupDescribe.
type ConsumerGroupDescription struct {
	Group           string
	State           string
	Epoch           int32
	AssignmentEpoch int32
	Assignor        string
	Members         []ConsumerMemberDescription
	Err             error
}

// ConsumerMemberDescription is one member of a consumer group.
type ConsumerMemberDescription struct {
	MemberID         string
	InstanceID       *string
	RackID           *string
	MemberEpoch      int32
	ClientID         string
	ClientHost       string
	SubscribedTopics []string
	SubscribedRegex  *string
	Assignment       []AssignedTopic
	TargetAssignment []AssignedTopic
}

// ConsumerGroupDescribe describes groups, one result per id.
func (c *Coordinator) ConsumerGroupDescribe(_ context.Context, ids []string) []ConsumerGroupDescription {
	out := make([]ConsumerGroupDescription, 0, len(ids))
	for _, id := range ids {
		out = append(out, c.cgDescribe(id))
	}
	return out
}

func (c *Coordinator) cgDescribe(id string) ConsumerGroupDescription {
	d := ConsumerGroupDescription{Group: id}
	_, g, err := c.lookup(id)
	if err != nil {
		d.Err = err
		return d
	}
	if g == nil {
		d.Err = fmt.Errorf("%w: group %q not found", ErrGroupIDNotFound, id)
		return d
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.unloaded:
		d.Err = g.closedErr()
		return d
	case g.cons == nil || g.state == stateDead:
		d.Err = fmt.Errorf("%w: group %q is not a consumer group", ErrGroupIDNotFound, id)
		return d
	}
	cg := g.cons
	d.State, d.Epoch, d.AssignmentEpoch = cg.stateString(), cg.epoch, cg.assignEpoch
	d.Assignor = c.preferredAssignor(cg.members)
	names := make(map[topicID]string)
	for n, t := range c.topicsByName() {
		names[t.ID] = n
	}
	for _, m := range cg.members {
		d.Members = append(d.Members, ConsumerMemberDescription{
			MemberID: m.id, InstanceID: m.instanceID, RackID: m.rackID, MemberEpoch: m.epoch,
			ClientID: m.clientID, ClientHost: m.clientHost,
			SubscribedTopics: append([]string{}, m.topics...), SubscribedRegex: m.regex,
			Assignment:       assignedTopics(m.assigned, names),
			TargetAssignment: assignedTopics(cg.target[m.id], names),
		})
	}
	sort.Slice(d.Members, func(i, j int) bool { return d.Members[i].MemberID < d.Members[j].MemberID })
	return d
}
