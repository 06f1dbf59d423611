package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

func runGroup(e *env, args []string) error {
	return subcommands(e, "group", args, map[string]func(*env, []string) error{
		"list":          groupList,
		"describe":      groupDescribe,
		"reset-offsets": groupResetOffsets,
		"delete":        groupDelete,
	})
}

type groupListed struct {
	Group        string `json:"group"`
	Type         string `json:"type,omitempty"` // classic or consumer (KIP-848); empty from brokers before ListGroups v5
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
	Coordinator  int32  `json:"coordinator"`
}

func groupList(e *env, args []string) error {
	fs, o := newFlags(e, "group list", "group list", adminTimeout, "request timeout")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("group list takes no arguments — use `strom group describe %s` for details", strings.Join(pos, " "))
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	lgs, err := adm.ListGroups(ctx)
	if err != nil {
		return o.wrap(err)
	}
	out := []groupListed{}
	for _, g := range lgs.Sorted() {
		out = append(out, groupListed{Group: g.Group, Type: g.GroupType, State: g.State, ProtocolType: g.ProtocolType, Coordinator: g.Coordinator})
	}
	if o.json {
		return writeJSON(e.stdout, out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tTYPE\tSTATE\tPROTOCOL-TYPE\tCOORDINATOR")
	for _, g := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", g.Group, orDash(g.Type), orDash(g.State), orDash(g.ProtocolType), g.Coordinator)
	}
	return tw.Flush()
}

type groupMember struct {
	MemberID   string             `json:"member_id"`
	InstanceID string             `json:"instance_id,omitempty"`
	ClientID   string             `json:"client_id"`
	Host       string             `json:"host"`
	Assigned   map[string][]int32 `json:"assigned"`
	// Consumer-protocol (KIP-848) members only.
	MemberEpoch *int32             `json:"member_epoch,omitempty"`
	Target      map[string][]int32 `json:"target,omitempty"`
}

type groupOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"`
	LogEnd    int64  `json:"log_end"`
	Lag       int64  `json:"lag"`
	MemberID  string `json:"member_id,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Host      string `json:"host,omitempty"`
	Error     string `json:"error,omitempty"`
}

type groupDescribed struct {
	Group        string        `json:"group"`
	Coordinator  int32         `json:"coordinator"`
	State        string        `json:"state"`
	ProtocolType string        `json:"protocol_type"`
	Protocol     string        `json:"protocol"`
	Members      []groupMember `json:"members"`
	Offsets      []groupOffset `json:"offsets"`
	TotalLag     int64         `json:"total_lag"`
	// Consumer-protocol (KIP-848) groups only: Type "consumer", the group
	// and target-assignment epochs; Protocol is then the server assignor.
	Type            string `json:"type,omitempty"`
	GroupEpoch      *int32 `json:"group_epoch,omitempty"`
	AssignmentEpoch *int32 `json:"assignment_epoch,omitempty"`
}

func groupDescribe(e *env, args []string) error {
	fs, o := newFlags(e, "group describe", "group describe GROUP...", adminTimeout, "request timeout")
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return usageErr("group describe needs a group name — list them with `strom group list`")
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	shares, err := describeShareGroups(ctx, adm, names) // group_share.go
	if err != nil {
		return o.wrap(err)
	}
	lags, err := adm.Lag(ctx, names...)
	if err != nil {
		return o.wrap(err)
	}
	// Consumer-protocol groups answer DescribeGroups as Dead, or from v6
	// as not found (as Kafka does); ConsumerGroupDescribe has their members. A broker without it
	// fails this call, and every group is then classic.
	cgs, _ := adm.DescribeConsumerGroups(ctx, names...)
	out := make([]groupDescribed, 0, len(names))
	for _, n := range names {
		if g, ok := shares[n]; ok {
			out = append(out, g)
			continue
		}
		l, ok := lags[n]
		if !ok {
			return explainGroup(kerr.GroupIDNotFound, n)
		}
		// Before l's error: DescribeGroups v6 answers a consumer-protocol
		// group GROUP_ID_NOT_FOUND, "not a classic group" (KIP-1043).
		if cg, ok := cgs[n]; ok && cg.Err == nil {
			if l.DescribeErr != nil { // kadm computed no lag for it
				if l, err = consumerGroupLag(ctx, adm, l); err != nil {
					return explainGroup(o.wrap(err), n)
				}
			}
			out = append(out, describeConsumerGroup(cg, describeLag(l)))
			continue
		}
		if err := l.Error(); err != nil {
			return explainGroup(o.wrap(err), n)
		}
		if (l.State == "Dead" || l.State == "") && len(l.Members) == 0 && len(l.Lag) == 0 {
			return explainGroup(kerr.GroupIDNotFound, n)
		}
		out = append(out, describeLag(l))
	}
	if o.json {
		return writeJSON(e.stdout, out)
	}
	for i, g := range out {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		printGroup(e, g)
	}
	return nil
}

func describeLag(l kadm.DescribedGroupLag) groupDescribed {
	g := groupDescribed{Group: l.Group, Coordinator: l.Coordinator.NodeID, State: l.State, ProtocolType: l.ProtocolType, Protocol: l.Protocol, Members: []groupMember{}, Offsets: []groupOffset{}}
	for _, m := range l.Members {
		gm := groupMember{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Assigned: map[string][]int32{}}
		if m.InstanceID != nil {
			gm.InstanceID = *m.InstanceID
		}
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				ps := append([]int32(nil), t.Partitions...)
				sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
				gm.Assigned[t.Topic] = ps
			}
		}
		g.Members = append(g.Members, gm)
	}
	for _, ml := range l.Lag.Sorted() {
		off := groupOffset{Topic: ml.Topic, Partition: ml.Partition, Committed: ml.Commit.At, LogEnd: ml.End.Offset, Lag: ml.Lag}
		if ml.End.Err != nil {
			off.LogEnd = -1
		}
		if ml.Member != nil {
			off.MemberID, off.ClientID, off.Host = ml.Member.MemberID, ml.Member.ClientID, ml.Member.ClientHost
		}
		if ml.Err != nil {
			off.Error = ml.Err.Error()
		}
		if off.Lag > 0 {
			g.TotalLag += off.Lag
		}
		g.Offsets = append(g.Offsets, off)
	}
	return g
}

// consumerGroupLag is l with the lag of every partition the group has
// committed: kadm's Lag computes none for a group DescribeGroups did not
// describe (a consumer-protocol group, GROUP_ID_NOT_FOUND at v6+);
// describeConsumerGroup then attributes each partition to its member.
func consumerGroupLag(ctx context.Context, adm *kadm.Client, l kadm.DescribedGroupLag) (kadm.DescribedGroupLag, error) {
	commits, err := adm.FetchOffsets(ctx, l.Group)
	if err == nil {
		err = commits.Error()
	}
	if err != nil {
		return l, err
	}
	topics := commits.Offsets().TopicsSet().Topics()
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return l, err
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return l, err
	}
	l.DescribeErr, l.FetchErr = nil, nil
	l.Lag = kadm.CalculateGroupLagWithStartOffsets(kadm.DescribedGroup{Group: l.Group, State: "Empty"}, commits, starts, ends)
	return l, nil
}

// describeConsumerGroup fills g (the group's offsets and lag) with what
// ConsumerGroupDescribe says of a consumer-protocol group: state, epochs,
// assignor, members with their epochs, assignments and targets; each
// offset is attributed to the member assigned its partition.
func describeConsumerGroup(cg kadm.DescribedConsumerGroup, g groupDescribed) groupDescribed {
	g.Type, g.State, g.ProtocolType, g.Protocol = "consumer", cg.State, "consumer", cg.AssignorName
	g.GroupEpoch, g.AssignmentEpoch = &cg.Epoch, &cg.AssignmentEpoch
	g.Members = []groupMember{}
	owner := map[string]map[int32]groupMember{}
	for _, m := range cg.Members {
		gm := groupMember{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, MemberEpoch: &m.MemberEpoch,
			Assigned: topicsSetMap(m.Assignment), Target: topicsSetMap(m.TargetAssignment)}
		if m.InstanceID != nil {
			gm.InstanceID = *m.InstanceID
		}
		for t, ps := range gm.Assigned {
			if owner[t] == nil {
				owner[t] = map[int32]groupMember{}
			}
			for _, p := range ps {
				owner[t][p] = gm
			}
		}
		g.Members = append(g.Members, gm)
	}
	for i, off := range g.Offsets {
		if m, ok := owner[off.Topic][off.Partition]; ok {
			g.Offsets[i].MemberID, g.Offsets[i].ClientID, g.Offsets[i].Host = m.MemberID, m.ClientID, m.Host
		}
	}
	return g
}

func topicsSetMap(s kadm.TopicsSet) map[string][]int32 {
	out := map[string][]int32{}
	s.EachPartitions(func(t string, ps []int32) {
		ps = append([]int32(nil), ps...)
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		out[t] = ps
	})
	return out
}

func printGroup(e *env, g groupDescribed) {
	if g.Type == "consumer" {
		printConsumerGroup(e, g)
		return
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tCOORDINATOR\tSTATE\tPROTOCOL-TYPE\tPROTOCOL\tMEMBERS\tTOTAL-LAG")
	fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%d\n", g.Group, g.Coordinator, orDash(g.State), orDash(g.ProtocolType), orDash(g.Protocol), len(g.Members), g.TotalLag)
	_ = tw.Flush()
	if len(g.Members) > 0 {
		fmt.Fprintln(e.stdout)
		tw = tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MEMBER-ID\tCLIENT-ID\tHOST\tASSIGNED")
		for _, m := range g.Members {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.MemberID, orDash(m.ClientID), orDash(m.Host), assignedString(m.Assigned))
		}
		_ = tw.Flush()
	}
	printOffsets(e, g)
}

// printOffsets prints a described group's committed offsets and lag.
func printOffsets(e *env, g groupDescribed) {
	if len(g.Offsets) > 0 {
		fmt.Fprintln(e.stdout)
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tMEMBER-ID\tCLIENT-ID\tHOST")
		for _, o := range g.Offsets {
			lag := "-"
			if o.Lag >= 0 {
				lag = strconv.FormatInt(o.Lag, 10)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", o.Topic, o.Partition, offsetString(o.Committed), offsetString(o.LogEnd), lag, orDash(o.MemberID), orDash(o.ClientID), orDash(o.Host))
		}
		_ = tw.Flush()
	}
}

// printConsumerGroup prints a consumer-protocol (KIP-848) group: its
// epochs and assignor, each member's epoch, assignment and target.
func printConsumerGroup(e *env, g groupDescribed) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tCOORDINATOR\tTYPE\tSTATE\tGROUP-EPOCH\tASSIGNMENT-EPOCH\tASSIGNOR\tMEMBERS\tTOTAL-LAG")
	fmt.Fprintf(tw, "%s\t%d\tconsumer\t%s\t%d\t%d\t%s\t%d\t%d\n", g.Group, g.Coordinator, orDash(g.State), *g.GroupEpoch, *g.AssignmentEpoch, orDash(g.Protocol), len(g.Members), g.TotalLag)
	_ = tw.Flush()
	if len(g.Members) > 0 {
		fmt.Fprintln(e.stdout)
		tw = tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MEMBER-ID\tMEMBER-EPOCH\tCLIENT-ID\tHOST\tASSIGNED\tTARGET")
		for _, m := range g.Members {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", m.MemberID, *m.MemberEpoch, orDash(m.ClientID), orDash(m.Host), assignedString(m.Assigned), assignedString(m.Target))
		}
		_ = tw.Flush()
	}
	g.Members = nil // the offsets table follows, as for classic groups
	g.Type = ""
	printOffsets(e, g)
}

func assignedString(a map[string][]int32) string {
	if len(a) == 0 {
		return "-"
	}
	topics := make([]string, 0, len(a))
	for t := range a {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	parts := make([]string, 0, len(topics))
	for _, t := range topics {
		parts = append(parts, t+":"+joinInt32(a[t]))
	}
	return strings.Join(parts, " ")
}

type resetOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Current   int64  `json:"current"`
	New       int64  `json:"new"`
}

type resetResult struct {
	Group    string        `json:"group"`
	Executed bool          `json:"executed"`
	Offsets  []resetOffset `json:"offsets"`
}

// resetRequest is what `group reset-offsets` was asked to do.
type resetRequest struct {
	group    string
	topics   []string
	earliest bool  // --to-earliest
	offset   int64 // --to-offset, or -1; with neither set: --to-latest
	execute  bool
}

func groupResetOffsets(e *env, args []string) error {
	o, req, err := parseResetOffsets(e, args)
	if err != nil {
		return err
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()

	if err := checkGroupIdle(ctx, adm, o, req.group); err != nil {
		return err
	}
	res, commit, err := planReset(ctx, adm, o, req)
	if err != nil {
		return err
	}
	if req.execute {
		resps, err := adm.CommitOffsets(ctx, req.group, commit)
		if err != nil {
			return explainGroup(o.wrap(err), req.group)
		}
		if err := resps.Error(); err != nil {
			return explainGroup(err, req.group)
		}
	}
	if o.json {
		return writeJSON(e.stdout, res)
	}
	return printReset(e, res)
}

// parseResetOffsets reads the reset-offsets command line and checks that it
// names one group, at least one topic and exactly one target mode.
func parseResetOffsets(e *env, args []string) (*common, resetRequest, error) {
	fs, o := newFlags(e, "group reset-offsets", "group reset-offsets GROUP --topic T (--to-earliest|--to-latest|--to-offset N) [--execute]", adminTimeout, "request timeout")
	var topics stringList
	fs.Var(&topics, "topic", "topic whose offsets to reset (repeatable)")
	toEarliest := fs.Bool("to-earliest", false, "reset to the log start offset")
	toLatest := fs.Bool("to-latest", false, "reset to the log end offset")
	toOffset := fs.Int64("to-offset", -1, "reset to this offset (clamped to the partition's log start..end)")
	execute := fs.Bool("execute", false, "commit the new offsets (without it: dry run that only prints them)")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, resetRequest{}, err
	}
	if len(pos) != 1 {
		return nil, resetRequest{}, usageErr("reset-offsets needs exactly one group — e.g. `strom group reset-offsets G --topic T --to-earliest --execute`")
	}
	if len(topics) == 0 {
		return nil, resetRequest{}, usageErr("reset-offsets needs --topic T")
	}
	modes := 0
	for _, b := range []bool{*toEarliest, *toLatest, *toOffset >= 0} {
		if b {
			modes++
		}
	}
	if modes != 1 {
		return nil, resetRequest{}, usageErr("reset-offsets needs exactly one of --to-earliest, --to-latest, --to-offset N")
	}
	return o, resetRequest{group: pos[0], topics: topics, earliest: *toEarliest, offset: *toOffset, execute: *execute}, nil
}

// checkGroupIdle refuses a group that still has members or is rebalancing:
// Kafka refuses offset commits from outside an active group, and a running
// consumer would overwrite them anyway. A group that does not exist yet is
// fine (resetting creates its offsets).
func checkGroupIdle(ctx context.Context, adm *kadm.Client, o *common, group string) error {
	dgs, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return explainGroup(o.wrap(err), group)
	}
	dg, ok := dgs[group]
	if !ok {
		return nil
	}
	if dg.Err != nil && !errors.Is(dg.Err, kerr.GroupIDNotFound) {
		return explainGroup(dg.Err, group)
	}
	if len(dg.Members) > 0 || (dg.State != "Empty" && dg.State != "Dead" && dg.State != "") {
		return friendly(ErrGroupNotEmpty, nil, "group %s is %s with %d members — stop its consumers first (offsets can only be reset on an empty group)", group, dg.State, len(dg.Members))
	}
	// A consumer-protocol (KIP-848) group reads as Dead above.
	if cgs, err := adm.DescribeConsumerGroups(ctx, group); err == nil {
		if cg, ok := cgs[group]; ok && cg.Err == nil && len(cg.Members) > 0 {
			return friendly(ErrGroupNotEmpty, nil, "group %s is %s with %d members — stop its consumers first (offsets can only be reset on an empty group)", group, cg.State, len(cg.Members))
		}
	}
	return nil
}

// planReset computes the new offset of every partition of the requested
// topics from their log bounds, next to the group's current commit. It
// returns them both for printing and as the commit to send.
func planReset(ctx context.Context, adm *kadm.Client, o *common, req resetRequest) (resetResult, kadm.Offsets, error) {
	res := resetResult{Group: req.group, Executed: req.execute, Offsets: []resetOffset{}}
	tds, err := adm.ListTopics(ctx, req.topics...)
	if err != nil {
		return res, nil, o.wrap(err)
	}
	if err := requireTopics(tds, req.topics); err != nil {
		return res, nil, err
	}
	starts, ends, err := listOffsetBounds(ctx, adm, req.topics)
	if err != nil {
		return res, nil, o.wrap(err)
	}
	current, err := adm.FetchOffsetsForTopics(ctx, req.group, req.topics...)
	if err != nil {
		return res, nil, explainGroup(o.wrap(err), req.group)
	}
	commit := make(kadm.Offsets)
	for _, t := range req.topics {
		for _, p := range tds[t].Partitions.Numbers() {
			start, sok := starts.Lookup(t, p)
			end, eok := ends.Lookup(t, p)
			if !sok || !eok || start.Err != nil || end.Err != nil {
				return res, nil, fmt.Errorf("cannot list offsets of %s[%d]: %w", t, p, errors.Join(start.Err, end.Err))
			}
			target := req.target(start.Offset, end.Offset)
			cur := int64(-1)
			if c, ok := current.Lookup(t, p); ok && c.Err == nil {
				cur = c.At
			}
			res.Offsets = append(res.Offsets, resetOffset{Topic: t, Partition: p, Current: cur, New: target})
			commit.Add(kadm.Offset{Topic: t, Partition: p, At: target, LeaderEpoch: -1})
		}
	}
	return res, commit, nil
}

// target is the new offset of a partition whose log spans start..end:
// --to-offset is clamped into that range so a consumer never starts outside
// the log.
func (r resetRequest) target(start, end int64) int64 {
	switch {
	case r.earliest:
		return start
	case r.offset >= 0:
		return max(start, min(r.offset, end))
	}
	return end
}

// printReset writes the planned (or committed) offsets as a table, and on
// stderr whether anything was committed.
func printReset(e *env, res resetResult) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tNEW-OFFSET")
	for _, r := range res.Offsets {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\n", res.Group, r.Topic, r.Partition, offsetString(r.Current), r.New)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if res.Executed {
		fmt.Fprintf(e.stderr, "committed %d offsets for group %s\n", len(res.Offsets), res.Group)
	} else {
		fmt.Fprintln(e.stderr, "dry run: nothing changed — add --execute to commit these offsets")
	}
	return nil
}

func groupDelete(e *env, args []string) error {
	return deleteNamed(e, args, "group", kerr.GroupIDNotFound, explainGroup,
		func(ctx context.Context, adm *kadm.Client, names []string) (map[string]deleteResult, error) {
			resps, err := adm.DeleteGroups(ctx, names...)
			out := make(map[string]deleteResult, len(resps))
			for n, r := range resps {
				out[n] = deleteResult{r.Err, r.ErrMessage}
			}
			return out, err
		})
}
