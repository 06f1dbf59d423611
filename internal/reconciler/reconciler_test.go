package reconciler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/replica"
	"github.com/strombroker/strom/storage"
)

// fakeMeta publishes states the test sets, like raftmeta's Node.
type fakeMeta struct {
	mu      sync.Mutex
	st      *raftmeta.State
	changed chan struct{}
}

func newFakeMeta() *fakeMeta {
	return &fakeMeta{st: &raftmeta.State{Brokers: map[int32]raftmeta.Broker{}, Topics: map[string]*raftmeta.Topic{}},
		changed: make(chan struct{})}
}

func (m *fakeMeta) State() *raftmeta.State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st
}

func (m *fakeMeta) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

// set publishes the topics (each partition led by leader, replicated on
// broker 1 only) as the next state and returns its index.
func (m *fakeMeta) set(leader int32, topics map[string]int) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := &raftmeta.State{Index: m.st.Index + 1, Brokers: map[int32]raftmeta.Broker{1: {ID: 1}}, Topics: map[string]*raftmeta.Topic{}}
	for name, n := range topics {
		t := &raftmeta.Topic{Name: name}
		for i := range n {
			t.Partitions = append(t.Partitions, raftmeta.Partition{Index: int32(i), Leader: leader,
				LeaderEpoch: int32(st.Index), Replicas: []int32{1}, ISR: []int32{1}})
		}
		st.Topics[name] = t
	}
	m.st = st
	close(m.changed)
	m.changed = make(chan struct{})
	return st.Index
}

// fakeGroups records loads and unloads; a load blocks until release is
// closed or its ctx ends (a long __consumer_offsets replay).
type fakeGroups struct {
	release chan struct{}
	mu      sync.Mutex
	events  []string
}

func (g *fakeGroups) Load(ctx context.Context, idx int32, _ *replica.Partition) error {
	g.record(fmt.Sprintf("load %d", idx))
	select {
	case <-g.release:
		g.record(fmt.Sprintf("loaded %d", idx))
		return nil
	case <-ctx.Done():
		g.record(fmt.Sprintf("cancelled %d", idx))
		return ctx.Err()
	}
}

func (g *fakeGroups) Unload(idx int32) { g.record(fmt.Sprintf("unload %d", idx)) }

func (g *fakeGroups) record(e string) {
	g.mu.Lock()
	g.events = append(g.events, e)
	g.mu.Unlock()
}

func (g *fakeGroups) log() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.events)
}

func newReconciler(t *testing.T, meta *fakeMeta, groups Groups) (*Reconciler, *replica.Manager) {
	t.Helper()
	m, err := replica.NewManager(replica.Config{NodeID: 1, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	r := New(Config{NodeID: 1, Settings: func(*raftmeta.Topic) replica.Settings {
		return replica.Settings{Log: storage.DefaultConfig(), MinInsyncReplicas: 1}
	}}, meta, m, groups)
	r.Start()
	t.Cleanup(r.Close)
	return r, m
}

func hosted(m *replica.Manager) []string {
	var out []string
	for _, p := range m.Partitions() {
		out = append(out, fmt.Sprintf("%s-%d", p.Topic, p.Index))
	}
	slices.Sort(out)
	return out
}

func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestReconcilerOpensLeadsAndDrops: after Wait for a state's index, the
// replicas match it: new partitions open and lead, deleted ones are gone.
func TestReconcilerOpensLeadsAndDrops(t *testing.T) {
	meta := newFakeMeta()
	r, m := newReconciler(t, meta, &fakeGroups{release: make(chan struct{})})
	idx := meta.set(1, map[string]int{"a": 2, "b": 1})
	if err := r.Wait(waitCtx(t), idx); err != nil {
		t.Fatal(err)
	}
	if got := hosted(m); !slices.Equal(got, []string{"a-0", "a-1", "b-0"}) {
		t.Fatalf("hosted %v", got)
	}
	for _, p := range m.Partitions() {
		if !p.IsLeader() {
			t.Fatalf("%s-%d does not lead", p.Topic, p.Index)
		}
	}
	idx = meta.set(1, map[string]int{"b": 1})
	if err := r.Wait(waitCtx(t), idx); err != nil {
		t.Fatal(err)
	}
	if got := hosted(m); !slices.Equal(got, []string{"b-0"}) {
		t.Fatalf("after delete: hosted %v", got)
	}
}

// TestReconcilerGroupLoadInBackground: a slow __consumer_offsets replay
// does not hold up Wait (client requests), and losing leadership cancels
// the replay and waits for it before unloading.
func TestReconcilerGroupLoadInBackground(t *testing.T) {
	meta := newFakeMeta()
	groups := &fakeGroups{release: make(chan struct{})}
	r, _ := newReconciler(t, meta, groups)
	idx := meta.set(1, map[string]int{OffsetsTopic: 1})
	if err := r.Wait(waitCtx(t), idx); err != nil {
		t.Fatalf("Wait behind a replay in progress: %v", err)
	}
	idx = meta.set(-1, map[string]int{OffsetsTopic: 1}) // leadership lost: offline
	if err := r.Wait(waitCtx(t), idx); err != nil {
		t.Fatal(err)
	}
	if got, want := groups.log(), []string{"load 0", "cancelled 0", "unload 0"}; !slices.Equal(got, want) {
		t.Fatalf("group events %v, want %v", got, want)
	}
	close(groups.release)
	idx = meta.set(1, map[string]int{OffsetsTopic: 1})
	if err := r.Wait(waitCtx(t), idx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(groups.log(), "loaded 0") {
		if time.Now().After(deadline) {
			t.Fatalf("group events %v: never loaded again", groups.log())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestReconcilerWaitEnds: Wait honours ctx and ends with ErrClosed once the
// reconciler stops.
func TestReconcilerWaitEnds(t *testing.T) {
	meta := newFakeMeta()
	r, _ := newReconciler(t, meta, &fakeGroups{release: make(chan struct{})})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := r.Wait(ctx, 1000); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait for a future index = %v, want deadline exceeded", err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Wait(context.Background(), 1000) }()
	r.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Wait across Close = %v, want ErrClosed", err)
	}
}

// setTopicID publishes a state with one topic of one partition, led by
// broker 1, with the given topic id, and returns its index.
func (m *fakeMeta) setTopicID(name string, id [16]byte) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := &raftmeta.Topic{Name: name, ID: id, Partitions: []raftmeta.Partition{
		{Index: 0, Leader: 1, LeaderEpoch: int32(m.st.Index + 1), Replicas: []int32{1}, ISR: []int32{1}}}}
	m.st = &raftmeta.State{Index: m.st.Index + 1, Brokers: map[int32]raftmeta.Broker{1: {ID: 1}},
		Topics: map[string]*raftmeta.Topic{name: t}, TopicsByID: map[[16]byte]*raftmeta.Topic{id: t}}
	close(m.changed)
	m.changed = make(chan struct{})
	return m.st.Index
}

// TestReconcilerRecreatedTopicGetsFreshReplica: a topic deleted and
// recreated under the same name between two passes (the pass never sees
// it gone) gets a new replica recording the new topic id, not the old log.
func TestReconcilerRecreatedTopicGetsFreshReplica(t *testing.T) {
	meta := newFakeMeta()
	r, m := newReconciler(t, meta, &fakeGroups{release: make(chan struct{})})
	if err := r.Wait(waitCtx(t), meta.setTopicID("a", [16]byte{15: 1})); err != nil {
		t.Fatal(err)
	}
	old := m.Get("a", 0)
	if old == nil {
		t.Fatal("a-0 not hosted")
	}
	if err := r.Wait(waitCtx(t), meta.setTopicID("a", [16]byte{15: 2})); err != nil {
		t.Fatal(err)
	}
	if p := m.Get("a", 0); p == nil || p == old || !p.IsLeader() {
		t.Fatalf("after recreate: hosted %p (old %p)", p, old)
	}
}

// countingReplicas counts BecomeLeader calls per topic on a real Manager.
type countingReplicas struct {
	*replica.Manager
	mu    sync.Mutex
	leads map[string]int
}

func (c *countingReplicas) BecomeLeader(topic string, partition, epoch int32, isr []int32) error {
	c.mu.Lock()
	c.leads[topic]++
	c.mu.Unlock()
	return c.Manager.BecomeLeader(topic, partition, epoch, isr)
}

func (c *countingReplicas) count(topic string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leads[topic]
}

// publish makes next (sharing the *Topic values it did not change, as
// raftmeta's copy-on-write states do) the next state and returns its index.
func (m *fakeMeta) publish(edit func(next *raftmeta.State)) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := &raftmeta.State{Index: m.st.Index + 1, Brokers: maps.Clone(m.st.Brokers), Topics: maps.Clone(m.st.Topics)}
	edit(next)
	m.st = next
	close(m.changed)
	m.changed = make(chan struct{})
	return next.Index
}

func ledTopic(name string, partitions int, epoch int32) *raftmeta.Topic {
	t := &raftmeta.Topic{Name: name}
	for i := range partitions {
		t.Partitions = append(t.Partitions, raftmeta.Partition{Index: int32(i), Leader: 1, LeaderEpoch: epoch, Replicas: []int32{1}, ISR: []int32{1}})
	}
	return t
}

// TestReconcilerAppliesOnlyWhatChanged: a pass applies the topics whose
// metadata changed since the last pass (a new topic, a new leader epoch),
// not every hosted partition again, unless the broker map changed.
func TestReconcilerAppliesOnlyWhatChanged(t *testing.T) {
	meta := newFakeMeta()
	m, err := replica.NewManager(replica.Config{NodeID: 1, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	reps := &countingReplicas{Manager: m, leads: map[string]int{}}
	r := New(Config{NodeID: 1, Settings: func(*raftmeta.Topic) replica.Settings {
		return replica.Settings{Log: storage.DefaultConfig(), MinInsyncReplicas: 1}
	}}, meta, reps, &fakeGroups{release: make(chan struct{})})
	r.Start()
	t.Cleanup(r.Close)
	wait := func(idx uint64) {
		t.Helper()
		if err := r.Wait(waitCtx(t), idx); err != nil {
			t.Fatal(err)
		}
	}

	wait(meta.publish(func(s *raftmeta.State) {
		s.Brokers[1] = raftmeta.Broker{ID: 1}
		s.Topics["a"] = ledTopic("a", 2, 1)
	}))
	if n := reps.count("a"); n != 2 {
		t.Fatalf("a led %d times, want 2 (one per partition)", n)
	}
	for i := range 5 {
		wait(meta.publish(func(s *raftmeta.State) { s.Topics[fmt.Sprint("new-", i)] = ledTopic(fmt.Sprint("new-", i), 1, 1) }))
	}
	if n := reps.count("a"); n != 2 {
		t.Fatalf("a led %d times after 5 other topics were created, want still 2", n)
	}
	if got := len(hosted(m)); got != 7 {
		t.Fatalf("%d replicas hosted, want 7", got)
	}
	wait(meta.publish(func(s *raftmeta.State) { s.Topics["a"] = ledTopic("a", 2, 2) }))
	if n := reps.count("a"); n != 4 {
		t.Fatalf("a led %d times after its epoch changed, want 4", n)
	}
	if p := m.Get("a", 0); p.LeaderEpoch() != 2 {
		t.Fatalf("a-0 at epoch %d, want 2", p.LeaderEpoch())
	}
	wait(meta.publish(func(s *raftmeta.State) { s.Brokers[2] = raftmeta.Broker{ID: 2} }))
	if n := reps.count("a"); n != 6 {
		t.Fatalf("a led %d times after the broker map changed, want 6 (a full pass)", n)
	}
	wait(meta.publish(func(s *raftmeta.State) { delete(s.Topics, "new-0") }))
	if m.Get("new-0", 0) != nil {
		t.Fatal("new-0 still hosted after its topic was deleted")
	}
}
