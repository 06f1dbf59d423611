package server

import (
	"context"
	"sync"
	"time"
)

// producerIDBlock is how many producer ids one controller round trip
// reserves, as Kafka's AllocateProducerIds does.
const producerIDBlock = 1000

// producerIDs hands out producer ids (idempotent and transactional) from
// blocks the controller reserves, so ids never repeat across restarts or
// brokers. Reserving a block is a Raft commit, forwarded to the controller:
// tens of milliseconds on a slow disk, longer during an election. So the
// broker reserves its first block as soon as it runs and the next one when
// the current block is 90% used (Kafka prefetches at 90% too), and an
// InitProducerId waits for the controller only when ids run out faster than
// a round trip refills them. Before this, the first producer of every broker
// waited out that commit: on a fresh 3-broker cluster it was the whole p99
// of a latency benchmark's first second.
type producerIDs struct {
	reserve func(ctx context.Context, n int64) (int64, error)
	ctx     context.Context // bounds prefetches; cancelled on shutdown
	wg      sync.WaitGroup  // the prefetch goroutine

	mu         sync.Mutex
	next, end  int64 // current block: next unused id, end exclusive
	spare      int64 // first id of a reserved block not yet used; -1 if none
	prefetches bool  // a prefetch goroutine runs
	closed     bool  // close was called: no more prefetches
}

// newProducerIDs reserves blocks with reserve; ctx ends prefetches.
func newProducerIDs(ctx context.Context, reserve func(context.Context, int64) (int64, error)) *producerIDs {
	return &producerIDs{reserve: reserve, ctx: ctx, spare: -1}
}

// close waits for a prefetch in progress (cancel ctx first to end it) and
// starts no other.
func (p *producerIDs) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.wg.Wait()
}

// take returns an unused producer id, reserving a block through the
// controller first when none is at hand.
func (p *producerIDs) take(ctx context.Context) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next >= p.end && p.spare >= 0 {
		p.next, p.end, p.spare = p.spare, p.spare+producerIDBlock, -1
	}
	if p.next >= p.end {
		// Nothing at hand (a prefetch may still be on its way; taking a
		// block of our own wastes at most its ids, never repeats one).
		first, err := p.reserve(ctx, producerIDBlock)
		if err != nil {
			return -1, err
		}
		p.next, p.end = first, first+producerIDBlock
	}
	id := p.next
	p.next++
	if p.end-p.next <= producerIDBlock/10 {
		p.prefetchLocked()
	}
	return id, nil
}

// prefetch reserves a spare block in the background unless one is held or
// on its way. It retries until it has one or the broker shuts down: at
// start-up the controller may not be elected yet.
func (p *producerIDs) prefetch() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prefetchLocked()
}

func (p *producerIDs) prefetchLocked() {
	if p.prefetches || p.spare >= 0 || p.closed {
		return
	}
	p.prefetches = true
	p.wg.Go(func() {
		first, ok := p.reserveRetrying()
		p.mu.Lock()
		defer p.mu.Unlock()
		p.prefetches = false
		if !ok {
			return
		}
		if p.next >= p.end {
			p.next, p.end = first, first+producerIDBlock
		} else {
			p.spare = first
		}
	})
}

// reserveRetrying reserves one block, retrying with a growing pause (100 ms
// to 5 s) until it succeeds or the broker shuts down.
func (p *producerIDs) reserveRetrying() (int64, bool) {
	pause := 100 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
		first, err := p.reserve(ctx, producerIDBlock)
		cancel()
		if err == nil {
			return first, true
		}
		t := time.NewTimer(pause)
		select {
		case <-p.ctx.Done():
			t.Stop()
			return 0, false
		case <-t.C:
		}
		pause = min(2*pause, 5*time.Second)
	}
}
