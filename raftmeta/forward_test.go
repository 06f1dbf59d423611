package raftmeta

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// startCluster3 forms a three-voter cluster the way the server does
// (BootstrapExpect, TryBootstrap) and waits until every node has a
// caught-up controller. It returns the nodes and the controller.
func startCluster3(t testing.TB) ([]*Node, *Node) {
	t.Helper()
	return startCluster3With(t, func(*Config) {})
}

// startCluster3With is startCluster3 with each node's config changed by mod.
func startCluster3With(t testing.TB, mod func(*Config)) ([]*Node, *Node) {
	t.Helper()
	var nodes []*Node
	for id := int32(1); id <= 3; id++ {
		cfg := expectConfig(t, id, t.TempDir(), "127.0.0.1:0")
		mod(&cfg)
		nodes = append(nodes, openNode(t, cfg))
	}
	if ok, err := nodes[0].TryBootstrap(peerList(nodes...)); !ok || err != nil {
		t.Fatalf("TryBootstrap = %v, %v", ok, err)
	}
	leader := waitLeader(t, nodes)
	var want []RaftServer
	for _, n := range nodes {
		want = append(want, RaftServer{NodeID: n.cfg.NodeID, RaftAddr: n.RaftAddr(), Voter: true})
	}
	waitRaftServers(t, nodes, want)
	for _, n := range nodes {
		waitController(t, n)
	}
	return nodes, leader
}

// followersOf returns the nodes that are not leader.
func followersOf(nodes []*Node, leader *Node) []*Node {
	return slices.DeleteFunc(slices.Clone(nodes), func(n *Node) bool { return n == leader })
}

// registerBrokers registers ids through n.
func registerBrokers(t *testing.T, n *Node, ids ...int32) {
	t.Helper()
	for _, id := range ids {
		if err := n.RegisterBroker(ctxT(t), Broker{ID: id, Rack: fmt.Sprint("r", id)}); err != nil {
			t.Fatalf("RegisterBroker(%d) via node %d: %v", id, n.cfg.NodeID, err)
		}
	}
}

// TestClusterForwardWrites calls every forwardable write on followers: each
// succeeds, and the follower's own State shows the change as soon as the
// call returns (read your writes), without polling.
func TestClusterForwardWrites(t *testing.T) {
	nodes, leader := startCluster3(t)
	fs := followersOf(nodes, leader)
	f1, f2 := fs[0], fs[1]
	ctx := ctxT(t)

	registerBrokers(t, f1, 1, 2, 3)
	if b, ok := f1.State().Broker(3); !ok || b.Rack != "r3" {
		t.Fatalf("follower state after RegisterBroker: %+v, %v", b, ok)
	}

	top, err := f1.CreateTopic(ctx, TopicSpec{Name: "orders", Partitions: 3, ReplicationFactor: 3,
		Configs: map[string]string{"cleanup.policy": "compact"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	got := f1.State().Topics["orders"]
	if got == nil || got.ID != top.ID || len(got.Partitions) != 3 || got.Configs["cleanup.policy"] != "compact" ||
		top.ID == [16]byte{} || len(top.Partitions) != 3 {
		t.Fatalf("created %+v, follower state has %+v", top, got)
	}

	v := "delete"
	if err := f2.AlterTopicConfigs(ctx, "orders", []ConfigOp{{Key: "cleanup.policy", Value: &v}, {Key: "retention.ms", Value: new("1000")}}); err != nil {
		t.Fatal(err)
	}
	if c := f2.State().Topics["orders"].Configs; c["cleanup.policy"] != "delete" || c["retention.ms"] != "1000" {
		t.Fatalf("follower configs after AlterTopicConfigs: %v", c)
	}
	if err := f2.AlterTopicConfigs(ctx, "orders", []ConfigOp{{Key: "retention.ms"}}); err != nil {
		t.Fatal(err)
	}
	if c := f2.State().Topics["orders"].Configs; len(c) != 1 {
		t.Fatalf("follower configs after delete op: %v", c)
	}

	first, err := f1.AllocateProducerIDs(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if next := f1.State().NextProducerID; next < first+100 {
		t.Fatalf("NextProducerID %d after allocating [%d, %d)", next, first, first+100)
	}

	p0 := f2.State().Topics["orders"].Partitions[0]
	newISR := slices.DeleteFunc(slices.Clone(p0.ISR), func(id int32) bool { return id != p0.Leader })
	p, err := f2.AlterPartition(ctx, PartitionChange{Topic: "orders", Partition: 0, Leader: p0.Leader,
		ISR: newISR, PartitionEpoch: p0.PartitionEpoch})
	if err != nil {
		t.Fatal(err)
	}
	if p.PartitionEpoch != p0.PartitionEpoch+1 || !slices.Equal(p.ISR, newISR) {
		t.Fatalf("AlterPartition = %+v", p)
	}
	if sp := f2.State().Topics["orders"].Partitions[0]; !slices.Equal(sp.ISR, newISR) || sp.PartitionEpoch != p.PartitionEpoch {
		t.Fatalf("follower partition after AlterPartition: %+v", sp)
	}

	if err := f1.CreatePartitions(ctx, "orders", 5, nil, false); err != nil {
		t.Fatal(err)
	}
	if n := len(f1.State().Topics["orders"].Partitions); n != 5 {
		t.Fatalf("follower sees %d partitions after CreatePartitions", n)
	}

	if err := f2.DeleteTopic(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	if f2.State().Topics["orders"] != nil {
		t.Fatal("follower still sees the deleted topic")
	}
	waitSameState(t, nodes)
}

// TestClusterForwardSentinelErrors: errors decided on the controller come
// back to the follower as the same sentinel, with the controller's message.
func TestClusterForwardSentinelErrors(t *testing.T) {
	nodes, leader := startCluster3(t)
	f := followersOf(nodes, leader)[0]
	ctx := ctxT(t)
	registerBrokers(t, f, 1, 2, 3)
	if _, err := f.CreateTopic(ctx, TopicSpec{Name: "t", Partitions: 2, ReplicationFactor: 2}, false); err != nil {
		t.Fatal(err)
	}
	p0 := f.State().Topics["t"].Partitions[0]
	if _, err := f.AlterPartition(ctx, PartitionChange{Topic: "t", Partition: 0, Leader: p0.Leader,
		ISR: p0.ISR, PartitionEpoch: p0.PartitionEpoch}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		want error
		call func(n *Node) error
	}{
		{"topic exists", ErrTopicExists, func(n *Node) error {
			_, err := n.CreateTopic(ctx, TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 1}, false)
			return err
		}},
		{"delete unknown topic", ErrUnknownTopic, func(n *Node) error { return n.DeleteTopic(ctx, "nope") }},
		{"alter configs of unknown topic", ErrUnknownTopic, func(n *Node) error {
			return n.AlterTopicConfigs(ctx, "nope", nil)
		}},
		{"shrink partitions", ErrInvalidPartitions, func(n *Node) error {
			return n.CreatePartitions(ctx, "t", 1, nil, false)
		}},
		{"empty assignment is not nil", ErrInvalidReplicaAssignment, func(n *Node) error {
			return n.CreatePartitions(ctx, "t", 3, [][]int32{}, false)
		}},
		{"replication factor", ErrInvalidReplicationFactor, func(n *Node) error {
			_, err := n.CreateTopic(ctx, TopicSpec{Name: "u", Partitions: 1, ReplicationFactor: 4}, false)
			return err
		}},
		{"empty name", ErrInvalidTopicName, func(n *Node) error {
			_, err := n.CreateTopic(ctx, TopicSpec{Partitions: 1, ReplicationFactor: 1}, false)
			return err
		}},
		{"stale partition epoch", ErrStalePartitionEpoch, func(n *Node) error {
			_, err := n.AlterPartition(ctx, PartitionChange{Topic: "t", Partition: 0, Leader: p0.Leader,
				ISR: p0.ISR, PartitionEpoch: p0.PartitionEpoch})
			return err
		}},
		{"unknown partition", ErrUnknownPartition, func(n *Node) error {
			_, err := n.AlterPartition(ctx, PartitionChange{Topic: "t", Partition: 9, Leader: -1})
			return err
		}},
		{"leader outside ISR", ErrInvalidPartitionState, func(n *Node) error {
			_, err := n.AlterPartition(ctx, PartitionChange{Topic: "t", Partition: 1, Leader: 42,
				ISR: []int32{}, PartitionEpoch: 0})
			return err
		}},
		{"producer id count", ErrInvalidProducerIDCount, func(n *Node) error {
			_, err := n.AllocateProducerIDs(ctx, 0)
			return err
		}},
		{"negative broker id", ErrInvalidBroker, func(n *Node) error { return n.RegisterBroker(ctx, Broker{ID: -1}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(f)
			if !errors.Is(err, tt.want) || errors.Is(err, ErrNotController) {
				t.Fatalf("forwarded error = %v, want %v", err, tt.want)
			}
			local := tt.call(leader)
			if !errors.Is(local, tt.want) || local.Error() != err.Error() {
				t.Fatalf("forwarded error %q, on the controller %q", err, local)
			}
		})
	}
}

// TestClusterForwardValidateOnly: validateOnly from a follower checks on the
// controller and returns the would-be result, but appends nothing to the log.
func TestClusterForwardValidateOnly(t *testing.T) {
	nodes, leader := startCluster3(t)
	f := followersOf(nodes, leader)[1]
	ctx := ctxT(t)
	registerBrokers(t, f, 1, 2, 3)
	if _, err := f.CreateTopic(ctx, TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 3}, false); err != nil {
		t.Fatal(err)
	}
	waitSameState(t, nodes)
	last, index := leader.raft.LastIndex(), leader.State().Index

	top, err := f.CreateTopic(ctx, TopicSpec{Name: "v", Partitions: 4, ReplicationFactor: 2}, true)
	if err != nil || top == nil || top.Name != "v" || len(top.Partitions) != 4 || len(top.Partitions[0].Replicas) != 2 {
		t.Fatalf("validateOnly CreateTopic = %+v, %v", top, err)
	}
	if err := f.CreatePartitions(ctx, "t", 3, nil, true); err != nil {
		t.Fatalf("validateOnly CreatePartitions = %v", err)
	}
	if _, err := f.CreateTopic(ctx, TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 1}, true); !errors.Is(err, ErrTopicExists) {
		t.Fatalf("validateOnly of an existing topic = %v", err)
	}
	if got := leader.raft.LastIndex(); got != last {
		t.Fatalf("controller log grew from %d to %d on validateOnly", last, got)
	}
	for _, n := range nodes {
		s := n.State()
		if s.Index != index || s.Topics["v"] != nil || len(s.Topics["t"].Partitions) != 1 {
			t.Fatalf("node %d state changed by validateOnly: index %d (want %d), topics %v", n.cfg.NodeID, s.Index, index, s.Topics)
		}
	}
}

// idBlock is one allocated producer id range [first, first+count).
type idBlock struct{ first, count int64 }

// checkDisjoint fails if any two blocks overlap.
func checkDisjoint(t *testing.T, blocks []idBlock) {
	t.Helper()
	slices.SortFunc(blocks, func(a, b idBlock) int { return int(a.first - b.first) })
	for i := 1; i < len(blocks); i++ {
		if prev := blocks[i-1]; prev.first+prev.count > blocks[i].first {
			t.Fatalf("producer id blocks overlap: %+v and %+v", prev, blocks[i])
		}
	}
}

// TestClusterForwardProducerIDsConcurrent allocates producer id blocks
// concurrently through all three nodes: no two blocks overlap and together
// they account for every id handed out.
func TestClusterForwardProducerIDsConcurrent(t *testing.T) {
	nodes, _ := startCluster3(t)
	ctx := ctxT(t)
	var (
		mu     sync.Mutex
		blocks []idBlock
		wg     sync.WaitGroup
	)
	for _, n := range nodes {
		for g := range 4 {
			wg.Go(func() {
				for i := range 15 {
					count := int64(1 + (g+i)%7)
					first, err := n.AllocateProducerIDs(ctx, count)
					if err != nil {
						t.Errorf("node %d AllocateProducerIDs: %v", n.cfg.NodeID, err)
						return
					}
					if next := n.State().NextProducerID; next < first+count {
						t.Errorf("node %d: NextProducerID %d after block [%d,%d)", n.cfg.NodeID, next, first, first+count)
					}
					mu.Lock()
					blocks = append(blocks, idBlock{first, count})
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	checkDisjoint(t, blocks)
	var total int64
	for _, b := range blocks {
		total += b.count
	}
	waitSameState(t, nodes)
	// Every id handed out is below NextProducerID. More may have been used
	// up: a forwarded call whose answer was lost (a connection reset, a
	// controller election on a loaded machine) is retried, and the retry
	// allocates a fresh block (the package doc's "Ambiguity"); the blocks
	// the callers got are still disjoint, which is what matters.
	next := nodes[0].State().NextProducerID
	if next < total {
		t.Fatalf("NextProducerID %d, but %d ids were allocated in %d blocks", next, total, len(blocks))
	}
	if next > total {
		t.Logf("%d ids wasted by retried forwards (NextProducerID %d, allocated %d)", next-total, next, total)
	}
}

// TestClusterForwardControllerFailover kills the controller while followers
// stream forwarded writes. Every call returns (success or error) by its
// ctx, successful producer id blocks never overlap, and once a new
// controller is elected forwarded writes succeed again on every survivor.
func TestClusterForwardControllerFailover(t *testing.T) {
	nodes, leader := startCluster3(t)
	registerBrokers(t, leader, 1, 2, 3)
	survivors := followersOf(nodes, leader)

	const callTimeout = 2 * time.Second
	var (
		mu        sync.Mutex
		blocks    []idBlock
		failures  []error
		killed    atomic.Bool
		okAfter   [2]atomic.Int64 // successes per survivor after the kill
		stop      = make(chan struct{})
		wg        sync.WaitGroup
		hangLimit = callTimeout + 10*time.Second // far past ctx: only a hang trips it
	)
	for i, n := range survivors {
		for g := range 2 {
			wg.Go(func() {
				for k := 0; ; k++ {
					select {
					case <-stop:
						return
					default:
					}
					ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
					start := time.Now()
					var err error
					if g == 0 {
						var first int64
						if first, err = n.AllocateProducerIDs(ctx, 5); err == nil {
							mu.Lock()
							blocks = append(blocks, idBlock{first, 5})
							mu.Unlock()
						}
					} else {
						err = n.RegisterBroker(ctx, Broker{ID: 10 + int32(i), Rack: fmt.Sprint(k)})
					}
					cancel()
					if d := time.Since(start); d > hangLimit {
						t.Errorf("node %d: call took %v with a %v ctx", n.cfg.NodeID, d, callTimeout)
					}
					if err != nil {
						mu.Lock()
						failures = append(failures, err)
						mu.Unlock()
					} else if killed.Load() {
						okAfter[i].Add(1)
					}
				}
			})
		}
	}
	// Let the writers run against the old controller, then kill it.
	checkFor(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(blocks) < 10 {
			return fmt.Errorf("%d blocks so far", len(blocks))
		}
		return nil
	})
	killed.Store(true)
	if err := leader.Close(); err != nil {
		t.Fatal(err)
	}
	newLeader := waitLeader(t, survivors)
	checkFor(t, 20*time.Second, func() error {
		for i := range okAfter {
			if okAfter[i].Load() < 3 {
				return fmt.Errorf("survivor %d: %d successful writes since the kill", survivors[i].cfg.NodeID, okAfter[i].Load())
			}
		}
		return nil
	})
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	checkDisjoint(t, blocks)
	for _, err := range failures {
		// Whatever failed, failed for a reason the server can act on.
		if !errors.Is(err, ErrNotController) && !errors.Is(err, ErrNoController) &&
			!errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("unexpected failure during failover: %v", err)
		}
	}
	t.Logf("failover: %d blocks allocated, %d failed calls, new controller %d", len(blocks), len(failures), newLeader.cfg.NodeID)
	for _, n := range survivors {
		if _, err := n.CreateTopic(ctxT(t), TopicSpec{Name: fmt.Sprint("after-", n.cfg.NodeID), Partitions: 1, ReplicationFactor: 2}, false); err != nil {
			t.Fatalf("node %d write after failover: %v", n.cfg.NodeID, err)
		}
	}
	waitSameState(t, survivors)
}

// TestClusterForwardBadFrames: garbage on a forward connection closes that
// connection only; other forward connections, a silent connection, and raft
// itself carry on.
func TestClusterForwardBadFrames(t *testing.T) {
	nodes, leader := startCluster3(t)
	registerBrokers(t, leader, 1, 2, 3)
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", leader.RaftAddr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(20 * time.Second)) // a hang fails, not blocks
		return c
	}
	request := func(method string, args any) []byte {
		raw, err := json.Marshal(args)
		if err != nil {
			t.Fatal(err)
		}
		body, err := json.Marshal(forwardRequest{Method: method, Args: raw, TimeoutMS: 5000})
		if err != nil {
			t.Fatal(err)
		}
		out, err := appendFrame(nil, body)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	roundTrip := func(c net.Conn, r *bufio.Reader, frame []byte) forwardResponse {
		t.Helper()
		if _, err := c.Write(frame); err != nil {
			t.Fatal(err)
		}
		body, err := readFrame(r)
		if err != nil {
			t.Fatalf("reading response: %v", err)
		}
		var resp forwardResponse
		if err := json.Unmarshal(body, &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	expectClosed := func(name string, c net.Conn) {
		t.Helper()
		if n, err := io.Copy(io.Discard, c); err != nil || n != 0 {
			t.Fatalf("%s: connection not closed cleanly: read %d bytes, %v", name, n, err)
		}
	}

	silent := dial() // never sends a byte: must not stall anything
	_ = silent

	good := dial()
	goodR := bufio.NewReader(good)
	if _, err := good.Write([]byte{forwardConnByte}); err != nil {
		t.Fatal(err)
	}
	resp := roundTrip(good, goodR, request("AllocateProducerIDs", allocateProducerIDsArgs{Count: 3}))
	if resp.Code != "" || resp.Index == 0 {
		t.Fatalf("good request: %+v", resp)
	}
	// An unknown method is an error answer, not a protocol violation.
	resp = roundTrip(good, goodR, request("Frobnicate", struct{}{}))
	if resp.Code != codeUnknown || !strings.Contains(resp.Msg, "Frobnicate") {
		t.Fatalf("unknown method: %+v", resp)
	}
	// Arguments that do not decode: an error answer too.
	resp = roundTrip(good, goodR, request("AllocateProducerIDs", "three"))
	if resp.Code != codeUnknown {
		t.Fatalf("bad arguments: %+v", resp)
	}

	hdr := func(n uint32) []byte { return binary.BigEndian.AppendUint32([]byte{forwardConnByte}, n) }
	for name, payload := range map[string][]byte{
		"oversized length": hdr(0xFFFFFFFF),
		"just over max":    hdr(maxForwardFrame + 1),
		"zero length":      hdr(0),
		"not JSON":         append(hdr(5), "hello"...),
		"truncated body":   append(hdr(100), `{"m":`...),
	} {
		c := dial()
		if _, err := c.Write(payload); err != nil {
			t.Fatal(err)
		}
		if name == "truncated body" {
			c.(*net.TCPConn).CloseWrite()
		}
		expectClosed(name, c)
	}

	// The good connection, and forwarding from followers, still work.
	resp = roundTrip(good, goodR, request("AllocateProducerIDs", allocateProducerIDsArgs{Count: 3}))
	if resp.Code != "" {
		t.Fatalf("good connection after garbage elsewhere: %+v", resp)
	}
	for _, f := range followersOf(nodes, leader) {
		if _, err := f.AllocateProducerIDs(ctxT(t), 1); err != nil {
			t.Fatalf("forwarding after garbage: %v", err)
		}
	}
	waitSameState(t, nodes)
}

// TestForwardCloseInterruptsRetry: a write retries while no controller is
// known, and ends with ErrClosed when the node closes, even with no ctx
// deadline.
func TestForwardCloseInterruptsRetry(t *testing.T) {
	cfg := testConfig(t, 1, t.TempDir())
	cfg.BootstrapSelf = false
	n, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := n.RegisterBroker(ctx, Broker{ID: 1}); !errors.Is(err, ErrNotController) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("write without controller = %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- n.RegisterBroker(context.Background(), Broker{ID: 1}) }()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("write on a closing node = %v, want ErrClosed", err)
	}
}

// TestForwardErrorTable: every exported sentinel of errors.go has a wire
// code, codes are unique, and each error survives the round trip as the same
// sentinel with the same message.
func TestForwardErrorTable(t *testing.T) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var sentinels []string
	ast.Inspect(file, func(node ast.Node) bool {
		if vs, ok := node.(*ast.ValueSpec); ok {
			for _, name := range vs.Names {
				if name.IsExported() && strings.HasPrefix(name.Name, "Err") {
					sentinels = append(sentinels, name.Name)
				}
			}
		}
		return true
	})
	byName := map[string]error{
		"ErrTopicExists": ErrTopicExists, "ErrUnknownTopic": ErrUnknownTopic,
		"ErrInvalidPartitions": ErrInvalidPartitions, "ErrInvalidReplicationFactor": ErrInvalidReplicationFactor,
		"ErrInvalidReplicaAssignment": ErrInvalidReplicaAssignment, "ErrNotController": ErrNotController,
		"ErrNoController": ErrNoController, "ErrUnknownCommand": ErrUnknownCommand, "ErrClosed": ErrClosed,
		"ErrInvalidTopicName": ErrInvalidTopicName, "ErrInvalidConfig": ErrInvalidConfig,
		"ErrInvalidBroker": ErrInvalidBroker, "ErrInvalidProducerIDCount": ErrInvalidProducerIDCount,
		"ErrUnknownPartition": ErrUnknownPartition, "ErrInvalidPartitionState": ErrInvalidPartitionState,
		"ErrStalePartitionEpoch": ErrStalePartitionEpoch, "ErrCorruptCommand": ErrCorruptCommand,
		"ErrInvalidPeer":              ErrInvalidPeer,
		"ErrInvalidScramCredential":   ErrInvalidScramCredential,
		"ErrInvalidACL":               ErrInvalidACL,
		"ErrNoReassignmentInProgress": ErrNoReassignmentInProgress,
		"ErrReassignmentNotReady":     ErrReassignmentNotReady,
		"ErrBrokerNotRegistered":      ErrBrokerNotRegistered,
		"ErrBrokerAlive":              ErrBrokerAlive,
		"ErrDuplicateVoter":           ErrDuplicateVoter,
		"ErrVoterNotFound":            ErrVoterNotFound,
		"ErrVoterNotReady":            ErrVoterNotReady,
		"ErrNoReplacementVoter":       ErrNoReplacementVoter,
		"ErrStaleFeatures":            ErrStaleFeatures,
	}
	if len(sentinels) < 18 {
		t.Fatalf("found only %d sentinels in errors.go: %v", len(sentinels), sentinels)
	}
	codes := map[string]bool{}
	for _, e := range forwardErrors {
		if codes[e.code] || e.code == "" || e.code == codeUnknown {
			t.Fatalf("bad or duplicate code %q", e.code)
		}
		codes[e.code] = true
	}
	for _, name := range sentinels {
		sentinel, ok := byName[name]
		if !ok {
			t.Fatalf("%s is new in errors.go: add it here and to forwardErrors", name)
		}
		if !slices.ContainsFunc(forwardErrors, func(e struct {
			code string
			err  error
		}) bool {
			return e.err == sentinel
		}) {
			t.Fatalf("%s has no wire code in forwardErrors", name)
		}
		orig := fmt.Errorf("%w: details %d", sentinel, 7)
		got := roundTripError(orig)
		if !errors.Is(got, sentinel) || (got.Error() != orig.Error() && sentinel != ErrNotController) {
			t.Fatalf("%s: round trip gave %v (%T)", name, got, got)
		}
	}

	for _, orig := range []error{&NotControllerError{ControllerID: 3}, &NotControllerError{ControllerID: -1, Err: errors.New("leadership lost")}} {
		got := roundTripError(orig)
		var nce *NotControllerError
		if !errors.As(got, &nce) || nce.ControllerID != orig.(*NotControllerError).ControllerID || got.Error() != orig.Error() {
			t.Fatalf("NotControllerError round trip = %#v (%v), want %v", got, got, orig)
		}
	}
	got := roundTripError(ErrNotController)
	var nce *NotControllerError
	if !errors.As(got, &nce) || nce.ControllerID != -1 {
		t.Fatalf("ErrNotController round trip = %#v", got)
	}
	got = roundTripError(fmt.Errorf("wrapped: %w", context.DeadlineExceeded))
	if !errors.Is(got, context.DeadlineExceeded) {
		t.Fatalf("deadline round trip = %v", got)
	}
	plain := roundTripError(errors.New("disk on fire"))
	if plain.Error() != "disk on fire" || slices.ContainsFunc(forwardErrors, func(e struct {
		code string
		err  error
	}) bool {
		return errors.Is(plain, e.err)
	}) {
		t.Fatalf("unknown error round trip = %v", plain)
	}
}

// roundTripError sends err through the wire encoding and back.
func roundTripError(err error) error {
	var resp forwardResponse
	encodeError(&resp, err)
	js, _ := json.Marshal(&resp)
	var back forwardResponse
	_ = json.Unmarshal(js, &back)
	return decodeError(&back)
}

// FuzzReadFrame: arbitrary bytes never panic the frame reader nor make it
// return a frame longer than the limit or than what was sent.
func FuzzReadFrame(f *testing.F) {
	ok, _ := appendFrame(nil, []byte(`{"m":"AllocateProducerIDs","a":{"Count":1},"t":100}`))
	f.Add(ok)
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF})
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 9, '{'})
	f.Fuzz(func(t *testing.T, data []byte) {
		body, err := readFrame(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		if len(body) == 0 || len(body) > maxForwardFrame || len(body) > len(data)-4 {
			t.Fatalf("frame of %d bytes from %d input bytes", len(body), len(data))
		}
		var req forwardRequest
		_ = json.Unmarshal(body, &req)
	})
}
