package server

// DescribeQuorum: versions 0-2.
//
// Behaviour:
//   - Strom's metadata log is its Raft log, so the quorum described is the
//     Raft group, presented as KRaft presents its metadata log: topic
//     "__cluster_metadata", partition 0. Anything else asked for (another
//     topic, another partition, more than one of either) gets
//     UNKNOWN_TOPIC_OR_PARTITION on every requested partition, as Kafka.
//   - LeaderID is the Raft leader (the controller), -1 if none is known;
//     LeaderEpoch is the Raft term.
//   - Offsets: Raft indexes start at 1 and Kafka offsets at 0, so entry i is
//     offset i-1. A high watermark ("next offset not yet committed") is then
//     exactly the commit index, and a log end offset the last index.
//   - CurrentVoters and Observers are the voters and non-voters of the Raft
//     configuration. hashicorp/raft keeps follower progress private, so only
//     the answering broker's own LogEndOffset is known; every other replica
//     has LogEndOffset -1 and (v1+) timestamps -1, which Kafka documents as
//     "unknown".
//   - The answer is this broker's view. Kafka brokers forward DescribeQuorum
//     to the active controller; Strom's brokers are all Raft members and
//     answer themselves, and kgo (which treats DescribeQuorum as an admin
//     request) sends it to the controller anyway, so clients normally see
//     the leader's view.
//
// Version notes:
//   - v1: LastFetchTimestamp and LastCaughtUpTimestamp per replica (-1 here).
//   - v2: ErrorMessage fields, ReplicaDirectoryID (the data directory id
//     each broker registered, directoryid.go: the voter key AddRaftVoter and
//     RemoveRaftVoter take; zero for a member not registered) and Nodes: the
//     advertised listeners of every registered voter and observer.

import (
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

// metadataTopic is the name KRaft gives its metadata log.
const metadataTopic = "__cluster_metadata"

func (s *Server) handleDescribeQuorum(req *wire.Request, r *kmsg.DescribeQuorumRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeQuorumResponse)
	if !s.authorizeCluster(req, acl.OpDescribe) { // Kafka's check
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp
	}
	if !asksForMetadataLog(r) {
		for _, rt := range r.Topics {
			t := kmsg.NewDescribeQuorumResponseTopic()
			t.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				p := kmsg.NewDescribeQuorumResponseTopicPartition()
				p.Partition = rp.Partition
				p.ErrorCode = kerr.UnknownTopicOrPartition.Code
				p.LeaderID = -1
				p.LeaderEpoch = -1
				p.HighWatermark = -1
				t.Partitions = append(t.Partitions, p)
			}
			resp.Topics = append(resp.Topics, t)
		}
		return resp
	}

	servers, err := s.meta.RaftServers()
	if err != nil {
		resp.ErrorCode = errorCode(err)
		if r.Version >= 2 {
			resp.ErrorMessage = errorMessage(err)
		}
		return resp
	}
	prog := s.meta.RaftProgress()
	self := s.cfg.NodeID
	st := s.meta.State()

	p := kmsg.NewDescribeQuorumResponseTopicPartition()
	p.Partition = 0
	p.LeaderID = s.meta.ControllerID()
	p.LeaderEpoch = clampInt32(prog.Term)
	p.HighWatermark = clampInt64(prog.CommitIndex)
	for _, srv := range servers {
		rs := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		rs.ReplicaID = srv.NodeID
		rs.LogEndOffset = -1
		rs.ReplicaDirectoryID = st.Brokers[srv.NodeID].DirectoryID
		if srv.NodeID == self {
			rs.LogEndOffset = clampInt64(prog.LastIndex)
		}
		if srv.Voter {
			p.CurrentVoters = append(p.CurrentVoters, rs)
		} else {
			p.Observers = append(p.Observers, rs)
		}
	}
	t := kmsg.NewDescribeQuorumResponseTopic()
	t.Topic = metadataTopic
	t.Partitions = append(t.Partitions, p)
	resp.Topics = append(resp.Topics, t)

	if r.Version >= 2 {
		resp.Nodes = quorumNodes(st, servers)
	}
	return resp
}

// asksForMetadataLog reports whether r asks for exactly the metadata log's
// one partition, the only request KRaft answers.
func asksForMetadataLog(r *kmsg.DescribeQuorumRequest) bool {
	return len(r.Topics) == 1 && r.Topics[0].Topic == metadataTopic &&
		len(r.Topics[0].Partitions) == 1 && r.Topics[0].Partitions[0].Partition == 0
}

// quorumNodes lists the advertised listeners of the registered brokers among
// servers (sorted by node id, as RaftServers returns them). A Raft member
// not registered yet as a broker has no listeners to tell and is left out.
func quorumNodes(st *raftmeta.State, servers []raftmeta.RaftServer) []kmsg.DescribeQuorumResponseNode {
	var out []kmsg.DescribeQuorumResponseNode
	for _, srv := range servers {
		b, ok := st.Brokers[srv.NodeID]
		if !ok {
			continue
		}
		n := kmsg.NewDescribeQuorumResponseNode()
		n.NodeID = srv.NodeID
		for _, l := range b.Listeners {
			if l.Port < 0 || l.Port > math.MaxUint16 {
				continue // cannot be expressed in v2's uint16 port
			}
			nl := kmsg.NewDescribeQuorumResponseNodeListener()
			nl.Name = l.Name
			nl.Host = l.Host
			nl.Port = uint16(l.Port)
			n.Listeners = append(n.Listeners, nl)
		}
		out = append(out, n)
	}
	return out
}

func clampInt32(v uint64) int32 {
	if v > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(v)
}

func clampInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}
