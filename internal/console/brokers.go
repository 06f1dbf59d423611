package console

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metadataLogTopic is the topic DescribeQuorum describes: Strom presents its
// Raft log under KRaft's name.
const metadataLogTopic = "__cluster_metadata"

// brokerRow is one line of the brokers page.
type brokerRow struct {
	ID         int32
	Address    string
	Rack       string
	State      string // alive or fenced
	Controller bool
	RaftRole   string // leader, follower, observer or "" when not a Raft member
}

// brokersPage is the brokers page's data.
type brokersPage struct {
	ClusterID  string
	Controller int32
	Brokers    []brokerRow
	QuorumNote string // why Raft roles are missing, if they are
}

// brokersData asks DescribeCluster (v2, fenced brokers included) for the
// brokers and DescribeQuorum for their Raft roles. A cluster without
// DescribeQuorum still gets its brokers page, with a note.
func (c *Console) brokersData(ctx context.Context, _ *http.Request) (string, any, error) {
	req := kmsg.NewPtrDescribeClusterRequest()
	req.IncludeFencedBrokers = true
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		return "", nil, fmt.Errorf("describe cluster: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return "", nil, fmt.Errorf("describe cluster: %w", err)
	}
	p := brokersPage{ClusterID: resp.ClusterID, Controller: resp.ControllerID}
	roles, err := c.raftRoles(ctx)
	if err != nil {
		p.QuorumNote = err.Error()
	}
	for _, b := range resp.Brokers {
		row := brokerRow{
			ID: b.NodeID, Address: b.Host + ":" + strconv.Itoa(int(b.Port)),
			State: "alive", Controller: b.NodeID == resp.ControllerID, RaftRole: roles[b.NodeID],
		}
		if b.Rack != nil {
			row.Rack = *b.Rack
		}
		if b.IsFenced {
			row.State = "fenced"
		}
		p.Brokers = append(p.Brokers, row)
	}
	slices.SortFunc(p.Brokers, func(a, b brokerRow) int { return int(a.ID - b.ID) })
	return "Brokers", p, nil
}

// raftRoles maps broker ids to their role in the metadata quorum.
func (c *Console) raftRoles(ctx context.Context) (map[int32]string, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = metadataLogTopic
	rp := kmsg.NewDescribeQuorumRequestTopicPartition()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		return nil, fmt.Errorf("raft roles unavailable: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("raft roles unavailable: %w", err)
	}
	roles := map[int32]string{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			for _, v := range p.CurrentVoters {
				roles[v.ReplicaID] = "follower"
			}
			for _, o := range p.Observers {
				roles[o.ReplicaID] = "observer"
			}
			if p.LeaderID >= 0 {
				roles[p.LeaderID] = "leader"
			}
		}
	}
	return roles, nil
}
