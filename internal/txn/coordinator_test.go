package txn

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// memLog is an in-memory Log: whole batches, offsets assigned on append.
type memLog struct {
	mu      sync.Mutex
	batches [][]byte
	next    int64
}

func (l *memLog) Append(_ context.Context, b []byte) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := append([]byte(nil), b...)
	binary.BigEndian.PutUint64(c, uint64(l.next))
	l.batches = append(l.batches, c)
	off := l.next
	l.next += int64(binary.BigEndian.Uint32(c[23:27])) + 1
	return off, nil
}

func (l *memLog) Read(offset int64, _ int) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []byte
	for _, b := range l.batches {
		if int64(binary.BigEndian.Uint64(b)) >= offset {
			out = append(out, b...)
		}
	}
	return out, nil
}

func (l *memLog) LogStartOffset() int64 { return 0 }
func (l *memLog) LogEndOffset() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next
}

// markers records WriteMarkers calls and fails while fail is set.
type markers struct {
	mu    sync.Mutex
	calls []string
	fail  bool
}

func (m *markers) WriteMarkers(_ context.Context, pid int64, epoch int16, commit bool, coordEpoch int32, parts []TP) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("leader unreachable")
	}
	m.calls = append(m.calls, fmt.Sprintf("pid %d epoch %d commit %v coordinator %d %v", pid, epoch, commit, coordEpoch, parts))
	return nil
}

func (m *markers) take() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.calls
	m.calls = nil
	return c
}

func newTestCoordinator(t *testing.T, log *memLog, mk *markers, epoch int32) *Coordinator {
	t.Helper()
	next := int64(100)
	c := New(Config{
		NumPartitions: 1,
		MaxTimeout:    time.Minute,
		AbortInterval: time.Hour, // tests call Tick
		Partition:     func(int32) (Log, int32, bool) { return log, epoch, true },
		AllocateProducerID: func(context.Context) (int64, error) {
			next++
			return next - 1, nil
		},
		OffsetsPartition: func(string) int32 { return 0 },
		Markers:          mk,
	})
	t.Cleanup(c.Close)
	return c
}

func stateOf(t *testing.T, c *Coordinator, id string) kmsg.TransactionState {
	t.Helper()
	_, m, err := c.lookup(context.Background(), id, false)
	if err != nil || m == nil {
		t.Fatalf("lookup %s: %v", id, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

func TestCoordinatorStateMachine(t *testing.T) {
	ctx := context.Background()
	log, mk := &memLog{}, &markers{}
	c := newTestCoordinator(t, log, mk, 5)
	if _, _, err := c.InitProducerID(ctx, "t", 2*time.Minute, -1, -1); !errors.Is(err, ErrInvalidTransactionTimeout) {
		t.Fatalf("timeout above the max: %v", err)
	}
	pid, epoch, err := c.InitProducerID(ctx, "t", time.Second*10, -1, -1)
	if err != nil || pid != 100 || epoch != 0 {
		t.Fatalf("init: %d/%d %v, want 100/0", pid, epoch, err)
	}
	parts := []TP{{"out", 1}, {"out", 0}}
	if err := c.AddPartitions(ctx, "t", pid, epoch, parts); err != nil {
		t.Fatal(err)
	}
	if err := c.AddOffsets(ctx, "t", pid, epoch, "g"); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, c, "t"); s != kmsg.TransactionStateOngoing {
		t.Fatalf("state %v, want Ongoing", s)
	}
	if err := endTxn(c, "t", pid, epoch, true); err != nil {
		t.Fatal(err)
	}
	want := "[pid 100 epoch 0 commit true coordinator 5 [{__consumer_offsets 0} {out 0} {out 1}]]"
	if got := fmt.Sprint(mk.take()); got != want {
		t.Fatalf("markers %s, want %s", got, want)
	}
	if err := endTxn(c, "t", pid, epoch, true); err != nil {
		t.Fatalf("retried commit: %v", err)
	}
	if err := endTxn(c, "t", pid, epoch, false); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("abort after commit: %v", err)
	}

	// A second transaction, then a new instance: it aborts the open
	// transaction at a bumped epoch and gets the epoch after that.
	if err := c.AddPartitions(ctx, "t", pid, epoch, parts[:1]); err != nil {
		t.Fatal(err)
	}
	pid2, epoch2, err := c.InitProducerID(ctx, "t", time.Second*10, -1, -1)
	if err != nil || pid2 != pid || epoch2 != 2 {
		t.Fatalf("second instance: %d/%d %v, want %d/2", pid2, epoch2, err, pid)
	}
	if got := fmt.Sprint(mk.take()); got != "[pid 100 epoch 1 commit false coordinator 5 [{out 1}]]" {
		t.Fatalf("abort markers of the fenced instance: %s", got)
	}
	if err := endTxn(c, "t", pid, epoch, true); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("zombie commit: %v, want ErrProducerFenced", err)
	}
	if err := c.AddPartitions(ctx, "t", 999, epoch2, parts); !errors.Is(err, ErrInvalidProducerIDMapping) {
		t.Fatalf("wrong producer id: %v", err)
	}
}

// TestCoordinatorFinishesPreparedAfterFailover: markers that cannot be
// written leave the transaction prepared; a coordinator that loads the
// log later (a new leader) finishes it.
func TestCoordinatorFinishesPreparedAfterFailover(t *testing.T) {
	ctx := context.Background()
	log, mk := &memLog{}, &markers{fail: true}
	c := newTestCoordinator(t, log, mk, 1)
	pid, epoch, err := c.InitProducerID(ctx, "p", time.Second*10, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddPartitions(ctx, "p", pid, epoch, []TP{{"x", 0}}); err != nil {
		t.Fatal(err)
	}
	if err := endTxn(c, "p", pid, epoch, false); err != nil {
		t.Fatalf("abort with markers failing: %v (the decision is durable)", err)
	}
	if s := stateOf(t, c, "p"); s != kmsg.TransactionStatePrepareAbort {
		t.Fatalf("state %v, want PrepareAbort", s)
	}
	if _, _, err := c.InitProducerID(ctx, "p", time.Second*10, -1, -1); !errors.Is(err, ErrConcurrentTransactions) {
		t.Fatalf("init while markers are pending: %v, want ErrConcurrentTransactions", err)
	}

	mk2 := &markers{}
	c2 := newTestCoordinator(t, log, mk2, 2)
	c2.Tick(ctx)
	if got := fmt.Sprint(mk2.take()); got != "[pid 100 epoch 0 commit false coordinator 2 [{x 0}]]" {
		t.Fatalf("new coordinator's markers: %s", got)
	}
	if s := stateOf(t, c2, "p"); s != kmsg.TransactionStateCompleteAbort {
		t.Fatalf("state %v, want CompleteAbort", s)
	}
}

// TestCoordinatorTimesOutTransactions: an open transaction past its
// timeout is aborted at a bumped epoch by Tick.
func TestCoordinatorTimesOutTransactions(t *testing.T) {
	ctx := context.Background()
	log, mk := &memLog{}, &markers{}
	c := newTestCoordinator(t, log, mk, 1)
	now := time.Unix(1000, 0)
	c.now = func() time.Time { return now }
	pid, epoch, err := c.InitProducerID(ctx, "slow", time.Second, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddPartitions(ctx, "slow", pid, epoch, []TP{{"x", 0}}); err != nil {
		t.Fatal(err)
	}
	c.Tick(ctx)
	if len(mk.take()) != 0 {
		t.Fatal("aborted before its timeout")
	}
	now = now.Add(2 * time.Second)
	c.Tick(ctx)
	if got := fmt.Sprint(mk.take()); got != "[pid 100 epoch 1 commit false coordinator 1 [{x 0}]]" {
		t.Fatalf("timeout abort markers: %s", got)
	}
	if err := endTxn(c, "slow", pid, epoch, true); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("commit after the timeout: %v, want ErrProducerFenced", err)
	}
}

// endTxn is a transaction-version-1 EndTxn.
func endTxn(c *Coordinator, id string, pid int64, epoch int16, commit bool) error {
	_, _, err := c.EndTxn(context.Background(), id, pid, epoch, commit, false)
	return err
}

// TestCoordinatorTransactionVersion2: each EndTxn v5 bumps the epoch and
// answers the next one; a lost answer's retry (one epoch behind) gets the
// same answer; when the epoch runs out the producer moves to a new id.
func TestCoordinatorTransactionVersion2(t *testing.T) {
	ctx := context.Background()
	log, mk := &memLog{}, &markers{}
	c := newTestCoordinator(t, log, mk, 1)
	pid, epoch, err := c.InitProducerID(ctx, "v2", 10*time.Second, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddPartitions(ctx, "v2", pid, epoch, []TP{{"x", 0}}); err != nil {
		t.Fatal(err)
	}
	npid, nepoch, err := c.EndTxn(ctx, "v2", pid, epoch, true, true)
	if err != nil || npid != pid || nepoch != epoch+1 {
		t.Fatalf("EndTxn v5: %d/%d %v, want %d/%d", npid, nepoch, err, pid, epoch+1)
	}
	if got := fmt.Sprint(mk.take()); got != "[pid 100 epoch 1 commit true coordinator 1 [{x 0}]]" {
		t.Fatalf("markers at the bumped epoch: %s", got)
	}
	if rpid, repoch, err := c.EndTxn(ctx, "v2", pid, epoch, true, true); err != nil || rpid != npid || repoch != nepoch {
		t.Fatalf("retried EndTxn: %d/%d %v, want %d/%d", rpid, repoch, err, npid, nepoch)
	}
	if err := c.AddPartitions(ctx, "v2", pid, epoch, []TP{{"x", 0}}); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("a write at the old epoch after EndTxn: %v, want ErrProducerFenced", err)
	}
	// An abort with nothing open after a completed commit (franz-go's
	// GroupTransactSession after a rebalance: under version 2 the client
	// cannot know whether anything was added) bumps the epoch, as Kafka.
	if apid, aepoch, err := c.EndTxn(ctx, "v2", npid, nepoch, false, true); err != nil || apid != npid || aepoch != nepoch+1 {
		t.Fatalf("abort after a completed commit: %d/%d %v, want %d/%d", apid, aepoch, err, npid, nepoch+1)
	}
	if got := fmt.Sprint(mk.take()); got != "[pid 100 epoch 2 commit false coordinator 1 []]" {
		t.Fatalf("markers for an abort with nothing open (none to write): %s", got)
	}
	if _, _, err := c.EndTxn(ctx, "v2", npid, nepoch+1, true, true); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("a commit with nothing open: %v, want ErrInvalidTxnState", err)
	}

	// Near the end of the epochs the producer continues on a new id.
	_, m, _ := c.lookup(ctx, "v2", false)
	m.mu.Lock()
	m.epoch = math.MaxInt16 - 2
	m.mu.Unlock()
	if err := c.AddPartitions(ctx, "v2", pid, math.MaxInt16-2, []TP{{"x", 0}}); err != nil {
		t.Fatal(err)
	}
	npid, nepoch, err = c.EndTxn(ctx, "v2", pid, math.MaxInt16-2, false, true)
	if err != nil || npid == pid || nepoch != 0 {
		t.Fatalf("EndTxn at the last epoch: %d/%d %v, want a new id at epoch 0", npid, nepoch, err)
	}
	if got := fmt.Sprint(mk.take()); got != fmt.Sprintf("[pid 100 epoch %d commit false coordinator 1 [{x 0}]]", math.MaxInt16-1) {
		t.Fatalf("markers of the last transaction on the old id: %s", got)
	}
	if rpid, repoch, err := c.EndTxn(ctx, "v2", pid, math.MaxInt16-1, false, true); err != nil || rpid != npid || repoch != 0 {
		t.Fatalf("retry on the old id: %d/%d %v", rpid, repoch, err)
	}
	// Reloaded, the state (version 2, previous id) survives.
	c2 := newTestCoordinator(t, log, &markers{}, 2)
	if rpid, repoch, err := c2.EndTxn(ctx, "v2", pid, 0, false, true); err != nil || rpid != npid || repoch != 0 {
		t.Fatalf("retry after a reload: %d/%d %v", rpid, repoch, err)
	}
}

// TestCoordinatorExpiresIdleIDs: an id idle past transactional.id.expiration.ms
// with no transaction open is forgotten, also by a coordinator that loads
// the partition later; one with a transaction open is not.
func TestCoordinatorExpiresIdleIDs(t *testing.T) {
	ctx := context.Background()
	log, mk := &memLog{}, &markers{}
	c := newTestCoordinator(t, log, mk, 1)
	now := time.Unix(1000, 0)
	c.now = func() time.Time { return now }
	pid, epoch, err := c.InitProducerID(ctx, "idle", time.Minute, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.InitProducerID(ctx, "busy", time.Minute, -1, -1); err != nil {
		t.Fatal(err)
	}
	bpid, bepoch, _ := c.InitProducerID(ctx, "busy", time.Minute, -1, -1)
	if err := c.AddPartitions(ctx, "busy", bpid, bepoch, []TP{{"x", 0}}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(8 * 24 * time.Hour)
	c.cfg.MaxTimeout = 30 * 24 * time.Hour // keep "busy" from timing out
	_, bm, _ := c.lookup(ctx, "busy", false)
	bm.mu.Lock()
	bm.timeout = int32(0x7fffffff)
	bm.mu.Unlock()
	c.Tick(ctx)
	if _, m, _ := c.lookup(ctx, "idle", false); m != nil {
		t.Fatalf("idle id still known: %+v", m.info())
	}
	if _, m, _ := c.lookup(ctx, "busy", false); m == nil {
		t.Fatal("id with an open transaction expired")
	}
	if err := c.AddPartitions(ctx, "idle", pid, epoch, []TP{{"x", 0}}); !errors.Is(err, ErrInvalidProducerIDMapping) {
		t.Fatalf("expired id: %v, want ErrInvalidProducerIDMapping", err)
	}
	c2 := newTestCoordinator(t, log, &markers{}, 2)
	if _, m, _ := c2.lookup(ctx, "idle", false); m != nil {
		t.Fatal("expired id back after a reload")
	}
}

// TestCoordinatorList filters transactional ids by state, producer id,
// open duration and id pattern.
func TestCoordinatorList(t *testing.T) {
	ctx := context.Background()
	c := newTestCoordinator(t, &memLog{}, &markers{}, 1)
	now := time.Unix(1000, 0)
	c.now = func() time.Time { return now }
	pids := map[string]int64{}
	for _, id := range []string{"app-1", "app-2", "other"} {
		pid, epoch, err := c.InitProducerID(ctx, id, time.Minute, -1, -1)
		if err != nil {
			t.Fatal(err)
		}
		pids[id] = pid
		if id != "app-2" {
			if err := c.AddPartitions(ctx, id, pid, epoch, []TP{{"x", 0}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	now = now.Add(5 * time.Second)
	ids := func(f ListFilter) string {
		var out []string
		for _, i := range c.List(f) {
			out = append(out, i.ID)
		}
		return fmt.Sprint(out)
	}
	for _, tc := range []struct {
		f    ListFilter
		want string
	}{
		{ListFilter{}, "[app-1 app-2 other]"},
		{ListFilter{States: []string{"Ongoing"}}, "[app-1 other]"},
		{ListFilter{States: []string{"Empty"}}, "[app-2]"},
		{ListFilter{ProducerIDs: []int64{pids["other"]}}, "[other]"},
		{ListFilter{IDPattern: "app-.*"}, "[app-1 app-2]"},
		{ListFilter{IDPattern: "app"}, "[]"},
		{ListFilter{MinDuration: 4 * time.Second}, "[app-1 other]"},
		{ListFilter{MinDuration: time.Minute}, "[]"},
	} {
		if got := ids(tc.f); got != tc.want {
			t.Errorf("List(%+v) = %s, want %s", tc.f, got, tc.want)
		}
	}
}
