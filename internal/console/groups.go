package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupRow is one line of the groups page.
type groupRow struct {
	Name, State, Protocol string
	Members               int
	Lag                   int64
	Err                   string
}

// groupsPage is the groups page's data.
type groupsPage struct {
	Groups []groupRow
	Note   string // set when there are more groups than maxGroupsLag
}

// memberRow is one member on a group page.
type memberRow struct {
	ID, ClientID, Host string
	Assigned           string // "topic: 0, 1; other: 3"
}

// lagRow is one partition's lag on a group page.
type lagRow struct {
	Topic     string
	Partition int32
	Member    string
	Committed int64
	End       int64
	Lag       int64
	Err       string
}

// groupPage is the group page's data.
type groupPage struct {
	Name, State, Protocol string
	Coordinator           int32
	Members               []memberRow
	Lag                   []lagRow
	TotalLag              int64
}

// groupsData lists the groups with their state and total lag.
func (c *Console) groupsData(ctx context.Context, _ *http.Request) (string, any, error) {
	listed, err := c.adm.ListGroups(ctx)
	if err != nil && len(listed) == 0 {
		return "", nil, fmt.Errorf("list groups: %w", err)
	}
	names := listed.Groups()
	slices.Sort(names)
	note := ""
	if len(names) > maxGroupsLag {
		note = fmt.Sprintf("%d groups; lag shown for the first %d (open a group for its lag)", len(names), maxGroupsLag)
		names = names[:maxGroupsLag]
	}
	lags, err := c.adm.Lag(ctx, names...)
	if err != nil && len(lags) == 0 && len(listed) > 0 {
		return "", nil, fmt.Errorf("group lag: %w", err)
	}
	cgs := c.consumerGroups(ctx, listed, names)
	var rows []groupRow
	for _, g := range listed.Sorted() {
		r := groupRow{Name: g.Group, State: g.State}
		if l, ok := lags[g.Group]; ok {
			r.State, r.Protocol, r.Members = l.State, l.Protocol, len(l.Members)
			r.Lag = l.Lag.Total()
			if e := l.Error(); e != nil {
				r.Err = e.Error()
			}
		}
		if cg, ok := cgs[g.Group]; ok {
			r.State, r.Protocol, r.Members = cg.State, cg.AssignorName, len(cg.Members)
		}
		rows = append(rows, r)
	}
	return "Consumer groups", groupsPage{Groups: rows, Note: note}, nil
}

// groupData shows one group: members with their assignments and the lag of
// every partition it has committed or is assigned.
func (c *Console) groupData(ctx context.Context, r *http.Request) (string, any, error) {
	name := r.PathValue("group")
	if name == "" || len(name) > 1024 {
		return "", nil, fmt.Errorf("%w: group name must be 1 to 1024 bytes", ErrBadParam)
	}
	lags, err := c.adm.Lag(ctx, name)
	if err != nil && len(lags) == 0 {
		return "", nil, fmt.Errorf("group lag: %w", err)
	}
	l, ok := lags[name]
	// A KIP-848 consumer group reads as Dead in DescribeGroups.
	cg, isCG := c.consumerGroups(ctx, nil, []string{name})[name]
	if !isCG && (!ok || l.State == "Dead" || errors.Is(l.DescribeErr, kerr.GroupIDNotFound)) {
		return "", nil, fmt.Errorf("%w: %q", ErrUnknownGroup, name)
	}
	// DescribeGroups v6+ answers a consumer group GROUP_ID_NOT_FOUND, "not a
	// classic group" (KIP-1043); ConsumerGroupDescribe described it above.
	if isCG && errors.Is(l.DescribeErr, kerr.GroupIDNotFound) {
		if l, err = c.committedLag(ctx, l); err != nil {
			return "", nil, fmt.Errorf("group %q: %w", name, err)
		}
	}
	if err := l.Error(); err != nil {
		return "", nil, fmt.Errorf("group %q: %w", name, err)
	}
	p := groupPage{Name: name, State: l.State, Protocol: l.Protocol, Coordinator: l.Coordinator.NodeID, TotalLag: l.Lag.Total()}
	for _, m := range l.Members {
		p.Members = append(p.Members, memberRow{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Assigned: assignedString(m.Assigned.AsConsumer())})
	}
	if isCG {
		p.State, p.Protocol = cg.State, cg.AssignorName+" (consumer protocol)"
		for _, m := range cg.Members {
			p.Members = append(p.Members, memberRow{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Assigned: topicsString(m.Assignment)})
		}
	}
	for _, ml := range l.Lag.Sorted() {
		row := lagRow{Topic: ml.Topic, Partition: ml.Partition, Committed: ml.Commit.At, End: ml.End.Offset, Lag: ml.Lag}
		if ml.Member != nil {
			row.Member = ml.Member.ClientID + " " + ml.Member.MemberID
		}
		if ml.Err != nil {
			row.Err = ml.Err.Error()
		}
		p.Lag = append(p.Lag, row)
	}
	return "Group " + name, p, nil
}

// assignedString renders a consumer assignment as "topic: 0, 1; other: 3".
func assignedString(a *kmsg.ConsumerMemberAssignment, ok bool) string {
	if !ok || a == nil {
		return "(not a consumer-protocol assignment)"
	}
	var parts []string
	for _, t := range a.Topics {
		ps := slices.Sorted(slices.Values(t.Partitions))
		parts = append(parts, t.Topic+": "+funcs["ids"].(func([]int32) string)(ps))
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// consumerGroups describes, of names, the KIP-848 consumer groups (those
// listed with that type, or all of names when listed is nil) with
// ConsumerGroupDescribe; a broker without it yields none.
func (c *Console) consumerGroups(ctx context.Context, listed kadm.ListedGroups, names []string) map[string]kadm.DescribedConsumerGroup {
	var want []string
	for _, n := range names {
		if listed == nil || listed[n].GroupType == "consumer" {
			want = append(want, n)
		}
	}
	out := map[string]kadm.DescribedConsumerGroup{}
	if len(want) == 0 {
		return out
	}
	described, err := c.adm.DescribeConsumerGroups(ctx, want...)
	if err != nil {
		return out
	}
	for n, g := range described {
		if g.Err == nil {
			out[n] = g
		}
	}
	return out
}

// topicsString renders a KIP-848 assignment as "topic: 0, 1; other: 3".
func topicsString(s kadm.TopicsSet) string {
	var parts []string
	s.EachPartitions(func(t string, ps []int32) {
		ps = slices.Sorted(slices.Values(ps))
		parts = append(parts, t+": "+funcs["ids"].(func([]int32) string)(ps))
	})
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// committedLag is l with the lag of every partition the group committed,
// which kadm's Lag leaves out for a group DescribeGroups does not describe
// (a consumer-protocol group).
func (c *Console) committedLag(ctx context.Context, l kadm.DescribedGroupLag) (kadm.DescribedGroupLag, error) {
	commits, err := c.adm.FetchOffsets(ctx, l.Group)
	if err == nil {
		err = commits.Error()
	}
	var starts, ends kadm.ListedOffsets
	if err == nil {
		starts, err = c.adm.ListStartOffsets(ctx, commits.Offsets().TopicsSet().Topics()...)
	}
	if err == nil {
		ends, err = c.adm.ListEndOffsets(ctx, commits.Offsets().TopicsSet().Topics()...)
	}
	if err != nil {
		return l, err
	}
	l.DescribeErr, l.FetchErr = nil, nil
	l.Lag = kadm.CalculateGroupLagWithStartOffsets(kadm.DescribedGroup{Group: l.Group, State: "Empty"}, commits, starts, ends)
	return l, nil
}
