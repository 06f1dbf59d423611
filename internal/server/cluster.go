package server

import (
	"context"
	"time"

	"github.com/strombroker/strom/internal/membership"
	"github.com/strombroker/strom/raftmeta"
)

// clusterMode reports whether this broker forms or joins a multi-broker
// cluster through gossip; without --join or --bootstrap-expect > 1 it is a
// cluster of one and needs no gossip at all.
func (c *Config) clusterMode() bool {
	return len(c.Join) > 0 || c.BootstrapExpect > 1
}

// startMembership starts gossip with this broker's advertised endpoints and
// Raft address, so peers can find its controller transport.
func (s *Server) startMembership(ctx context.Context) error {
	mc := membership.DefaultConfig()
	mc.NodeID = s.cfg.NodeID
	mc.BindAddr = s.cfg.GossipAddr
	mc.AdvertiseAddr = s.cfg.GossipAdvertise
	mc.Join = s.cfg.Join
	mc.Fast = s.cfg.FastGossip
	mc.Logger = s.logger.With("component", "gossip")
	mc.Meta = s.gossipMeta()
	m, err := membership.Start(ctx, mc)
	if err != nil {
		return err
	}
	s.members = m
	s.logger.Info("gossip started", "addr", m.Addr(), "join", s.cfg.Join, "bootstrap_expect", s.cfg.BootstrapExpect)
	return nil
}

func (s *Server) gossipMeta() membership.Meta {
	meta := membership.Meta{
		NodeID:   s.cfg.NodeID,
		RaftAddr: s.meta.RaftAddr(),
		Rack:     s.cfg.Rack,
		HasState: s.meta.HasState(),
	}
	for _, l := range s.adv {
		meta.Listeners = append(meta.Listeners, membership.Listener{Name: l.Name, Host: l.Host, Port: int32(l.Port)})
	}
	return meta
}

// peers turns the live gossip members into the controller's view of them.
func (s *Server) peers() []raftmeta.Peer {
	var out []raftmeta.Peer
	for _, m := range s.members.Members() {
		if m.State != membership.StateAlive {
			continue
		}
		out = append(out, raftmeta.Peer{NodeID: m.NodeID, RaftAddr: m.RaftAddr, HasState: m.HasState})
	}
	return out
}

// clusterLoop drives everything gossip decides: founding the controller
// quorum once bootstrap-expect brokers have met, keeping our gossiped
// has-state bit true, and, on the controller, reconciling Raft membership,
// fencing dead brokers and moving partition leadership off them.
func (s *Server) clusterLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.ClusterTick)
	defer tick.Stop()
	lastRebalance := time.Now()
	for {
		s.clusterStep(&lastRebalance)
		select {
		case <-s.ctx.Done():
			return
		case <-s.members.Events():
		case <-tick.C:
		}
	}
}

func (s *Server) clusterStep(lastRebalance *time.Time) {
	peers := s.peers()
	if !s.meta.HasState() {
		if ok, err := s.meta.TryBootstrap(peers); err != nil {
			s.logger.Warn("cannot bootstrap the controller quorum yet", "err", err)
		} else if ok {
			s.logger.Info("bootstrapped the controller quorum", "voters", len(peers))
		}
	}
	if s.meta.HasState() && !s.gossipedState {
		if err := s.members.UpdateMeta(s.gossipMeta()); err == nil {
			s.gossipedState = true
		}
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	if err := s.meta.ReconcileMembers(ctx, peers); err != nil && s.ctx.Err() == nil {
		s.logger.Debug("reconcile members", "err", err)
	}
	if !s.meta.IsController() {
		return
	}
	st := s.meta.State()
	alive := make(map[int32]bool, len(peers))
	for _, p := range peers {
		alive[p.NodeID] = true
	}
	dead := make(map[int32]bool)
	for id, b := range st.Brokers {
		if b.Fenced || !alive[id] {
			dead[id] = true
		}
	}
	changes := raftmeta.ElectLeaders(st, dead, s.uncleanAllowed(st))
	if s.cfg.AutoLeaderRebalance && time.Since(*lastRebalance) >= s.cfg.LeaderRebalanceInterval {
		*lastRebalance = time.Now()
		changes = append(changes, raftmeta.PreferredLeaderChanges(st, alive)...)
	}
	for _, ch := range changes {
		p, err := s.meta.AlterPartition(ctx, ch)
		if err != nil {
			s.logger.Warn("partition leader change refused", "topic", ch.Topic, "partition", ch.Partition, "leader", ch.Leader, "err", err)
			continue
		}
		s.logger.Info("partition leader changed", "topic", ch.Topic, "partition", ch.Partition, "leader", p.Leader, "epoch", p.LeaderEpoch, "isr", p.ISR)
	}
}

// uncleanAllowed reads unclean.leader.election.enable per topic (off unless a
// topic opts in: electing an out-of-sync replica can lose acknowledged data).
func (s *Server) uncleanAllowed(st *raftmeta.State) func(string) bool {
	return func(topic string) bool {
		t := st.Topics[topic]
		return t != nil && t.Configs["unclean.leader.election.enable"] == "true"
	}
}

// liveBrokers counts registered, unfenced brokers.
func liveBrokers(st *raftmeta.State) int {
	n := 0
	for _, b := range st.Brokers {
		if !b.Fenced {
			n++
		}
	}
	return n
}
