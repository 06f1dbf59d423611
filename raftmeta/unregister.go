package raftmeta

import (
	"context"
	"fmt"
	"slices"
)

// Broker unregistration (Kafka's UnregisterBroker, key 64): an operator
// removes a broker that is gone for good from the registrations, so that it
// stops being listed as fenced and its id can be reused cleanly.
//
// Kafka's controller accepts any registered broker and a live one simply
// registers again on its next heartbeat. A Strom broker registers only when
// it starts, so unregistering a live one would leave it serving while
// invisible to clients: the command takes only fenced brokers (out of the
// membership; ReconcileMembers fenced them), at the broker epoch the
// proposer saw, so a broker that came back and registered again in between
// is refused rather than removed.
//
// As Kafka's UnregisterBrokerRecord handling: the broker leaves every ISR
// that keeps another member, and a partition it still leads goes leaderless
// (its leader epoch moves on) for the controller to elect another; the
// replica assignments are left alone (a reassignment moves them).

// unregisterBrokerCmd removes broker ID, registered at Epoch and fenced.
type unregisterBrokerCmd struct {
	ID    int32 `json:"id"`
	Epoch int64 `json:"epoch"`
}

type unregisterBrokerArgs struct{ ID int32 }

var fwdUnregisterBroker = forwardMethod[unregisterBrokerArgs, struct{}]{"UnregisterBroker", (*Node).unregisterBrokerLocal}

func (c *unregisterBrokerCmd) validate() error {
	if c.ID < 0 {
		return fmt.Errorf("%w: unregister broker %d", ErrInvalidBroker, c.ID)
	}
	return nil
}

func (c *unregisterBrokerCmd) apply(s *State) (*State, applyResult) {
	next, err := applyUnregisterBroker(s, *c)
	return next, applyResult{err: err}
}

// UnregisterBroker removes fenced broker id from the registrations (see
// above). It runs on the controller, forwarded there from any node.
func (n *Node) UnregisterBroker(ctx context.Context, id int32) error {
	_, err := fwdUnregisterBroker.call(ctx, n, unregisterBrokerArgs{ID: id})
	return err
}

func (n *Node) unregisterBrokerLocal(ctx context.Context, a unregisterBrokerArgs) (struct{}, error) {
	if err := n.checkWritable(); err != nil {
		return struct{}{}, err
	}
	s := n.fsm.current()
	cmd := &unregisterBrokerCmd{ID: a.ID, Epoch: s.Brokers[a.ID].Epoch}
	_, err := n.proposeChecked(ctx, s, cmdUnregisterBroker, cmd, false)
	return struct{}{}, err
}

func applyUnregisterBroker(s *State, c unregisterBrokerCmd) (*State, error) {
	b, ok := s.Brokers[c.ID]
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: broker %d", ErrBrokerNotRegistered, c.ID)
	case !b.Fenced:
		return nil, fmt.Errorf("%w: broker %d is not fenced; stop it first", ErrBrokerAlive, c.ID)
	case b.Epoch != c.Epoch:
		return nil, fmt.Errorf("%w: broker %d registered again (epoch changed)", ErrBrokerAlive, c.ID)
	}
	next := s.clone()
	delete(next.Brokers, c.ID)
	for _, t := range s.Topics {
		var nt *Topic
		for i, p := range t.Partitions {
			inISR := slices.Contains(p.ISR, c.ID) && len(p.ISR) > 1
			if !inISR && p.Leader != c.ID {
				continue
			}
			if nt == nil {
				nt = t.clone()
			}
			np := &nt.Partitions[i]
			if inISR {
				np.ISR = slices.DeleteFunc(np.ISR, func(id int32) bool { return id == c.ID })
			}
			if np.Leader == c.ID {
				np.Leader = -1
				np.LeaderEpoch++
			}
			np.PartitionEpoch++
		}
		if nt != nil {
			next.putTopic(nt)
		}
	}
	return next, nil
}
