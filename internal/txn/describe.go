package txn

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Info describes one transactional id (DescribeTransactions,
// ListTransactions).
type Info struct {
	ID            string
	ProducerID    int64
	ProducerEpoch int16
	State         kmsg.TransactionState
	TimeoutMillis int32
	StartMillis   int64 // -1 with no transaction open
	Partitions    []TP
}

// StateName is Kafka's name of a transaction state, as the admin APIs
// report it.
func StateName(s kmsg.TransactionState) string {
	names := map[kmsg.TransactionState]string{
		kmsg.TransactionStateEmpty: "Empty", kmsg.TransactionStateOngoing: "Ongoing",
		kmsg.TransactionStatePrepareCommit: "PrepareCommit", kmsg.TransactionStatePrepareAbort: "PrepareAbort",
		kmsg.TransactionStateCompleteCommit: "CompleteCommit", kmsg.TransactionStateCompleteAbort: "CompleteAbort",
		kmsg.TransactionStateDead: "Dead", kmsg.TransactionStatePrepareEpochFence: "PrepareEpochFence",
	}
	if n, ok := names[s]; ok {
		return n
	}
	return fmt.Sprintf("Unknown(%d)", s)
}

func (m *txnMeta) info() Info {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Info{ID: m.id, ProducerID: m.pid, ProducerEpoch: m.epoch, State: m.state,
		TimeoutMillis: m.timeout, StartMillis: m.start, Partitions: m.sortedParts()}
}

// Describe returns the state of id, which this broker must coordinate
// (ErrNotCoordinator otherwise); ok is false for an id never seen.
func (c *Coordinator) Describe(ctx context.Context, id string) (info Info, ok bool, err error) {
	_, m, err := c.lookup(ctx, id, false)
	if err != nil || m == nil {
		return Info{}, false, err
	}
	return m.info(), true, nil
}

// ListFilter selects transactions for List; zero fields select all.
type ListFilter struct {
	States      []string // Kafka's state names
	ProducerIDs []int64
	MinDuration time.Duration // open at least this long
	IDPattern   string        // a regular expression the whole id must match
}

// List returns the transactional ids of the partitions loaded here that
// match f, sorted by id.
func (c *Coordinator) List(f ListFilter) []Info {
	c.mu.Lock()
	parts := make([]*partition, 0, len(c.parts))
	for _, p := range c.parts {
		parts = append(parts, p)
	}
	c.mu.Unlock()
	now := c.now().UnixMilli()
	var out []Info
	for _, p := range parts {
		for _, m := range p.snapshot() {
			if i := m.info(); f.matches(i, now) {
				out = append(out, i)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (f ListFilter) matches(i Info, now int64) bool {
	if len(f.States) > 0 && !contains(f.States, StateName(i.State)) {
		return false
	}
	if len(f.ProducerIDs) > 0 && !contains(f.ProducerIDs, i.ProducerID) {
		return false
	}
	if f.MinDuration > 0 && (i.StartMillis < 0 || now-i.StartMillis < f.MinDuration.Milliseconds()) {
		return false
	}
	if f.IDPattern != "" {
		if ok, err := regexp.MatchString("^(?:"+f.IDPattern+")$", i.ID); err != nil || !ok {
			return false
		}
	}
	return true
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
