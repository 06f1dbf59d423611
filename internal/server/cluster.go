package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
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
	adv, err := s.cfg.gossipAdvertise(ctx)
	if err != nil {
		return err
	}
	mc.AdvertiseAddr = adv
	mc.Join = s.cfg.Join
	mc.Fast = s.cfg.FastGossip
	mc.Logger = s.logger.With("component", "gossip")
	mc.Meta = s.gossipMeta()
	mc.WrapTransport = s.cfg.WrapGossip
	m, err := membership.Start(ctx, mc)
	if err != nil {
		return err
	}
	s.members = m
	s.gossipAdv = adv
	s.logger.Info("gossip started", "addr", m.Addr(), "join", s.cfg.Join, "bootstrap_expect", s.cfg.BootstrapExpect)
	return nil
}

// gossipAdvertise is the gossip address peers dial. memberlist needs an IP
// literal there, but a container binds 0.0.0.0 and does not know its own IP
// in advance, and --gossip-advertise is most naturally a name. So a name is
// resolved, and a wildcard bind without --gossip-advertise is advertised as
// this host's name resolved (Docker and Kubernetes map a container's
// hostname to its address). Empty means "the bound address".
func (c *Config) gossipAdvertise(ctx context.Context) (string, error) {
	if c.GossipAdvertise != "" {
		host, port, err := net.SplitHostPort(c.GossipAdvertise)
		if err != nil {
			return "", fmt.Errorf("gossip.advertise %q: want host:port: %w", c.GossipAdvertise, err)
		}
		ip, err := resolveAdvertiseIP(ctx, host)
		if err != nil {
			return "", fmt.Errorf("gossip.advertise %q: %w", c.GossipAdvertise, err)
		}
		return net.JoinHostPort(ip, port), nil
	}
	host, port, err := net.SplitHostPort(c.GossipAddr)
	if err != nil || !isUnspecified(host) {
		return "", nil // a bad gossip.addr is reported by membership's Validate
	}
	name, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("gossip.addr %s binds every interface and the hostname is unknown (%w); set --gossip-advertise", c.GossipAddr, err)
	}
	ip, err := resolveAdvertiseIP(ctx, name)
	if err != nil {
		return "", fmt.Errorf("gossip.addr %s binds every interface: %w; set --gossip-advertise (gossip.advertise, STROM_GOSSIP_ADVERTISE)", c.GossipAddr, err)
	}
	return net.JoinHostPort(ip, port), nil
}

// errLoopbackOnly: a name that maps only to loopback (Debian's 127.0.1.1
// for the hostname) would be advertised to peers that cannot reach it.
var errLoopbackOnly = errors.New("resolves only to loopback addresses")

// resolveAdvertiseIP returns host itself when it is an IP literal, else the
// first address it resolves to, preferring IPv4 and refusing loopback unless
// the name is explicitly a loopback one ("localhost", for one-machine tests).
func resolveAdvertiseIP(ctx context.Context, host string) (string, error) {
	if ip := net.ParseIP(host); ip != nil {
		return ip.String(), nil
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return "", err
	}
	var v6, loop net.IP
	for _, a := range addrs {
		switch {
		case a.IP.IsLoopback():
			if loop == nil || (loop.To4() == nil && a.IP.To4() != nil) {
				loop = a.IP
			}
		case a.IP.To4() != nil:
			return a.IP.String(), nil
		case v6 == nil:
			v6 = a.IP
		}
	}
	switch {
	case v6 != nil:
		return v6.String(), nil
	case loop != nil && host == "localhost":
		return loop.String(), nil
	}
	return "", fmt.Errorf("%s %w", host, errLoopbackOnly)
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
		case _, ok := <-s.members.Events():
			if !ok { // gossip is being restarted: wait for the next tick
				select {
				case <-s.ctx.Done():
					return
				case <-tick.C:
				}
			}
		case <-tick.C:
		}
	}
}

func (s *Server) clusterStep(lastRebalance *time.Time) {
	s.checkGossipAddress()
	peers := s.peers()
	short := len(peers) < s.cfg.BootstrapExpect && !s.meta.HasState()
	if reg := len(s.meta.State().Brokers); reg > len(peers) {
		short = true
	}
	if short && time.Since(s.lastRejoin) > 2*time.Second && s.rejoining.CompareAndSwap(false, true) {
		// Fewer peers than expected: our join list may have resolved only
		// to ourselves at start, or a partition has healed and the two
		// sides still think each other dead. Contacting the join list again
		// merges the views (memberlist's push-pull would, but only every
		// 30 s). In the background: a frozen peer holds a join for seconds,
		// and this loop fences brokers and moves leaders.
		s.lastRejoin = time.Now()
		m := s.members
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.rejoining.Store(false)
			ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
			defer cancel()
			if err := m.Rejoin(ctx); err != nil {
				s.logger.Debug("gossip rejoin", "err", err)
			}
		}()
	}

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
	changes = append(changes, raftmeta.ShrinkISRs(st, dead, changes)...)
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

// checkGossipAddress re-resolves a derived gossip advertise address every few
// seconds. A container reconnected to its network may come back with a new
// IP, while memberlist keeps advertising the old one, so peers would keep
// the broker fenced forever; when the address moves, gossip is restarted on
// the new one and rejoins the cluster.
func (s *Server) checkGossipAddress() {
	if time.Since(s.lastAdvCheck) < 5*time.Second || s.gossipAdv == "" {
		return
	}
	s.lastAdvCheck = time.Now()
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	adv, err := s.cfg.gossipAdvertise(ctx)
	if err != nil || adv == "" || adv == s.gossipAdv {
		return
	}
	s.logger.Warn("this broker's gossip address changed; restarting gossip", "from", s.gossipAdv, "to", adv)
	if err := s.members.Shutdown(); err != nil {
		s.logger.Debug("gossip shutdown", "err", err)
	}
	if err := s.startMembership(ctx); err != nil {
		s.logger.Error("cannot restart gossip; will retry", "err", err)
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
