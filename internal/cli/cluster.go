package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka API keys cluster status probes before using, so that a cluster
// without them (an older Kafka, kfake) still gets a status, just a smaller one.
const (
	keyDescribeQuorum  = 55
	keyDescribeCluster = 60
	keyListReassign    = 46 // ListPartitionReassignments
	// metadataLogTopic is where KRaft (and Strom, which presents its Raft log
	// the same way) describes its controller quorum.
	metadataLogTopic = "__cluster_metadata"
)

// Broker and quorum member states shown by cluster status.
const (
	stateAlive    = "alive"
	stateFenced   = "fenced"
	stateUnknown  = "unregistered" // a Raft member that is not a registered broker
	roleLeader    = "leader"
	roleFollower  = "follower" // a voter that is not the leader
	roleObserver  = "observer" // a non-voter: replicates the log, has no vote
	quorumMissing = "not available from this cluster"
)

type statusBroker struct {
	ID         int32  `json:"id"`
	Address    string `json:"address"`
	Rack       string `json:"rack,omitempty"`
	State      string `json:"state"` // alive or fenced
	Controller bool   `json:"controller,omitempty"`
}

type statusReplica struct {
	ID           int32  `json:"id"`
	Role         string `json:"role"`           // leader, follower or observer
	BrokerState  string `json:"broker_state"`   // alive, fenced or unregistered
	Address      string `json:"address"`        // Kafka address, "" if unknown
	LogEndOffset int64  `json:"log_end_offset"` // -1 if the answering broker does not know it
}

type statusQuorum struct {
	Topic         string          `json:"topic"`
	Leader        int32           `json:"leader"`
	LeaderEpoch   int32           `json:"leader_epoch"`
	HighWatermark int64           `json:"high_watermark"`
	Voters        []statusReplica `json:"voters"`
	Observers     []statusReplica `json:"observers"`
}

type statusPartition struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Leader    int32   `json:"leader"`
	Replicas  []int32 `json:"replicas"`
	ISR       []int32 `json:"isr"`
	Error     string  `json:"error,omitempty"`
}

type clusterStatus struct {
	ClusterID     string         `json:"cluster_id,omitempty"`
	Controller    int32          `json:"controller"`
	LiveBrokers   int            `json:"live_brokers"`
	FencedBrokers int            `json:"fenced_brokers"`
	Brokers       []statusBroker `json:"brokers"`
	// Quorum is null when the cluster does not answer DescribeQuorum;
	// QuorumUnavailable then says why.
	Quorum            *statusQuorum     `json:"quorum"`
	QuorumUnavailable string            `json:"quorum_unavailable,omitempty"`
	Topics            int               `json:"topics"`
	Partitions        int               `json:"partitions"`
	UnderReplicated   []statusPartition `json:"under_replicated_partitions"`
	Offline           []statusPartition `json:"offline_partitions"`
	// Reassignments are the partition reassignments in progress; null
	// when the cluster does not answer ListPartitionReassignments.
	Reassignments []statusReassignment `json:"reassignments"`
}

// statusReassignment is one partition being reassigned, as
// ListPartitionReassignments describes it.
type statusReassignment struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"`
	Adding    []int32 `json:"adding_replicas"`
	Removing  []int32 `json:"removing_replicas"`
}

func runCluster(e *env, args []string) error {
	return subcommands(e, "cluster", args, map[string]func(*env, []string) error{
		"status":    clusterStatusCmd,
		"rebalance": clusterRebalanceCmd,
		"drain":     clusterDrainCmd,
	})
}

// clusterStatusCmd gathers everything with plain Kafka requests (ApiVersions,
// Metadata, DescribeCluster, DescribeQuorum), each one only if the cluster
// advertises it, so it works against any Kafka and says what it could not
// learn instead of failing.
func clusterStatusCmd(e *env, args []string) error {
	fs, o := newFlags(e, "cluster status", "cluster status [--expect-brokers N] [--fail-offline]", adminTimeout, "request timeout")
	expect := fs.Int("expect-brokers", 0, "exit 1 unless at least this many brokers are alive (for scripts that wait for a cluster)")
	failOffline := fs.Bool("fail-offline", false, "exit 1 if any partition has no leader")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("cluster status takes no arguments — pass the cluster with --brokers")
	}
	cl, _, err := o.client(e.ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := o.reqCtx(e.ctx)
	defer cancel()
	st, err := gatherStatus(ctx, cl)
	if err != nil {
		return o.wrap(err)
	}
	if o.json {
		err = writeJSON(e.stdout, st)
	} else {
		err = printStatus(e, st)
	}
	if err != nil {
		return err
	}
	if *expect > 0 && st.LiveBrokers < *expect {
		return fmt.Errorf("%w: %d of %d expected brokers alive", ErrClusterNotReady, st.LiveBrokers, *expect)
	}
	if *failOffline && len(st.Offline) > 0 {
		return fmt.Errorf("%w: %d offline partitions", ErrClusterNotReady, len(st.Offline))
	}
	return nil
}

func gatherStatus(ctx context.Context, cl *kgo.Client) (*clusterStatus, error) {
	avReq := kmsg.NewPtrApiVersionsRequest()
	avReq.ClientSoftwareName = "strom-cli"
	avReq.ClientSoftwareVersion = "1"
	av, err := avReq.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(av.ErrorCode); err != nil {
		return nil, fmt.Errorf("ApiVersions answered with %w", err)
	}
	supported := map[int16]int16{}
	for _, k := range av.ApiKeys {
		supported[k.ApiKey] = k.MaxVersion
	}

	md, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl) // nil topics: all of them
	if err != nil {
		return nil, err
	}
	st := &clusterStatus{Controller: md.ControllerID, UnderReplicated: []statusPartition{}, Offline: []statusPartition{}}
	if md.ClusterID != nil {
		st.ClusterID = *md.ClusterID
	}
	st.Brokers = brokersFromMetadata(md)
	if _, ok := supported[keyDescribeCluster]; ok {
		if bs, ok := describeBrokers(ctx, cl); ok {
			st.Brokers = bs
		}
	}
	for i := range st.Brokers {
		b := &st.Brokers[i]
		b.Controller = b.ID == st.Controller
		if b.State == stateAlive {
			st.LiveBrokers++
		} else {
			st.FencedBrokers++
		}
	}
	st.Topics, st.Partitions, st.UnderReplicated, st.Offline = partitionHealth(md)
	if _, ok := supported[keyListReassign]; ok {
		rs, err := listReassignments(ctx, cl)
		if err != nil && ctx.Err() != nil {
			return nil, err
		}
		st.Reassignments = rs // nil (unknown) when refused, e.g. not authorized
	}

	if _, ok := supported[keyDescribeQuorum]; !ok {
		st.QuorumUnavailable = quorumMissing
		return st, nil
	}
	q, err := describeQuorum(ctx, cl, st.Brokers)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err // the whole command timed out: say so, not "no quorum"
		}
		st.QuorumUnavailable = err.Error()
		return st, nil
	}
	st.Quorum = q
	return st, nil
}

// listReassignments asks the controller for every reassignment in progress
// (a null topic list: all of them), sorted by topic and partition.
func listReassignments(ctx context.Context, cl *kgo.Client) ([]statusReassignment, error) {
	resp, err := kmsg.NewPtrListPartitionReassignmentsRequest().RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("ListPartitionReassignments answered with %w", err)
	}
	out := []statusReassignment{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out = append(out, statusReassignment{Topic: t.Topic, Partition: p.Partition,
				Replicas: nonNil(p.Replicas), Adding: nonNil(p.AddingReplicas), Removing: nonNil(p.RemovingReplicas)})
		}
	}
	slices.SortFunc(out, func(a, b statusReassignment) int {
		if a.Topic != b.Topic {
			return strings.Compare(a.Topic, b.Topic)
		}
		return int(a.Partition) - int(b.Partition)
	})
	return out, nil
}

func brokersFromMetadata(md *kmsg.MetadataResponse) []statusBroker {
	out := make([]statusBroker, 0, len(md.Brokers))
	for _, b := range md.Brokers {
		sb := statusBroker{ID: b.NodeID, Address: hostPort(b.Host, b.Port), State: stateAlive}
		if b.Rack != nil {
			sb.Rack = *b.Rack
		}
		out = append(out, sb)
	}
	slices.SortFunc(out, func(a, b statusBroker) int { return int(a.ID) - int(b.ID) })
	return out
}

// describeBrokers asks DescribeCluster for every broker, fenced ones included
// where the cluster knows KIP-1073 (v2; kgo negotiates the version and drops
// the flag below it). ok is false if the answer is unusable, in which case
// Metadata's list of live brokers stands.
func describeBrokers(ctx context.Context, cl *kgo.Client) ([]statusBroker, bool) {
	req := kmsg.NewPtrDescribeClusterRequest()
	req.IncludeFencedBrokers = true
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || resp.ErrorCode != 0 {
		return nil, false
	}
	out := make([]statusBroker, 0, len(resp.Brokers))
	for _, b := range resp.Brokers {
		sb := statusBroker{ID: b.NodeID, Address: hostPort(b.Host, b.Port), State: stateAlive}
		if b.IsFenced {
			sb.State = stateFenced
		}
		if b.Rack != nil {
			sb.Rack = *b.Rack
		}
		out = append(out, sb)
	}
	slices.SortFunc(out, func(a, b statusBroker) int { return int(a.ID) - int(b.ID) })
	return out, true
}

// describeQuorum asks for the metadata log's quorum; kgo sends it to the
// controller, as Kafka's admin client does.
func describeQuorum(ctx context.Context, cl *kgo.Client, brokers []statusBroker) (*statusQuorum, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = metadataLogTopic
	rt.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{kmsg.NewDescribeQuorumRequestTopicPartition()}
	req.Topics = []kmsg.DescribeQuorumRequestTopic{rt}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("DescribeQuorum failed: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("DescribeQuorum answered with %w", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return nil, errors.New("DescribeQuorum answered without the metadata log partition")
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return nil, fmt.Errorf("DescribeQuorum answered with %w", err)
	}
	return buildQuorum(resp.Topics[0].Topic, p, resp.Nodes, brokers), nil
}

// buildQuorum joins the quorum's members with the broker list: a member's
// address comes from the response's v2 Nodes if present, else from the
// broker with the same id.
func buildQuorum(topic string, p kmsg.DescribeQuorumResponseTopicPartition, nodes []kmsg.DescribeQuorumResponseNode, brokers []statusBroker) *statusQuorum {
	byID := make(map[int32]statusBroker, len(brokers))
	for _, b := range brokers {
		byID[b.ID] = b
	}
	nodeAddr := make(map[int32]string, len(nodes))
	for _, n := range nodes {
		if len(n.Listeners) > 0 {
			nodeAddr[n.NodeID] = hostPort(n.Listeners[0].Host, int32(n.Listeners[0].Port))
		}
	}
	member := func(rs kmsg.DescribeQuorumResponseTopicPartitionReplicaState, voter bool) statusReplica {
		r := statusReplica{ID: rs.ReplicaID, LogEndOffset: rs.LogEndOffset, BrokerState: stateUnknown, Role: roleObserver}
		if voter {
			r.Role = roleFollower
			if rs.ReplicaID == p.LeaderID {
				r.Role = roleLeader
			}
		}
		if b, ok := byID[rs.ReplicaID]; ok {
			r.BrokerState = b.State
			r.Address = b.Address
		}
		if a, ok := nodeAddr[rs.ReplicaID]; ok {
			r.Address = a
		}
		return r
	}
	q := &statusQuorum{Topic: topic, Leader: p.LeaderID, LeaderEpoch: p.LeaderEpoch, HighWatermark: p.HighWatermark,
		Voters: []statusReplica{}, Observers: []statusReplica{}}
	for _, v := range p.CurrentVoters {
		q.Voters = append(q.Voters, member(v, true))
	}
	for _, o := range p.Observers {
		q.Observers = append(q.Observers, member(o, false))
	}
	return q
}

// partitionHealth counts topics and partitions and lists the partitions that
// are under-replicated (fewer in-sync replicas than replicas) and offline (no
// leader), internal topics included, as Kafka's own metrics count them.
func partitionHealth(md *kmsg.MetadataResponse) (topics, partitions int, under, offline []statusPartition) {
	under, offline = []statusPartition{}, []statusPartition{}
	for _, t := range md.Topics {
		if t.Topic == nil || t.ErrorCode != 0 {
			continue
		}
		topics++
		for _, p := range t.Partitions {
			partitions++
			sp := statusPartition{Topic: *t.Topic, Partition: p.Partition, Leader: p.Leader, Replicas: nonNil(p.Replicas), ISR: nonNil(p.ISR)}
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				sp.Error = err.Error()
			}
			if p.Leader < 0 {
				offline = append(offline, sp)
			}
			if len(p.ISR) < len(p.Replicas) {
				under = append(under, sp)
			}
		}
	}
	less := func(a, b statusPartition) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition) - int(b.Partition)
	}
	slices.SortFunc(under, less)
	slices.SortFunc(offline, less)
	return topics, partitions, under, offline
}

func printStatus(e *env, st *clusterStatus) error {
	w := e.stdout
	fmt.Fprintf(w, "cluster: %s\n", orDash(st.ClusterID))
	ctl := "none"
	if st.Controller >= 0 {
		ctl = strconv.Itoa(int(st.Controller))
	}
	fmt.Fprintf(w, "controller: %s\n", ctl)
	fmt.Fprintf(w, "brokers: %d alive, %d fenced\n", st.LiveBrokers, st.FencedBrokers)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ID\tADDRESS\tRACK\tSTATE\t")
	for _, b := range st.Brokers {
		note := ""
		if b.Controller {
			note = "controller"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", b.ID, b.Address, orDash(b.Rack), b.State, note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if q := st.Quorum; q != nil {
		fmt.Fprintf(w, "quorum: %d voters, %d observers, leader %d, epoch %d, high watermark %d (%s)\n",
			len(q.Voters), len(q.Observers), q.Leader, q.LeaderEpoch, q.HighWatermark, q.Topic)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tROLE\tBROKER\tLOG-END\tADDRESS")
		for _, r := range append(slices.Clone(q.Voters), q.Observers...) {
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", r.ID, r.Role, r.BrokerState, offsetString(r.LogEndOffset), orDash(r.Address))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(w, "quorum: %s\n", st.QuorumUnavailable)
	}

	fmt.Fprintf(w, "partitions: %d in %d topics, %d under-replicated, %d offline\n",
		st.Partitions, st.Topics, len(st.UnderReplicated), len(st.Offline))
	for _, list := range []struct {
		title string
		ps    []statusPartition
	}{{"under-replicated", st.UnderReplicated}, {"offline", st.Offline}} {
		if len(list.ps) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s:\n", list.title)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  TOPIC\tPARTITION\tLEADER\tREPLICAS\tISR")
		for _, p := range list.ps {
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%s\n", p.Topic, p.Partition, p.Leader, joinInt32(p.Replicas), joinInt32(p.ISR))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return printReassignments(w, st.Reassignments)
}

// printReassignments lists the reassignments in progress, if any.
func printReassignments(w io.Writer, rs []statusReassignment) error {
	if len(rs) == 0 {
		return nil
	}
	fmt.Fprintf(w, "reassignments in progress: %d\n", len(rs))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  TOPIC\tPARTITION\tREPLICAS\tADDING\tREMOVING")
	for _, r := range rs {
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\n", r.Topic, r.Partition, joinInt32(r.Replicas), joinInt32(r.Adding), joinInt32(r.Removing))
	}
	return tw.Flush()
}

func hostPort(host string, port int32) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}
