package raftmeta

import (
	"fmt"
	"testing"
	"time"
)

// TestFollowersLearnCommitsAtOnce: with raft's commit probe an hour apart,
// followers still apply a write as soon as the controller has, because the
// barrier that follows it carries the commit index to them. Without the
// nudge they would wait for the next write or probe.
func TestFollowersLearnCommitsAtOnce(t *testing.T) {
	nodes, leader := startCluster3With(t, func(c *Config) { c.CommitTimeout = time.Hour })
	for round := range 3 {
		first, err := leader.AllocateProducerIDs(ctxT(t), 10)
		if err != nil {
			t.Fatalf("round %d: AllocateProducerIDs: %v", round, err)
		}
		checkFor(t, 20*time.Second, func() error {
			for _, f := range followersOf(nodes, leader) {
				if next := f.State().NextProducerID; next < first+10 {
					return fmt.Errorf("round %d: node %d has NextProducerID %d, the controller gave out [%d, %d)", round, f.cfg.NodeID, next, first, first+10)
				}
			}
			return nil
		})
	}
}
