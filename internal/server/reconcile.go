package server

import (
	"context"

	"github.com/strombroker/strom/internal/group"
	"github.com/strombroker/strom/replica"
)

// groupPartitions hands __consumer_offsets leadership from the reconciler
// to the group coordinator, each partition through an offsetLog.
type groupPartitions struct{ c *group.Coordinator }

func (g groupPartitions) Load(ctx context.Context, idx int32, part *replica.Partition) error {
	return g.c.LoadPartition(ctx, idx, offsetLog{part})
}

func (g groupPartitions) Unload(idx int32) { g.c.UnloadPartition(idx) }

// awaitLocal waits, bounded by ctx, until the local replicas reflect every
// metadata change this broker has applied so far: a handler's own write
// (raftmeta writes return once applied here) and whatever came before it.
// The wait is bounded by the default request timeout when ctx has no
// earlier deadline. A handler answers anyway when the wait ends early; the
// replicas follow moments later.
func (s *Server) awaitLocal(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout(0))
	defer cancel()
	if err := s.rec.Wait(ctx, s.meta.State().Index); err != nil {
		s.logger.Debug("local replicas not yet reconciled", "err", err)
	}
}
