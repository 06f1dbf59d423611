package cli

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
)

// describeShareGroups describes the share groups (KIP-932) among names;
// the others are left to the classic describe. A share group's "committed"
// offset is its share-partition start offset (SPSO): every record below it
// is acknowledged or archived; lag is the log end minus it.
func describeShareGroups(ctx context.Context, adm *kadm.Client, names []string) (map[string]groupDescribed, error) {
	dsg, err := adm.DescribeShareGroups(ctx, names...)
	if err != nil && len(dsg) == 0 {
		return nil, nil // brokers without share groups: nothing here is one
	}
	out := map[string]groupDescribed{}
	for n, d := range dsg {
		if d.Err != nil || d.GroupState == "" || d.GroupState == "Dead" {
			continue
		}
		g := groupDescribed{Group: n, Coordinator: d.Coordinator.NodeID, State: d.GroupState, ProtocolType: "share",
			Protocol: d.Assignor, Members: []groupMember{}, Offsets: []groupOffset{}}
		for _, m := range d.Members {
			gm := groupMember{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Assigned: map[string][]int32{}}
			for t, ps := range m.Assignment {
				for p := range ps {
					gm.Assigned[t] = append(gm.Assigned[t], p)
				}
				sort.Slice(gm.Assigned[t], func(i, j int) bool { return gm.Assigned[t][i] < gm.Assigned[t][j] })
			}
			g.Members = append(g.Members, gm)
		}
		if err := shareOffsets(ctx, adm, &g); err != nil {
			return nil, err
		}
		out[n] = g
	}
	return out, nil
}

// shareOffsets fills g's offsets with its share-partitions' start offsets
// and the lag behind each log end.
func shareOffsets(ctx context.Context, adm *kadm.Client, g *groupDescribed) error {
	dso, err := adm.DescribeShareGroupOffsets(ctx, g.Group)
	if err != nil {
		return err
	}
	offs := dso[g.Group].Offsets
	var topics []string
	for t := range offs {
		topics = append(topics, t)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return err
	}
	for _, o := range offs.Sorted() {
		off := groupOffset{Topic: o.Topic, Partition: o.Partition, Committed: o.StartOffset, LogEnd: -1, Lag: -1}
		if e, ok := ends.Lookup(o.Topic, o.Partition); ok && e.Err == nil {
			off.LogEnd = e.Offset
			if o.StartOffset >= 0 {
				off.Lag = max(e.Offset-o.StartOffset, 0)
				g.TotalLag += off.Lag
			}
		}
		if o.Err != nil {
			off.Error = o.Err.Error()
		}
		g.Offsets = append(g.Offsets, off)
	}
	sort.Slice(g.Members, func(i, j int) bool { return g.Members[i].MemberID < g.Members[j].MemberID })
	return nil
}
