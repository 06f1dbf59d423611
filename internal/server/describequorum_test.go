package server

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/raftmeta"
)

func quorumRequest(version int16, topic string, partitions ...int32) *kmsg.DescribeQuorumRequest {
	req := kmsg.NewPtrDescribeQuorumRequest()
	req.Version = version
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = topic
	for _, p := range partitions {
		rp := kmsg.NewDescribeQuorumRequestTopicPartition()
		rp.Partition = p
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

func TestDescribeQuorumSingleBroker(t *testing.T) {
	s, addr := startTestServer(t, func(c *Config) { c.NodeID = 3 })
	c := dialRaw(t, addr)
	ctx := testCtx(t, time.Minute)

	for v := int16(0); v <= 2; v++ {
		raw, err := c.Request(ctx, quorumRequest(v, metadataTopic, 0))
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		resp := raw.(*kmsg.DescribeQuorumResponse)
		wantCode(t, "describe quorum", resp.ErrorCode, nil)
		if len(resp.Topics) != 1 || resp.Topics[0].Topic != metadataTopic || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("v%d: topics %+v, want one partition of %s", v, resp.Topics, metadataTopic)
		}
		p := resp.Topics[0].Partitions[0]
		wantCode(t, "quorum partition", p.ErrorCode, nil)
		prog := s.meta.RaftProgress()
		if p.Partition != 0 || p.LeaderID != 3 || p.LeaderEpoch < 1 || int64(p.LeaderEpoch) > int64(prog.Term) {
			t.Errorf("v%d: partition %d leader %d epoch %d, want partition 0, leader 3, epoch in [1,%d]",
				v, p.Partition, p.LeaderID, p.LeaderEpoch, prog.Term)
		}
		// The broker registered itself and created __consumer_offsets, so
		// something is committed; the commit index only grows.
		if p.HighWatermark < 1 || p.HighWatermark > int64(prog.CommitIndex) {
			t.Errorf("v%d: high watermark %d, want in [1,%d]", v, p.HighWatermark, prog.CommitIndex)
		}
		if len(p.CurrentVoters) != 1 || len(p.Observers) != 0 {
			t.Fatalf("v%d: voters %+v observers %+v, want exactly voter 3", v, p.CurrentVoters, p.Observers)
		}
		voter := p.CurrentVoters[0]
		if voter.ReplicaID != 3 || voter.LogEndOffset < p.HighWatermark {
			t.Errorf("v%d: voter %+v, want id 3 with its log end >= high watermark %d", v, voter, p.HighWatermark)
		}
		if v >= 1 && (voter.LastFetchTimestamp != -1 || voter.LastCaughtUpTimestamp != -1) {
			t.Errorf("v%d: timestamps %d/%d, want -1 (unknown)", v, voter.LastFetchTimestamp, voter.LastCaughtUpTimestamp)
		}
		if v < 2 {
			if len(resp.Nodes) != 0 {
				t.Errorf("v%d: nodes %+v before v2", v, resp.Nodes)
			}
			continue
		}
		if len(resp.Nodes) != 1 || resp.Nodes[0].NodeID != 3 || len(resp.Nodes[0].Listeners) != 1 {
			t.Fatalf("v2: nodes %+v, want node 3 with one listener", resp.Nodes)
		}
		l := resp.Nodes[0].Listeners[0]
		if l.Name != "PLAINTEXT" || l.Host != "127.0.0.1" || int(l.Port) != portOf(t, addr) {
			t.Errorf("v2: listener %+v, want PLAINTEXT %s", l, addr)
		}
	}
}

func TestDescribeQuorumUnknownPartition(t *testing.T) {
	_, addr := startTestServer(t)
	c := dialRaw(t, addr)
	ctx := testCtx(t, time.Minute)

	for _, tc := range []struct {
		name string
		req  *kmsg.DescribeQuorumRequest
	}{
		{"other topic", quorumRequest(2, "orders", 0)},
		{"other partition", quorumRequest(2, metadataTopic, 1)},
		{"two partitions", quorumRequest(2, metadataTopic, 0, 1)},
	} {
		raw, err := c.Request(ctx, tc.req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp := raw.(*kmsg.DescribeQuorumResponse)
		wantCode(t, tc.name, resp.ErrorCode, nil)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != len(tc.req.Topics[0].Partitions) {
			t.Fatalf("%s: topics %+v, want every requested partition echoed", tc.name, resp.Topics)
		}
		if resp.Topics[0].Topic != tc.req.Topics[0].Topic {
			t.Errorf("%s: topic %q, want %q", tc.name, resp.Topics[0].Topic, tc.req.Topics[0].Topic)
		}
		for i, p := range resp.Topics[0].Partitions {
			wantCode(t, tc.name, p.ErrorCode, kerr.UnknownTopicOrPartition)
			if p.Partition != tc.req.Topics[0].Partitions[i].Partition || p.LeaderID != -1 || len(p.CurrentVoters) != 0 {
				t.Errorf("%s: partition %+v", tc.name, p)
			}
		}
	}
}

func TestDescribeClusterIncludeFencedBrokers(t *testing.T) {
	s, addr := startTestServer(t)
	ctx := testCtx(t, time.Minute)
	// A second broker that registered once and is now fenced, as the
	// controller leaves a broker that dropped out of the membership.
	fenced := raftmeta.Broker{ID: 7, Rack: "r7", Fenced: true,
		Listeners: []raftmeta.Listener{{Name: "PLAINTEXT", Host: "10.0.0.7", Port: 9092}}}
	if err := s.meta.RegisterBroker(ctx, fenced); err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, addr)

	describe := func(version int16, include bool) *kmsg.DescribeClusterResponse {
		t.Helper()
		req := kmsg.NewPtrDescribeClusterRequest()
		req.Version = version
		req.IncludeFencedBrokers = include
		raw, err := c.Request(ctx, req)
		if err != nil {
			t.Fatalf("v%d: %v", version, err)
		}
		resp := raw.(*kmsg.DescribeClusterResponse)
		wantCode(t, "describe cluster", resp.ErrorCode, nil)
		return resp
	}
	ids := func(resp *kmsg.DescribeClusterResponse) (out []int32) {
		for _, b := range resp.Brokers {
			out = append(out, b.NodeID)
		}
		return out
	}

	for _, v := range []int16{0, 1, 2} {
		if got := ids(describe(v, false)); len(got) != 1 || got[0] != 1 {
			t.Errorf("v%d without fenced: brokers %v, want [1]", v, got)
		}
	}
	resp := describe(2, true)
	if len(resp.Brokers) != 2 {
		t.Fatalf("v2 with fenced: brokers %+v, want 1 and 7", resp.Brokers)
	}
	live, gone := resp.Brokers[0], resp.Brokers[1]
	if live.NodeID != 1 || live.IsFenced {
		t.Errorf("live broker %+v, want node 1 not fenced", live)
	}
	if gone.NodeID != 7 || !gone.IsFenced || gone.Host != "10.0.0.7" || gone.Port != 9092 || strPtrValue(gone.Rack) != "r7" {
		t.Errorf("fenced broker %+v, want node 7 at 10.0.0.7:9092 in r7, fenced", gone)
	}
}
