package cluster

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/strombroker/strom/internal/server"
)

// TestClusterGossipEncrypted: brokers sharing cluster.keys (gossip keys and
// Raft port authentication) form a cluster and serve; a broker with another
// key is never heard: it does not start (it cannot join) and no broker's
// metadata lists it.
func TestClusterGossipEncrypted(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	c := New(t, 3, func(cfg *server.Config) { cfg.ClusterKeys = [][]byte{key} })
	ctx := ctxFor(t, 60*time.Second)
	if _, err := c.Admin().CreateTopic(ctx, 1, 3, nil, "sealed"); err != nil {
		t.Fatal(err)
	}
	produceN(t, c.Client(), "sealed", 0, 5)

	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stranger, err := c.TryAdd(sctx, func(cfg *server.Config) { cfg.ClusterKeys = [][]byte{bytes.Repeat([]byte{8}, 32)} })
	if err == nil {
		t.Fatalf("broker %d with another gossip key started", stranger.ID)
	}
	t.Logf("broker %d with another gossip key: %v", stranger.ID, err)
	for _, b := range c.Brokers[:3] {
		if _, ok := b.Srv.Metadata().Brokers[stranger.ID]; ok {
			t.Fatalf("broker %d lists broker %d, which has another gossip key", b.ID, stranger.ID)
		}
	}
}
