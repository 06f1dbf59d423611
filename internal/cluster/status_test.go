package cluster

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/cli"
	"github.com/strombroker/strom/wire"
)

// controllerID returns the broker that is the established controller, or -1.
func (c *Cluster) controllerID() int32 {
	for _, b := range c.Brokers {
		if b.Srv != nil && b.Srv.IsController() {
			return b.ID
		}
	}
	return -1
}

func describeQuorumRaw(t *testing.T, addr string) *kmsg.DescribeQuorumResponse {
	t.Helper()
	ctx := ctxFor(t, 10*time.Second)
	cl, err := wire.Dial(ctx, addr, "cluster-test")
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDescribeQuorumRequest()
	req.Version = 2
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	resp, err := cl.Request(ctx, req)
	if err != nil {
		t.Fatalf("describe quorum at %s: %v", addr, err)
	}
	return resp.(*kmsg.DescribeQuorumResponse)
}

// Every broker is a Raft voter and answers DescribeQuorum from its own view:
// the same leader and voters everywhere, and only its own log end known.
func TestClusterDescribeQuorum(t *testing.T) {
	c := New(t, 3)
	c.WaitFor("an established controller", 15*time.Second, func() bool { return c.controllerID() > 0 })
	ctl := c.controllerID()
	for _, b := range c.Brokers {
		var resp *kmsg.DescribeQuorumResponse
		// A follower learns the leader and the full configuration through
		// replication; poll until it has.
		c.WaitFor("broker "+b.Addr()+" sees three voters", 15*time.Second, func() bool {
			resp = describeQuorumRaw(t, b.Addr())
			if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				return false
			}
			p := resp.Topics[0].Partitions[0]
			return p.LeaderID == ctl && len(p.CurrentVoters) == 3
		})
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.LeaderEpoch < 1 || p.HighWatermark < 1 || len(p.Observers) != 0 {
			t.Errorf("broker %d: partition %+v", b.ID, p)
		}
		for i, v := range p.CurrentVoters {
			if v.ReplicaID != int32(i+1) {
				t.Errorf("broker %d: voter %d is %d, want voters 1,2,3 in order", b.ID, i, v.ReplicaID)
			}
			if v.ReplicaID == b.ID && v.LogEndOffset < 1 {
				t.Errorf("broker %d: own log end %d, want known", b.ID, v.LogEndOffset)
			}
			if v.ReplicaID != b.ID && v.LogEndOffset != -1 {
				t.Errorf("broker %d: log end of voter %d is %d, want -1 (unknown)", b.ID, v.ReplicaID, v.LogEndOffset)
			}
		}
		if len(resp.Nodes) != 3 {
			t.Fatalf("broker %d: nodes %+v, want 3", b.ID, resp.Nodes)
		}
		for _, n := range resp.Nodes {
			want := c.Broker(n.NodeID).Cfg.Listeners[0]
			if len(n.Listeners) != 1 || n.Listeners[0].Host != want.Host || int(n.Listeners[0].Port) != want.Port {
				t.Errorf("broker %d: node %d listeners %+v, want %s", b.ID, n.NodeID, n.Listeners, want.Addr())
			}
		}
	}
}

type statusBroker struct {
	ID      int32  `json:"id"`
	Address string `json:"address"`
	State   string `json:"state"`
}

// statusOutput is the part of `strom cluster status --json` these tests read.
type statusOutput struct {
	Controller    int32          `json:"controller"`
	LiveBrokers   int            `json:"live_brokers"`
	FencedBrokers int            `json:"fenced_brokers"`
	Brokers       []statusBroker `json:"brokers"`
	Quorum        *struct {
		Leader int32 `json:"leader"`
		Voters []struct {
			ID          int32  `json:"id"`
			Role        string `json:"role"`
			BrokerState string `json:"broker_state"`
		} `json:"voters"`
	} `json:"quorum"`
	UnderReplicated []struct {
		Topic string `json:"topic"`
	} `json:"under_replicated_partitions"`
	Offline []struct{} `json:"offline_partitions"`
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(ctxFor(t, 30*time.Second), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func clusterStatus(t *testing.T, c *Cluster) (statusOutput, bool) {
	t.Helper()
	code, out, errs := runCLI(t, "cluster", "status", "--json", "--brokers", strings.Join(c.Seeds(), ","))
	var st statusOutput
	if code != 0 {
		t.Logf("cluster status: exit %d: %s", code, errs)
		return st, false
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("cluster status --json: %v\n%s", err, out)
	}
	return st, true
}

// strom cluster status against a real 3-broker cluster: all alive, a quorum
// of three with the controller as leader; after one broker stops, it shows
// as fenced and its partitions as under-replicated.
func TestClusterStatusCommand(t *testing.T) {
	c := New(t, 3)
	ctx := ctxFor(t, time.Minute)
	if _, err := c.Admin().CreateTopic(ctx, 3, 3, nil, "status"); err != nil {
		t.Fatal(err)
	}
	var st statusOutput
	c.WaitFor("status with 3 live brokers, a quorum and no under-replicated partitions", 20*time.Second, func() bool {
		var ok bool
		st, ok = clusterStatus(t, c)
		return ok && st.LiveBrokers == 3 && st.Quorum != nil && len(st.Quorum.Voters) == 3 &&
			st.Controller > 0 && len(st.UnderReplicated) == 0
	})
	if st.FencedBrokers != 0 || len(st.Offline) != 0 || st.Quorum.Leader != st.Controller {
		t.Errorf("status %+v", st)
	}
	for i, b := range st.Brokers {
		if b.ID != int32(i+1) || b.State != "alive" || b.Address != c.Broker(b.ID).Addr() {
			t.Errorf("broker %+v, want %d alive at %s", b, i+1, c.Broker(int32(i+1)).Addr())
		}
	}
	leaders := 0
	for _, v := range st.Quorum.Voters {
		if v.Role == "leader" {
			leaders++
			if v.ID != st.Controller {
				t.Errorf("quorum leader %d, controller %d", v.ID, st.Controller)
			}
		}
	}
	if leaders != 1 {
		t.Errorf("%d quorum leaders in %+v", leaders, st.Quorum.Voters)
	}
	code, text, errs := runCLI(t, "cluster", "status", "--brokers", strings.Join(c.Seeds(), ","), "--expect-brokers", "3")
	if code != 0 || !strings.Contains(text, "brokers: 3 alive, 0 fenced") || !strings.Contains(text, "quorum: 3 voters, 0 observers") {
		t.Errorf("text status: exit %d stderr %q\n%s", code, errs, text)
	}

	// Stop a broker that is not the controller, so the quorum keeps its leader.
	victim := int32(1)
	for victim == st.Controller {
		victim++
	}
	c.Stop(victim)
	c.WaitFor("stopped broker fenced and its partitions under-replicated", 30*time.Second, func() bool {
		var ok bool
		st, ok = clusterStatus(t, c)
		if !ok || st.LiveBrokers != 2 || st.FencedBrokers != 1 || len(st.UnderReplicated) == 0 {
			return false
		}
		i := slices.IndexFunc(st.Brokers, func(b statusBroker) bool { return b.ID == victim })
		return i >= 0 && st.Brokers[i].State == "fenced"
	})
	if len(st.Offline) != 0 {
		t.Errorf("offline partitions with 2 of 3 replicas alive: %+v", st.Offline)
	}
	if st.Quorum != nil {
		for _, v := range st.Quorum.Voters {
			if v.ID == victim && v.BrokerState != "fenced" {
				t.Errorf("stopped broker still a voter but shown %q", v.BrokerState)
			}
		}
	}
	code, _, errs = runCLI(t, "cluster", "status", "--brokers", strings.Join(c.Seeds(), ","), "--expect-brokers", "3")
	if code != 1 || !strings.Contains(errs, "2 of 3 expected brokers alive") {
		t.Errorf("--expect-brokers 3 with one down: exit %d stderr %q", code, errs)
	}
}
