package cli

// The producers and consumers of a bench workload run (workload.go).

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// startConsumers starts every subscription's consumers and waits until each
// group has all partitions assigned, spread over as many consumers as can
// get one, so the first records do not wait for a rebalance.
func (w *workload) startConsumers(e *env) error {
	var cancel context.CancelFunc
	w.consumerCtx, cancel = context.WithCancel(e.ctx)
	w.stopConsumers = cancel
	for ti, topic := range w.topics {
		for s := range w.cfg.SubscriptionsPerTopic {
			g := &wlGroup{name: fmt.Sprintf("%s-%s-%d-sub-%d", w.cfg.TopicPrefix, w.runID, ti, s), topic: topic, next: make([]atomic.Int64, w.cfg.PartitionsPerTopic)}
			w.groups = append(w.groups, g)
			for range w.cfg.ConsumersPerSubscription {
				wc := &wlConsumer{group: g}
				count := func(m map[string][]int32) int64 { return int64(len(m[topic])) }
				cl, _, err := w.o.client(e.ctx,
					kgo.ConsumerGroup(g.name),
					kgo.ConsumeTopics(topic),
					kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
					kgo.DisableAutoCommit(), // nothing to resume: the topics are new, and commits would add load
					kgo.FetchMaxWait(time.Duration(w.cfg.FetchMaxWait)),
					kgo.FetchMinBytes(int32(min(w.cfg.FetchMinBytes, 1<<31-1))),
					kgo.FetchMaxBytes(64*mib),
					kgo.FetchMaxPartitionBytes(8*mib),
					kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { wc.assigned.Add(count(m)) }),
					kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { wc.assigned.Add(-count(m)) }),
					kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { wc.assigned.Add(-count(m)) }),
				)
				if err != nil {
					return err
				}
				wc.cl = cl
				g.consumers = append(g.consumers, wc)
				w.consumerWG.Add(1)
				go func() {
					defer w.consumerWG.Done()
					w.consume(wc)
				}()
			}
		}
	}
	ctx, cancelWait := context.WithTimeout(e.ctx, max(w.o.timeout, adminTimeout))
	defer cancelWait()
	for !w.consumersReady() {
		select {
		case <-ctx.Done():
			if e.ctx.Err() != nil {
				return e.ctx.Err()
			}
			return friendly(ErrUnreachable, ctx.Err(), "consumer groups %s-%s-*: partitions not assigned within %s — is the group coordinator working? (`strom group describe`)", w.cfg.TopicPrefix, w.runID, max(w.o.timeout, adminTimeout))
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

func (w *workload) consumersReady() bool {
	want := min(w.cfg.ConsumersPerSubscription, w.cfg.PartitionsPerTopic)
	for _, g := range w.groups {
		var total int64
		busy := 0
		for _, c := range g.consumers {
			n := c.assigned.Load()
			total += n
			if n > 0 {
				busy++
			}
		}
		if total != int64(w.cfg.PartitionsPerTopic) || busy < want {
			return false
		}
	}
	return true
}

// consume runs one consumer until the consumer context ends, recording each
// record's end-to-end latency.
func (w *workload) consume(c *wlConsumer) {
	for {
		fetches := c.cl.PollFetches(w.consumerCtx)
		if w.consumerCtx.Err() != nil {
			return
		}
		now := time.Now().UnixNano()
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if p.Err != nil && !errors.Is(p.Err, context.Canceled) {
				w.fetchErrors.Add(1)
			}
			if len(p.Records) == 0 {
				return
			}
			var b int64
			for _, r := range p.Records {
				stamp := r.Timestamp.UnixNano()
				if len(r.Value) >= 8 {
					stamp = int64(binary.BigEndian.Uint64(r.Value))
				}
				w.e2e.record(time.Duration(now - stamp))
				b += int64(len(r.Key) + len(r.Value))
			}
			w.consumed.Add(int64(len(p.Records)))
			w.consumedB.Add(b)
			if int(p.Partition) < len(c.group.next) {
				raise(&c.group.next[p.Partition], p.Records[len(p.Records)-1].Offset+1)
			}
		})
	}
}

// closeConsumers stops the consumers and closes their clients (leaving
// their groups). Idempotent.
func (w *workload) closeConsumers() {
	if w.stopConsumers != nil {
		w.stopConsumers()
	}
	w.consumerWG.Wait()
	for _, g := range w.groups {
		for _, c := range g.consumers {
			if c.cl != nil {
				c.cl.Close()
				c.cl = nil
			}
		}
	}
}

func (w *workload) startProducers(e *env) error {
	var cancel context.CancelFunc
	// Cancelling Produce's context fails the records still buffered, so
	// the normal end of the run only stops the pacers (producing) and lets
	// the buffered records be sent; Ctrl-C cancels both.
	w.producing, cancel = context.WithCancel(e.ctx)
	w.stopProducers = cancel
	w.sendCtx = e.ctx
	codec, err := parseCompression(w.cfg.Compression)
	if err != nil {
		return err
	}
	for _, topic := range w.topics {
		for range w.cfg.ProducersPerTopic {
			opts, err := producerOpts(w.cfg.Acks, topic, time.Duration(w.cfg.Linger), w.o.timeout)
			if err != nil {
				return err
			}
			opts = append(opts,
				kgo.ProducerBatchMaxBytes(int32(min(w.cfg.ProducerBatchBytes, 1<<31-1))),
				kgo.ProducerBatchCompression(codec),
				kgo.MaxBufferedRecords(benchMaxBufferedRecords),
				kgo.MaxBufferedBytes(benchMaxBufferedBytes),
			)
			cl, _, err := w.o.client(e.ctx, opts...)
			if err != nil {
				return err
			}
			w.producers = append(w.producers, &wlProducer{cl: cl, topic: topic, index: len(w.producers)})
		}
	}
	return nil
}

// closeProducers stops producing, waits for the records already handed to
// the clients (flushProducer: even after Ctrl-C), and closes the clients.
// It returns the first flush error.
func (w *workload) closeProducers() error {
	if w.stopProducers != nil {
		w.stopProducers()
	}
	w.producerWG.Wait()
	var first error
	for _, p := range w.producers {
		if p.cl == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), flushWait(w.o.timeout))
		if err := p.cl.Flush(ctx); err != nil {
			first = firstOf(first, err)
		}
		cancel()
		p.cl.Close()
		p.cl = nil
	}
	return first
}

// produce runs one producer from start until producing stops: at the
// target rate, record i is due at start + (i*n + index)/rate, n producers
// interleaved; without a rate, each record is due when it is sent.
func (w *workload) produce(p *wlProducer, start time.Time) {
	ctx := w.producing
	n := int64(len(w.producers))
	rng := mrand.New(mrand.NewPCG(uint64(start.UnixNano()), uint64(p.index)))
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for i := int64(0); ; i++ {
		var intended time.Time
		if w.cfg.Rate > 0 {
			intended = start.Add(time.Duration(float64(i*n+int64(p.index)) * float64(time.Second) / float64(w.cfg.Rate)))
			if d := time.Until(intended); d > 0 {
				if timer == nil {
					timer = time.NewTimer(d)
				} else {
					timer.Reset(d)
				}
				select {
				case <-timer.C:
				case <-ctx.Done():
					return
				}
			}
		} else {
			intended = time.Now()
		}
		if ctx.Err() != nil {
			return
		}
		r := w.pool.Get().(*wlRec)
		r.intended = intended
		if len(r.value) >= 8 {
			binary.BigEndian.PutUint64(r.value, uint64(intended.UnixNano()))
		}
		var key []byte
		switch w.cfg.KeyDistribution {
		case "random":
			key = w.keys[rng.IntN(len(w.keys))]
		case "round-robin":
			key = w.keys[(i*n+int64(p.index))%int64(len(w.keys))]
		}
		r.rec = kgo.Record{Topic: p.topic, Key: key, Value: r.value, Timestamp: intended, Context: r}
		w.delay.record(time.Since(intended))
		w.sent.Add(1)
		p.cl.Produce(w.sendCtx, &r.rec, w.promise)
	}
}

// promise is every workload record's kgo promise; kgo calls it from its own
// goroutines.
func (w *workload) promise(rec *kgo.Record, err error) {
	r := rec.Context.(*wlRec)
	switch {
	case err == nil:
		w.pub.record(time.Since(r.intended))
		w.acked.Add(1)
	case w.sendCtx.Err() != nil && errors.Is(err, context.Canceled):
		// Ctrl-C: Produce gave up waiting for buffer space, or kgo
		// dropped the record from its buffer: it was never sent.
		w.aborted.Add(1)
	default:
		w.failed.Add(1)
		w.errOnce.Do(func() { w.firstErr, w.firstTopic = err, rec.Topic })
	}
	w.pool.Put(r)
}
