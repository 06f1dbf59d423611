package cluster

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/server"
)

// quorumView is DescribeQuorum v2's answer: voter and observer ids
// (sorted) and every member's directory id.
type quorumView struct {
	voters, observers []int32
	dirs              map[int32][16]byte
	leader            int32
}

// describeQuorum asks the cluster (kgo sends DescribeQuorum to the
// controller) for the metadata quorum; ok false on any error.
func (c *Cluster) describeQuorum(t *testing.T) (quorumView, bool) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	req.Version = 2
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{kmsg.NewDescribeQuorumRequestTopicPartition()}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxFor(t, 10*time.Second), c.Client())
	if err != nil || resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return quorumView{}, false
	}
	p := resp.Topics[0].Partitions[0]
	v := quorumView{dirs: map[int32][16]byte{}, leader: p.LeaderID}
	for _, r := range p.CurrentVoters {
		v.voters = append(v.voters, r.ReplicaID)
		v.dirs[r.ReplicaID] = r.ReplicaDirectoryID
	}
	for _, r := range p.Observers {
		v.observers = append(v.observers, r.ReplicaID)
		v.dirs[r.ReplicaID] = r.ReplicaDirectoryID
	}
	slices.Sort(v.voters)
	slices.Sort(v.observers)
	return v, true
}

// waitQuorum waits until the quorum has exactly these voters and observers.
func (c *Cluster) waitQuorum(t *testing.T, voters, observers []int32) quorumView {
	t.Helper()
	var v quorumView
	c.WaitFor("voters "+fmtIDs(voters)+" observers "+fmtIDs(observers), 30*time.Second, func() bool {
		got, ok := c.describeQuorum(t)
		v = got
		return ok && slices.Equal(got.voters, voters) && slices.Equal(got.observers, observers)
	})
	return v
}

func msgOf(m *string) string {
	if m == nil {
		return "<nil>"
	}
	return *m
}

func fmtIDs(ids []int32) string {
	s := "["
	for i, id := range ids {
		if i > 0 {
			s += " "
		}
		s += string(rune('0' + id))
	}
	return s + "]"
}

// TestClusterRaftVoters: with bootstrap-expect 2 on 3 brokers, two vote
// and one observes. RemoveRaftVoter demotes the lowest voter, and the
// reconciler, which keeps two voters, promotes the observer rather than the
// demoted node again (which it would pick first by id when the observer's id
// is higher); AddRaftVoter then brings the demoted node back as a third
// voter. Each node reports a distinct directory id, the key both requests
// check.
func TestClusterRaftVoters(t *testing.T) {
	c := New(t, 3, func(cfg *server.Config) { cfg.BootstrapExpect = 2 })
	var q quorumView
	c.WaitFor("two voters and one observer", 30*time.Second, func() bool {
		got, ok := c.describeQuorum(t)
		q = got
		return ok && len(got.voters) == 2 && len(got.observers) == 1
	})
	if q.dirs[1] == q.dirs[2] || q.dirs[2] == q.dirs[3] || q.dirs[1] == q.dirs[3] || q.dirs[1] == ([16]byte{}) {
		t.Fatalf("directory ids not distinct: %v", q.dirs)
	}
	demoted, other, observer := q.voters[0], q.voters[1], q.observers[0]
	cl := c.Client()
	ctx := ctxFor(t, 30*time.Second)

	rm := kmsg.NewPtrRemoveRaftVoterRequest()
	rm.VoterID, rm.VoterDirectoryID = demoted, q.dirs[observer] // another node's directory
	if resp, err := rm.RequestWith(ctx, cl); err != nil || resp.ErrorCode != kerr.VoterNotFound.Code {
		t.Fatalf("remove voter %d with %d's directory id: %v %+v", demoted, observer, err, resp)
	}
	rm.VoterDirectoryID = q.dirs[demoted]
	if resp, err := rm.RequestWith(ctx, cl); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("remove voter %d: %v %+v %s", demoted, err, resp, msgOf(resp.ErrorMessage))
	}
	voters := []int32{other, observer}
	slices.Sort(voters)
	q = c.waitQuorum(t, voters, []int32{demoted})

	addReq := func(id int32) *kmsg.AddRaftVoterRequest {
		add := kmsg.NewPtrAddRaftVoterRequest()
		add.VoterID, add.VoterDirectoryID, add.TimeoutMillis = id, q.dirs[id], 10_000
		l := c.Broker(id).Cfg.Listeners[0]
		add.Listeners = []kmsg.AddRaftVoterRequestListener{{Name: "PLAINTEXT", Host: l.Host, Port: uint16(l.Port)}}
		return add
	}
	if resp, err := addReq(observer).RequestWith(ctx, cl); err != nil || resp.ErrorCode != kerr.DuplicateVoter.Code {
		t.Fatalf("add voter %d again: %v %+v", observer, err, resp)
	}
	if resp, err := addReq(demoted).RequestWith(ctx, cl); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("add voter %d: %v %+v %s", demoted, err, resp, msgOf(resp.ErrorMessage))
	}
	q = c.waitQuorum(t, []int32{1, 2, 3}, nil)

	// The controller itself: it hands leadership over and is demoted by
	// the next controller, then keeps running as an observer.
	ctl := q.leader
	rm.VoterID, rm.VoterDirectoryID = ctl, q.dirs[ctl]
	if resp, err := rm.RequestWith(ctx, cl); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("remove the controller %d: %v %+v %s", ctl, err, resp, msgOf(resp.ErrorMessage))
	}
	rest := slices.DeleteFunc([]int32{1, 2, 3}, func(id int32) bool { return id == ctl })
	q = c.waitQuorum(t, rest, []int32{ctl})
	if q.leader == ctl {
		t.Fatalf("node %d still leads after its demotion", ctl)
	}
	createAssigned(t, c, "after-demotion", []int32{ctl, rest[0], rest[1]}) // the metadata quorum still takes writes
	produceN(t, c.Client(), "after-demotion", 0, 3)
}

// TestClusterUnregisterBroker: a stopped broker is fenced and can then be
// unregistered: DescribeCluster no longer lists it, and the partitions it
// led have another leader; a running broker is refused.
func TestClusterUnregisterBroker(t *testing.T) {
	c := New(t, 3)
	createAssigned(t, c, "unreg", []int32{3, 1, 2})
	c.WaitFor("broker 3 leads unreg", 10*time.Second, func() bool { l, isr := c.partitionState("unreg"); return l == 3 && len(isr) == 3 })
	cl := c.Client()
	ctx := ctxFor(t, 30*time.Second)
	un := kmsg.NewPtrUnregisterBrokerRequest()
	un.BrokerID = 3
	if resp, err := un.RequestWith(ctx, cl); err != nil || resp.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("unregister running broker 3: %v %+v", err, resp)
	}
	c.Stop(3)
	c.WaitFor("broker 3 fenced", 20*time.Second, func() bool {
		b, ok := c.runningMeta().Brokers[3]
		return ok && b.Fenced
	})
	if resp, err := un.RequestWith(ctx, cl); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("unregister stopped broker 3: %v %+v", err, resp)
	}
	c.WaitFor("broker 3 gone and unreg led by 1 or 2", 20*time.Second, func() bool {
		_, registered := c.runningMeta().Brokers[3]
		l, isr := c.partitionState("unreg")
		return !registered && (l == 1 || l == 2) && !slices.Contains(isr, 3)
	})
	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.IncludeFencedBrokers = true
	c.WaitFor("DescribeCluster without broker 3", 10*time.Second, func() bool {
		resp, err := dc.RequestWith(ctx, cl)
		return err == nil && len(resp.Brokers) == 2
	})
	if resp, err := un.RequestWith(ctx, cl); err != nil || resp.ErrorCode != kerr.BrokerIDNotRegistered.Code {
		t.Fatalf("unregister 3 again: %v %+v", err, resp)
	}
}
