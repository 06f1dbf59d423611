package membership

import (
	"context"
	"testing"

	"github.com/strombroker/strom/internal/netfault"
)

// Gossip through Config.WrapTransport: a black-holed node is declared
// failed by the others and sees them fail in turn (packets are cut both
// ways); after the heal a Rejoin merges the views again.
func TestClusterPartitionedGossip(t *testing.T) {
	fn := netfault.New()
	var nodes []*Membership
	for id := int32(1); id <= 3; id++ {
		var join []string
		if id > 1 {
			join = []string{nodes[0].Addr()}
		}
		cfg := testConfig(t, id, join...)
		cfg.WrapTransport = fn.WrapGossip(id)
		m := start(t, cfg)
		fn.Register(id, m.Addr())
		nodes = append(nodes, m)
	}
	for _, m := range nodes {
		waitMembers(t, m, 1, 2, 3)
	}
	fn.Cut(netfault.Blackhole, []int32{3}, []int32{1, 2})
	waitMembers(t, nodes[0], 1, 2)
	waitMembers(t, nodes[1], 1, 2)
	waitMembers(t, nodes[2], 3)

	fn.Heal()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := nodes[2].Rejoin(ctx); err != nil {
		t.Fatalf("rejoin after heal: %v", err)
	}
	for _, m := range nodes {
		waitMembers(t, m, 1, 2, 3)
	}
}
