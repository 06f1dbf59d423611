package raftmeta

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkOpenSolo measures open-to-ready of a one-voter node with the
// production timers (DefaultConfig), i.e. `strom broker` startup cost here.
func BenchmarkOpenSolo(b *testing.B) {
	for b.Loop() {
		cfg := DefaultConfig()
		cfg.NodeID = 1
		cfg.DataDir = b.TempDir()
		cfg.BootstrapSelf = true
		n, err := Open(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := n.WaitController(context.Background()); err != nil {
			b.Fatal(err)
		}
		n.Close()
	}
}

// BenchmarkCreateTopic measures one CreateTopic round trip through raft.
func BenchmarkCreateTopic(b *testing.B) {
	cfg := testConfig(b, 1, b.TempDir())
	n := openNode(b, cfg)
	waitController(b, n)
	ctx := context.Background()
	if err := n.RegisterBroker(ctx, Broker{ID: 1}); err != nil {
		b.Fatal(err)
	}
	names := make([]string, b.N)
	for i := range names {
		names[i] = fmt.Sprintf("topic-%d", i)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := n.CreateTopic(ctx, TopicSpec{Name: names[i], Partitions: 3, ReplicationFactor: 1}, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStateRead shows readers pay one atomic load.
func BenchmarkStateRead(b *testing.B) {
	cfg := testConfig(b, 1, b.TempDir())
	n := openNode(b, cfg)
	waitController(b, n)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if n.State() == nil {
				b.Fatal("nil state")
			}
		}
	})
}

// BenchmarkAllocateProducerIDs compares a write on the controller with the
// same write forwarded from a follower (one extra round trip on loopback plus
// the wait for the follower to apply the entry), run from parallel callers.
func BenchmarkAllocateProducerIDs(b *testing.B) {
	nodes, leader := startCluster3(b)
	for _, bc := range []struct {
		name string
		n    *Node
	}{{"controller", leader}, {"forwarded", followersOf(nodes, leader)[0]}} {
		b.Run(bc.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := bc.n.AllocateProducerIDs(context.Background(), 1); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
