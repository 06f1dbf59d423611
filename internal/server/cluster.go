package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/strombroker/strom/internal/controller"
	"github.com/strombroker/strom/internal/membership"
	"github.com/strombroker/strom/raftmeta"
)

// clusterMode reports whether this broker forms or joins a multi-broker
// cluster through gossip; without --join or --bootstrap-expect > 1 it is a
// cluster of one and needs no gossip at all.
func (c *Config) clusterMode() bool {
	return len(c.Join) > 0 || c.BootstrapExpect > 1
}

// startController starts gossip and the cluster control loop
// (internal/controller) with this broker's advertised endpoints and Raft
// address, so peers can find its controller transport.
func (s *Server) startController(ctx context.Context) error {
	cc := controller.Config{
		NodeID:                  s.cfg.NodeID,
		BootstrapExpect:         s.cfg.BootstrapExpect,
		Tick:                    s.cfg.ClusterTick,
		AutoLeaderRebalance:     s.cfg.AutoLeaderRebalance,
		LeaderRebalanceInterval: s.cfg.LeaderRebalanceInterval,
		Logger:                  s.logger.With("component", "controller"),
		GossipMeta:              s.gossipMeta,
		GossipAdvertise:         s.cfg.gossipAdvertise,
		StartGossip:             s.startGossip,
	}
	c, err := controller.New(cc, countingMeta{s.meta, s.metrics}) // counts elections (metrics.go)
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	s.ctrl = c
	return nil
}

// startGossip starts memberlist gossip advertising adv ("" = the bound
// address) with meta, joining the configured peers.
func (s *Server) startGossip(ctx context.Context, adv string, meta membership.Meta) (controller.Gossip, error) {
	mc := membership.DefaultConfig()
	mc.NodeID = s.cfg.NodeID
	mc.BindAddr = s.cfg.GossipAddr
	mc.AdvertiseAddr = adv
	mc.Join = s.cfg.Join
	mc.Fast = s.cfg.FastGossip
	mc.Logger = s.logger.With("component", "gossip")
	mc.Meta = meta
	mc.WrapTransport = s.cfg.WrapGossip
	mc.Keys = s.cfg.ClusterKeys
	m, err := membership.Start(ctx, mc)
	if err != nil {
		return nil, err
	}
	s.logger.Info("gossip started", "addr", m.Addr(), "join", s.cfg.Join, "bootstrap_expect", s.cfg.BootstrapExpect, "encrypted", len(s.cfg.ClusterKeys) > 0)
	return m, nil
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
