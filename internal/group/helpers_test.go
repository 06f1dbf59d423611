package group

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memLog is an in-memory OffsetLog. failWith, if set, fails the next
// appends; gate, if set, blocks Append until it is closed.
type memLog struct {
	mu       sync.Mutex
	batches  [][]byte // each with its base offset rewritten
	bases    []int64
	next     int64
	start    int64
	failWith error
	gate     chan struct{}
	entered  chan struct{} // receives once per Append that reached the gate
	readHold chan struct{} // if set, Read blocks until closed
}

func (l *memLog) Append(ctx context.Context, batch []byte) (int64, error) {
	l.mu.Lock()
	gate, entered := l.gate, l.entered
	l.mu.Unlock()
	if gate != nil {
		if entered != nil {
			entered <- struct{}{}
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failWith != nil {
		return 0, l.failWith
	}
	var b kmsg.RecordBatch
	if err := b.ReadFrom(batch); err != nil {
		return 0, err
	}
	cp := append([]byte(nil), batch...)
	binary.BigEndian.PutUint64(cp[0:8], uint64(l.next))
	base := l.next
	l.batches = append(l.batches, cp)
	l.bases = append(l.bases, base)
	l.next += int64(b.LastOffsetDelta) + 1
	return base, nil
}

func (l *memLog) Read(offset int64, maxBytes int) ([]byte, error) {
	l.mu.Lock()
	hold := l.readHold
	l.mu.Unlock()
	if hold != nil {
		<-hold
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []byte
	for i, b := range l.batches {
		last := l.bases[i] + int64(binary.BigEndian.Uint32(b[23:27])) // lastOffsetDelta
		if last < offset {
			continue
		}
		if len(out) > 0 && len(out)+len(b) > maxBytes {
			break
		}
		out = append(out, b...)
	}
	return out, nil
}

func (l *memLog) LogStartOffset() int64 { l.mu.Lock(); defer l.mu.Unlock(); return l.start }
func (l *memLog) LogEndOffset() int64   { l.mu.Lock(); defer l.mu.Unlock(); return l.next }

// records decodes every record in the log.
func (l *memLog) records(t *testing.T) []decodedRecord {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var all []decodedRecord
	for _, b := range l.batches {
		if _, err := decodeBatches(b, func(r decodedRecord) error { all = append(all, r); return nil }); err != nil {
			t.Fatalf("decode log: %v", err)
		}
	}
	return all
}

func (l *memLog) setFail(err error) { l.mu.Lock(); l.failWith = err; l.mu.Unlock() }

// testConfig has tight bounds for tests: no initial delay, 1ms..1h sessions.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.NumPartitions = 1
	cfg.MinSessionTimeout = time.Millisecond
	cfg.MaxSessionTimeout = time.Hour
	cfg.InitialRebalanceDelay = 0
	return cfg
}

// newTestCoordinator returns a coordinator with partition 0 loaded from log
// (a fresh one if nil), closed at cleanup.
func newTestCoordinator(t *testing.T, cfg Config, log *memLog) (*Coordinator, *memLog) {
	t.Helper()
	if log == nil {
		log = &memLog{}
	}
	c := New(cfg)
	t.Cleanup(c.Close)
	if err := c.LoadPartition(context.Background(), 0, log); err != nil {
		t.Fatalf("LoadPartition: %v", err)
	}
	return c, log
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func consumerMeta(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Topics = topics
	return m.AppendTo(nil)
}

func joinReq(version int16, group, memberID string, session time.Duration, protos ...string) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version = version
	r.Group = group
	r.MemberID = memberID
	r.SessionTimeoutMillis = int32(session / time.Millisecond)
	r.RebalanceTimeoutMillis = int32(session / time.Millisecond)
	r.ProtocolType = consumerProtocolType
	if len(protos) == 0 {
		protos = []string{"range"}
	}
	for _, p := range protos {
		jp := kmsg.NewJoinGroupRequestProtocol()
		jp.Name = p
		jp.Metadata = consumerMeta("t1")
		r.Protocols = append(r.Protocols, jp)
	}
	return r
}

// joinResp is a JoinGroup outcome as the tests inspect it.
type joinResp struct {
	JoinResult
	Err error
}

func doJoin(c *Coordinator, ctx context.Context, req *kmsg.JoinGroupRequest) joinResp {
	r, err := c.JoinGroup(ctx, req)
	return joinResp{r, err}
}

// join runs JoinGroup, repeating once on ErrMemberIDRequired like a client.
func join(t *testing.T, c *Coordinator, req *kmsg.JoinGroupRequest) joinResp {
	t.Helper()
	resp := doJoin(c, context.Background(), req)
	if errors.Is(resp.Err, ErrMemberIDRequired) {
		req.MemberID = resp.MemberID
		resp = doJoin(c, context.Background(), req)
	}
	return resp
}

// syncResp is a SyncGroup outcome as the tests inspect it.
type syncResp struct {
	SyncResult
	Err error
}

func doSync(c *Coordinator, ctx context.Context, req *kmsg.SyncGroupRequest) syncResp {
	r, err := c.SyncGroup(ctx, req)
	return syncResp{r, err}
}

// leaveResp is a LeaveGroup outcome: the request's error and each leaving
// member's.
type leaveResp struct {
	Err     error
	Members []leaveMember
}

type leaveMember struct{ Err error }

func doLeave(c *Coordinator, ctx context.Context, req *kmsg.LeaveGroupRequest) leaveResp {
	errs, err := c.LeaveGroup(ctx, req)
	r := leaveResp{Err: err}
	for _, e := range errs {
		r.Members = append(r.Members, leaveMember{e})
	}
	return r
}

func syncReq(version int16, group, memberID string, gen int32, assign map[string]string) *kmsg.SyncGroupRequest {
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version = version
	r.Group, r.MemberID, r.Generation = group, memberID, gen
	for id, a := range assign {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID, ga.MemberAssignment = id, []byte(a)
		r.GroupAssignment = append(r.GroupAssignment, ga)
	}
	return r
}

func heartbeat(c *Coordinator, version int16, group, memberID string, gen int32, instance *string) error {
	r := kmsg.NewPtrHeartbeatRequest()
	r.Version = version
	r.Group, r.MemberID, r.Generation, r.InstanceID = group, memberID, gen, instance
	return c.Heartbeat(context.Background(), r)
}

func commitReq(version int16, group, memberID string, gen int32, offsets map[string]map[int32]int64) *kmsg.OffsetCommitRequest {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = version
	r.Group, r.MemberID, r.Generation = group, memberID, gen
	for topic, ps := range offsets {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		for p, o := range ps {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = p, o
			md := "md-" + topic
			rp.Metadata = &md
			rt.Partitions = append(rt.Partitions, rp)
		}
		r.Topics = append(r.Topics, rt)
	}
	return r
}

// allCodes fails unless every partition's error is want (nil: success).
func allCodes(t *testing.T, res []PartitionResult, want error) {
	t.Helper()
	for _, r := range res {
		if (want == nil && r.Err != nil) || !errors.Is(r.Err, want) {
			t.Fatalf("commit %s/%d: %v, want %v", r.Topic, r.Partition, r.Err, want)
		}
	}
}

// fetchAll fetches all offsets of a group (null topics).
func fetchAll(t *testing.T, c *Coordinator, group string) map[tp]int64 {
	t.Helper()
	fts, err := c.OffsetFetch(context.Background(), group, nil, false)
	if err != nil {
		t.Fatalf("OffsetFetch: %v", err)
	}
	out := make(map[tp]int64)
	for _, tt := range fts {
		for _, p := range tt.Partitions {
			if p.Err != nil {
				t.Fatalf("OffsetFetch %s/%d: %v", tt.Topic, p.Partition, p.Err)
			}
			out[tp{tt.Topic, p.Partition}] = p.Offset
		}
	}
	return out
}

func describe(t *testing.T, c *Coordinator, group string) GroupDescription {
	t.Helper()
	ds := c.DescribeGroups(context.Background(), []string{group})
	if len(ds) != 1 {
		t.Fatalf("DescribeGroups: %d groups", len(ds))
	}
	return ds[0]
}

var errTest = errors.New("test: append failed")

// stableGroup joins n dynamic members to group one at a time (each new one
// makes the others rejoin) and syncs them; it returns the member ids and the
// final generation.
func stableGroup(t *testing.T, c *Coordinator, group string, n int, session time.Duration) ([]string, int32) {
	t.Helper()
	var ids []string
	var gen int32
	for i := 0; i < n; i++ {
		newCh := make(chan joinResp, 1)
		go func() { newCh <- join(t, c, joinReq(5, group, "", session)) }()
		ch := make(chan joinResp, len(ids))
		if len(ids) > 0 {
			waitFor(t, "rebalance started", func() bool { return describe(t, c, group).State == "PreparingRebalance" })
			for _, id := range ids {
				go func(id string) { ch <- doJoin(c, context.Background(), joinReq(5, group, id, session)) }(id)
			}
		}
		resp := <-newCh
		if resp.Err != nil {
			t.Fatalf("join: code %v", resp.Err)
		}
		for range ids {
			if r := <-ch; r.Err != nil || r.Generation != resp.Generation {
				t.Fatalf("rejoin: code %v gen %d, want gen %d", r.Err, r.Generation, resp.Generation)
			}
		}
		ids = append(ids, resp.MemberID)
		gen = resp.Generation
		syncAll(t, c, group, ids, gen)
	}
	return ids, gen
}

// syncAll sends SyncGroup for every member concurrently; every member sends
// the same assignment ("a-<id>" each), only the leader's counts.
func syncAll(t *testing.T, c *Coordinator, group string, ids []string, gen int32) {
	t.Helper()
	assign := make(map[string]string)
	for _, id := range ids {
		assign[id] = "a-" + id
	}
	var wg sync.WaitGroup
	errs := make(chan string, len(ids))
	for _, id := range ids {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			resp := doSync(c, context.Background(), syncReq(5, group, id, gen, assign))
			if resp.Err != nil || string(resp.MemberAssignment) != "a-"+id {
				errs <- id
			}
		}(id)
	}
	wg.Wait()
	close(errs)
	for id := range errs {
		t.Fatalf("sync of %s failed", id)
	}
}
