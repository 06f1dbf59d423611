package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/storage"
	"github.com/strombroker/strom/wire"
)

// Replication test harness: real Managers on temp dirs, each able to lead
// through a minimal Kafka server (Fetch and OffsetForLeaderEpoch only) that
// answers the way internal/server does, and to follow over real TCP with
// the fetcher.

// replTopic is the partition every replication test uses, and replTopicID
// its topic id (follower fetches name topics by id).
const replTopic = "r"

var replTopicID = [16]byte{0x7e, 0x57, 15: 1}

// testBrokerEpoch is the broker epoch node id fetches with; the test
// leader refuses any other, as internal/server does.
func testBrokerEpoch(id int32) int64 { return 1000 + int64(id) }

// replNode is one broker of a test: a Manager and, once it has led, the
// address of its leader server.
type replNode struct {
	id      int32
	m       *Manager
	addr    string
	changer *fakeChanger
	dials   atomic.Int64
}

// replOptions tweak a node.
type replOptions struct {
	lagMax   time.Duration // enables the ISR loop with a fakeChanger
	dialHook func(addr string) error
	settings *Settings
	// brokerEpoch replaces the node's broker epoch (testBrokerEpoch(id)).
	brokerEpoch func() int64
	// fetchMaxWait and fetchBackoff replace the tight defaults.
	fetchMaxWait, fetchBackoff time.Duration
}

// newReplNode opens a Manager with tight replication timers, opens
// replTopic/0 on it and starts its leader server.
func newReplNode(t testing.TB, id int32, o replOptions) *replNode {
	t.Helper()
	n := &replNode{id: id}
	rc := ReplicationConfig{
		FetchMaxWait: 50 * time.Millisecond,
		FetchBackoff: 20 * time.Millisecond,
		// Small enough that tests cross response and partition limits.
		FetchMaxBytes:          16 << 10,
		FetchPartitionMaxBytes: 8 << 10,
		RequestTimeout:         5 * time.Second,
		BrokerEpoch:            func() int64 { return testBrokerEpoch(id) },
		Dialer: func(ctx context.Context, addr string) (Requester, error) {
			n.dials.Add(1)
			if o.dialHook != nil {
				if err := o.dialHook(addr); err != nil {
					return nil, err
				}
			}
			cl, err := wire.Dial(ctx, addr, fmt.Sprintf("test-follower-%d", id))
			if err != nil {
				return nil, err
			}
			return cl, nil
		},
	}
	if o.brokerEpoch != nil {
		rc.BrokerEpoch = o.brokerEpoch
	}
	if o.fetchMaxWait > 0 {
		rc.FetchMaxWait = o.fetchMaxWait
	}
	if o.fetchBackoff > 0 {
		rc.FetchBackoff = o.fetchBackoff
	}
	if o.lagMax > 0 {
		n.changer = &fakeChanger{proposals: make(chan isrProposalMsg, 64)}
		rc.ISRChanger = n.changer
		rc.LagTimeMax = o.lagMax
	}
	m, err := NewManager(Config{NodeID: id, DataDir: t.TempDir(), Replication: rc})
	if err != nil {
		t.Fatal(err)
	}
	n.m = m
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close manager %d: %v", id, err)
		}
	})
	s := testSettings()
	if o.settings != nil {
		s = *o.settings
	}
	if _, err := m.OpenTopicID(replTopic, 0, replTopicID, s); err != nil {
		t.Fatal(err)
	}
	n.addr = serveLeader(t, m)
	return n
}

// part is the node's replica of replTopic/0.
func (n *replNode) part() *Partition { return n.m.Get(replTopic, 0) }

func (n *replNode) lead(t testing.TB, epoch int32, isr ...int32) {
	t.Helper()
	if err := n.m.BecomeLeader(replTopic, 0, epoch, isr); err != nil {
		t.Fatal(err)
	}
}

func (n *replNode) follow(t testing.TB, leader *replNode, epoch int32) {
	t.Helper()
	if err := n.m.BecomeFollower(replTopic, 0, leader.id, leader.addr, epoch); err != nil {
		t.Fatal(err)
	}
}

// logBytes is every batch of p's log from its start, as stored.
func logBytes(t *testing.T, p *Partition) []byte {
	t.Helper()
	var out []byte
	err := p.log.ScanBatches(p.LogStartOffset(), func(_ storage.BatchHeader, raw []byte) error {
		out = append(out, raw...)
		return nil
	})
	if err != nil {
		t.Fatalf("scan %s-%d: %v", p.Topic, p.Index, err)
	}
	return out
}

// waitSameLog waits until follower's log end and high watermark reach
// leader's, then checks the logs are byte-identical.
func waitSameLog(t *testing.T, leader, follower *Partition) {
	t.Helper()
	waitFor(t, "follower to catch up", func() bool {
		return follower.LogEndOffset() == leader.LogEndOffset() &&
			follower.HighWatermark() == leader.HighWatermark() &&
			leader.HighWatermark() == leader.LogEndOffset()
	})
	lb, fb := logBytes(t, leader), logBytes(t, follower)
	if !bytes.Equal(lb, fb) {
		t.Fatalf("logs differ: leader %d bytes, follower %d bytes\nleader:   %v\nfollower: %v",
			len(lb), len(fb), batchSummary(t, lb), batchSummary(t, fb))
	}
	if ls, fs := leader.LogStartOffset(), follower.LogStartOffset(); ls != fs {
		t.Fatalf("log start offsets differ: leader %d, follower %d", ls, fs)
	}
}

// batchSummary lists (base offset, epoch, values) per batch, for failures.
func batchSummary(t *testing.T, b []byte) []string {
	t.Helper()
	hs, err := storage.ParseBatches(b, 0)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	pos := 0
	for _, h := range hs {
		out = append(out, fmt.Sprintf("@%d e%d %v", h.BaseOffset, h.PartitionLeaderEpoch, values(decode(t, b[pos:pos+h.Size()]))))
		pos += h.Size()
	}
	return out
}

// fakeChanger stands in for the controller: it hands each proposal to the
// test, which decides what metadata to deliver.
type fakeChanger struct {
	proposals chan isrProposalMsg
	reject    atomic.Bool
	rejected  atomic.Int64
}

type isrProposalMsg struct {
	topic     string
	partition int32
	epoch     int32
	isr       []int32
}

func (c *fakeChanger) ChangeISR(ctx context.Context, topic string, partition int32, leaderEpoch int32, newISR []int32) error {
	if c.reject.Load() {
		c.rejected.Add(1)
		return errors.New("fake controller: rejected")
	}
	select {
	case c.proposals <- isrProposalMsg{topic, partition, leaderEpoch, slices.Clone(newISR)}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// awaitProposal waits for a proposal of want (skipping others).
func (c *fakeChanger) awaitProposal(t *testing.T, epoch int32, want ...int32) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	var seen []isrProposalMsg
	for {
		select {
		case p := <-c.proposals:
			if p.topic == replTopic && p.partition == 0 && p.epoch == epoch && slices.Equal(p.isr, want) {
				return
			}
			seen = append(seen, p)
		case <-deadline:
			t.Fatalf("no ISR proposal %v at epoch %d; saw %+v", want, epoch, seen)
		}
	}
}

// serveLeader starts a wire.Server answering replica Fetch and
// OffsetForLeaderEpoch from m, shaped like internal/server's handlers, and
// returns its address.
func serveLeader(t testing.TB, m *Manager) string {
	t.Helper()
	addr, _ := startLeaderServer(t, m)
	return addr
}

// startLeaderServer is serveLeader that also returns a function that stops
// the server (closing its listener and connections, as a killed broker's
// are); the test's end stops it too.
func startLeaderServer(t testing.TB, m *Manager) (addr string, stop func()) {
	t.Helper()
	srv := wire.NewServer(wire.Config{Handler: wire.HandlerFunc(func(ctx context.Context, req *wire.Request) (kmsg.Response, error) {
		switch r := req.Body.(type) {
		case *kmsg.FetchRequest:
			return leaderFetch(ctx, m, r), nil
		case *kmsg.OffsetForLeaderEpochRequest:
			return leaderOffsetForEpoch(m, r), nil
		}
		return nil, fmt.Errorf("test leader: unexpected %s", kmsg.NameForKey(req.Key))
	})})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			srv.Close()
			wg.Wait()
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// leaderPart is the partition if m leads it at the request's epoch.
func leaderPart(m *Manager, topic string, partition, currentEpoch int32) (*Partition, error) {
	p := m.Get(topic, partition)
	if p == nil {
		return nil, kerr.UnknownTopicOrPartition
	}
	if currentEpoch >= 0 {
		switch cur := p.LeaderEpoch(); {
		case currentEpoch < cur:
			return nil, kerr.FencedLeaderEpoch
		case currentEpoch > cur:
			return nil, kerr.UnknownLeaderEpoch
		}
	}
	if !p.IsLeader() {
		return nil, kerr.NotLeaderForPartition
	}
	return p, nil
}

func leaderOffsetForEpoch(m *Manager, r *kmsg.OffsetForLeaderEpochRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, t := range r.Topics {
		rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
		rt.Topic = t.Topic
		for _, rp := range t.Partitions {
			ap := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			ap.Partition = rp.Partition
			ap.LeaderEpoch, ap.EndOffset = -1, -1
			p, err := leaderPart(m, t.Topic, rp.Partition, rp.CurrentLeaderEpoch)
			if err != nil {
				ap.ErrorCode = err.(*kerr.Error).Code
			} else {
				ap.LeaderEpoch, ap.EndOffset = p.EndOffsetForEpoch(rp.LeaderEpoch)
			}
			rt.Partitions = append(rt.Partitions, ap)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// behindHW and noteHWSent are the server's followerBehindHW and noteHWSent.
func behindHW(m *Manager, resp *kmsg.FetchResponse, id int32) bool {
	for _, t := range resp.Topics {
		for _, fp := range t.Partitions {
			if p := m.Get(t.Topic, fp.Partition); fp.ErrorCode == 0 && p != nil && p.FollowerBehindHW(id) {
				return true
			}
		}
	}
	return false
}

func noteHWSent(m *Manager, resp *kmsg.FetchResponse, id int32) {
	for _, t := range resp.Topics {
		for _, fp := range t.Partitions {
			if p := m.Get(t.Topic, fp.Partition); fp.ErrorCode == 0 && p != nil {
				p.NoteHWSent(id, fp.HighWatermark)
			}
		}
	}
}

func leaderFetch(ctx context.Context, m *Manager, r *kmsg.FetchRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	if id := fetchReplicaID(r); id >= 0 {
		defer noteHWSent(m, resp, id)
	}
	deadline := time.Now().Add(time.Duration(r.MaxWaitMillis) * time.Millisecond)
	for {
		changed := m.Changed()
		if fetchReplicaID(r) >= 0 {
			changed = m.ReplicaChanged()
		}
		total, anyErr := fillLeaderFetch(m, r, resp)
		wait := time.Until(deadline)
		if total >= int(r.MinBytes) || anyErr || wait <= 0 {
			return resp
		}
		if id := fetchReplicaID(r); id >= 0 && behindHW(m, resp, id) {
			return resp // as the server's Fetch
		}
		tm := time.NewTimer(wait)
		select {
		case <-changed:
		case <-tm.C:
		case <-ctx.Done():
		}
		tm.Stop()
		if ctx.Err() != nil {
			return resp
		}
	}
}

// fetchReplicaID is the replica a Fetch claims to come from (-1: a consumer).
func fetchReplicaID(r *kmsg.FetchRequest) int32 {
	if r.Version >= 15 {
		return r.ReplicaState.ID
	}
	return r.ReplicaID
}

func fillLeaderFetch(m *Manager, r *kmsg.FetchRequest, resp *kmsg.FetchResponse) (int, bool) {
	resp.Topics = resp.Topics[:0]
	total, anyErr := 0, false
	replicaID := fetchReplicaID(r)
	for _, t := range r.Topics {
		ft := kmsg.NewFetchResponseTopic()
		ft.Topic, ft.TopicID = t.Topic, t.TopicID
		if r.Version >= 13 {
			ft.Topic = ""
			if t.TopicID == replTopicID {
				ft.Topic = replTopic
			}
		}
		for _, rp := range t.Partitions {
			fp := kmsg.NewFetchResponseTopicPartition()
			fp.Partition = rp.Partition
			fp.HighWatermark, fp.LastStableOffset, fp.LogStartOffset = -1, -1, -1
			fp.RecordBatches = []byte{}
			p, err := leaderPart(m, ft.Topic, rp.Partition, rp.CurrentLeaderEpoch)
			if err == nil && replicaID >= 0 && (r.Version < 15 || r.ReplicaState.Epoch != testBrokerEpoch(replicaID)) {
				err = kerr.NotLeaderForPartition // internal/server's checkFollower
			}
			if err == nil {
				limit := max(min(int(rp.PartitionMaxBytes), int(r.MaxBytes)-total), 1)
				var res FetchResult
				res, err = p.Fetch(rp.FetchOffset, limit, replicaID >= 0)
				fp.HighWatermark, fp.LastStableOffset, fp.LogStartOffset = res.HighWatermark, res.LastStable, res.LogStartOffset
				if errors.Is(err, storage.ErrOffsetOutOfRange) {
					err = kerr.OffsetOutOfRange
				} else if err == nil {
					fp.RecordBatches = res.Records
					if replicaID >= 0 {
						p.RecordFollowerFetch(replicaID, rp.FetchOffset, time.Now())
						// The response reports the high watermark as of
						// after this fetch, as Kafka does.
						fp.HighWatermark = p.HighWatermark()
					}
				}
			}
			if err != nil {
				var ke *kerr.Error
				if !errors.As(err, &ke) {
					ke = kerr.UnknownServerError
				}
				fp.ErrorCode = ke.Code
				anyErr = true
			}
			total += len(fp.RecordBatches)
			ft.Partitions = append(ft.Partitions, fp)
		}
		resp.Topics = append(resp.Topics, ft)
	}
	return total, anyErr
}
