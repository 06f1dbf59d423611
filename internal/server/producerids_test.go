package server

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeReserve hands out consecutive blocks like the controller, failing the
// first failFirst calls.
type fakeReserve struct {
	mu        sync.Mutex
	next      int64
	calls     atomic.Int64
	failFirst int64
}

func (f *fakeReserve) reserve(ctx context.Context, n int64) (int64, error) {
	if f.calls.Add(1) <= f.failFirst {
		return 0, errors.New("no controller yet")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	first := f.next
	f.next += n
	return first, nil
}

func waitPrefetch(t *testing.T, p *producerIDs) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.mu.Lock()
		busy := p.prefetches
		p.mu.Unlock()
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("prefetch did not finish")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestProducerIDsPrefetchedAtStart(t *testing.T) {
	f := &fakeReserve{failFirst: 2} // the controller is not elected yet
	p := newProducerIDs(t.Context(), f.reserve)
	defer p.close()
	p.prefetch()
	waitPrefetch(t, p)
	if got := f.calls.Load(); got != 3 {
		t.Fatalf("reserve called %d times, want 3 (two refusals, then a block)", got)
	}
	id, err := p.take(t.Context())
	if err != nil || id != 0 {
		t.Fatalf("take = %d, %v; want 0 from the prefetched block", id, err)
	}
	if got := f.calls.Load(); got != 3 {
		t.Fatalf("take reserved again (%d calls): the first producer waited for the controller", got)
	}
}

func TestProducerIDsUniqueAcrossBlocks(t *testing.T) {
	f := &fakeReserve{}
	p := newProducerIDs(t.Context(), f.reserve)
	defer p.close()
	seen := make(map[int64]bool)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 700 {
				id, err := p.take(t.Context())
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[id] {
					t.Errorf("id %d handed out twice", id)
				}
				seen[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	waitPrefetch(t, p)
	if len(seen) != 5600 {
		t.Fatalf("%d ids, want 5600", len(seen))
	}
	// Blocks are used whole unless a take found none at hand while a
	// prefetch was on its way: never more than one block per take that
	// ran dry, so far fewer than the ids.
	if calls := f.calls.Load(); calls > 12 {
		t.Fatalf("%d reservations for 5600 ids", calls)
	}
}

func TestProducerIDsSpareUsedBeforeReserving(t *testing.T) {
	f := &fakeReserve{}
	p := newProducerIDs(t.Context(), f.reserve)
	defer p.close()
	for i := range producerIDBlock - producerIDBlock/10 {
		if id, err := p.take(t.Context()); err != nil || id != int64(i) {
			t.Fatalf("take %d = %d, %v", i, id, err)
		}
	}
	waitPrefetch(t, p) // 90% used: the next block was reserved meanwhile
	if got := f.calls.Load(); got != 2 {
		t.Fatalf("%d reservations, want 2 (first block, prefetch)", got)
	}
	for i := producerIDBlock - producerIDBlock/10; i < producerIDBlock+10; i++ {
		if id, err := p.take(t.Context()); err != nil || id != int64(i) {
			t.Fatalf("take %d = %d, %v", i, id, err)
		}
	}
	if got := f.calls.Load(); got != 2 {
		t.Fatalf("%d reservations: the spare block was not used", got)
	}
}

func TestProducerIDsCloseEndsPrefetch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fakeReserve{failFirst: 1 << 40} // never a controller
	p := newProducerIDs(ctx, f.reserve)
	p.prefetch()
	time.Sleep(20 * time.Millisecond)
	cancel()
	done := make(chan struct{})
	go func() { p.close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("close did not end the retrying prefetch")
	}
	p.prefetch() // after close: starts nothing
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.prefetches {
		t.Fatal("prefetch started after close")
	}
}
