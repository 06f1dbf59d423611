package server

// KIP-951 leader discovery: a Produce (v10+) or Fetch (v16+) partition
// answered NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH names the partition's
// current leader and epoch (CurrentLeader, -1/-1 when this broker knows no
// leader) and the response lists that leader's endpoint (NodeEndpoints) on
// the listener the request arrived on, as Metadata gives it
// (advertisedEndpoint), so
// franz-go and librdkafka 2.4+ move the partition at once instead of waiting
// for their next metadata refresh. As in Kafka, a leader that is not a live
// (registered, unfenced) broker is named without an endpoint. The hints are
// taken from the newest applied metadata when the answer is final, so a
// request that caught up with the controller first (catchup.go) names the
// leader known after catching up.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

// Versions that carry the KIP-951 fields.
const (
	produceLeaderHintVersion = 10
	fetchLeaderHintVersion   = 16
)

// wantsLeaderHint reports whether a partition error code gets a
// CurrentLeader hint.
func wantsLeaderHint(code int16) bool {
	return code == kerr.NotLeaderForPartition.Code || code == kerr.FencedLeaderEpoch.Code
}

// leaderHints gathers the CurrentLeader answers of one response and the
// endpoints of the leaders they name.
type leaderHints struct {
	st    *raftmeta.State
	conn  *wire.ConnInfo
	nodes []raftmeta.Broker // live leaders named, each once
}

// leader returns topic/partition's current leader and epoch in h's
// metadata, or -1/-1, and remembers a live leader's endpoint.
func (h *leaderHints) leader(topic string, partition int32) (id, epoch int32) {
	t := h.st.Topics[topic]
	if t == nil || partition < 0 || int(partition) >= len(t.Partitions) {
		return -1, -1
	}
	p := &t.Partitions[partition]
	if p.Leader < 0 {
		return -1, -1
	}
	if b, ok := h.st.Brokers[p.Leader]; ok && !b.Fenced &&
		!slices.ContainsFunc(h.nodes, func(n raftmeta.Broker) bool { return n.ID == b.ID }) {
		h.nodes = append(h.nodes, b)
	}
	return p.Leader, p.LeaderEpoch
}

// addProduceLeaderHints fills CurrentLeader and NodeEndpoints (v10+) in a
// produce response about to be sent.
func (s *Server) addProduceLeaderHints(req *wire.Request, resp *kmsg.ProduceResponse) {
	if resp.Version < produceLeaderHintVersion {
		return
	}
	h := &leaderHints{st: s.meta.State(), conn: req.Conn}
	for i := range resp.Topics {
		t := &resp.Topics[i]
		for j := range t.Partitions {
			p := &t.Partitions[j]
			if wantsLeaderHint(p.ErrorCode) {
				p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = h.leader(t.Topic, p.Partition)
			}
		}
	}
	resp.Brokers = resp.Brokers[:0]
	for _, b := range h.nodes {
		rb := kmsg.NewProduceResponseBroker()
		rb.NodeID = b.ID
		rb.Host, rb.Port, rb.Rack = advertisedEndpoint(b, h.conn)
		resp.Brokers = append(resp.Brokers, rb)
	}
}

// addFetchLeaderHints fills CurrentLeader and NodeEndpoints (v16+) in a
// fetch response about to be sent. Its topics carry their names whether the
// request named them by ID or by name (fetchTopic).
func (s *Server) addFetchLeaderHints(req *wire.Request, resp *kmsg.FetchResponse) {
	if resp.Version < fetchLeaderHintVersion {
		return
	}
	h := &leaderHints{st: s.meta.State(), conn: req.Conn}
	for i := range resp.Topics {
		t := &resp.Topics[i]
		for j := range t.Partitions {
			p := &t.Partitions[j]
			if wantsLeaderHint(p.ErrorCode) {
				p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = h.leader(t.Topic, p.Partition)
			}
		}
	}
	resp.Brokers = resp.Brokers[:0]
	for _, b := range h.nodes {
		rb := kmsg.NewFetchResponseBroker()
		rb.NodeID = b.ID
		rb.Host, rb.Port, rb.Rack = advertisedEndpoint(b, h.conn)
		resp.Brokers = append(resp.Brokers, rb)
	}
}
