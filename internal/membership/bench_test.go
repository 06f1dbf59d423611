package membership

import (
	"testing"
)

func BenchmarkEncodeMeta(b *testing.B) {
	m := testMeta(3)
	for b.Loop() {
		if _, err := encodeMeta(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeMeta is the cost NotifyAlive adds to every alive message.
func BenchmarkDecodeMeta(b *testing.B) {
	enc, _ := encodeMeta(testMeta(3))
	for b.Loop() {
		if _, err := decodeMeta(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEventQueuePush is what an event callback costs memberlist's
// goroutine (under its node lock) when nobody reads: 16 nodes, coalescing.
func BenchmarkEventQueuePush(b *testing.B) {
	q := newEventQueue(1)
	defer q.close()
	i := 0
	for b.Loop() {
		q.push(ev(EventUpdate, int32(i%16), "v"))
		i++
	}
}

// BenchmarkClusterForm3 starts three brokers joining through the first and
// waits until all see all (Fast timers, loopback).
func BenchmarkClusterForm3(b *testing.B) {
	for b.Loop() {
		nodes := startCluster(b, 3)
		for _, m := range nodes {
			_ = m.Shutdown()
		}
	}
}
