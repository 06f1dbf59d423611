package membership

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// Join retry backoff: quick at first (peers starting at the same moment),
// then capped so a broker waiting for the cluster does not hammer DNS.
const (
	joinBackoffMin     = 50 * time.Millisecond
	joinBackoffMax     = 5 * time.Second
	fastJoinBackoffMax = 500 * time.Millisecond
)

// join contacts cfg.Join until one address accepts, ctx ends, or a member
// turns out to hold our node id.
func (m *Membership) join(ctx context.Context) error {
	backoff, maxBackoff := joinBackoffMin, joinBackoffMax
	if m.cfg.Fast {
		maxBackoff = fastJoinBackoffMax
	}
	for attempt := 1; ; attempt++ {
		targets, err := m.joinTargets(ctx)
		if len(targets) == 0 && err == nil {
			if len(m.cfg.Join) > 0 {
				m.log.Info("membership: join list names only this broker; starting alone", "join", m.cfg.Join)
			}
			return nil
		}
		if len(targets) > 0 {
			n, jerr := m.ml.Join(targets)
			if c := m.takeConflict(); c != nil {
				if m.answersAs(c.addr) {
					return c.err
				}
				m.log.Info("membership: an earlier incarnation of this node id does not answer; waiting for the cluster to declare it dead",
					"addr", c.addr)
				jerr = c.err
			}
			if n > 0 {
				m.log.Info("membership: joined", "contacted", n, "attempts", attempt)
				return nil
			}
			err = errors.Join(err, jerr)
		}
		m.log.Info("membership: join failed; retrying", "join", m.cfg.Join, "attempt", attempt, "retry_in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w after %d attempts (%w); last error: %v", ErrJoin, attempt, context.Cause(ctx), err)
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// answersAs reports whether a process at addr answers pings addressed to
// this node's name, i.e. whether the other claimant of our id is alive.
// UDP loses packets, so it asks a few times; an unresolvable address counts
// as alive (refusing is the safe side).
func (m *Membership) answersAs(addr string) bool {
	udp, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return true
	}
	for range claimPings {
		if _, err := m.ml.Ping(m.name, udp); err == nil {
			return true
		}
	}
	return false
}

// claimPings is how many unanswered pings (each waiting memberlist's probe
// timeout) make the other claimant of our id count as gone.
const claimPings = 3

// joinTargets resolves cfg.Join into ip:port addresses, leaving out this
// broker itself (memberlist would count joining itself as a success and leave
// this broker alone). err collects names that did not resolve, so an empty
// result with a nil error means "nobody else to join".
func (m *Membership) joinTargets(ctx context.Context) (targets []string, err error) {
	var errs []error
	for _, entry := range m.cfg.Join {
		host, portStr, _ := net.SplitHostPort(entry) // validated
		port, _ := strconv.Atoi(portStr)
		var ips []net.IP
		if ip := net.ParseIP(host); ip != nil {
			ips = []net.IP{ip}
		} else {
			addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, a := range addrs {
				ips = append(ips, a.IP)
			}
		}
		for _, ip := range ips {
			if !m.isSelf(ip, port) {
				targets = append(targets, net.JoinHostPort(ip.String(), portStr))
			}
		}
	}
	return targets, errors.Join(errs...)
}

// isSelf reports whether ip:port reaches this broker's own gossip listener.
func (m *Membership) isSelf(ip net.IP, port int) bool {
	switch {
	case port == m.selfPort && ip.Equal(m.selfIP):
		return true
	case port != m.bindPort:
		return false
	case ip.Equal(m.bindIP):
		return true
	case m.bindIP.IsUnspecified():
		return isLocalIP(ip)
	}
	return false
}

// isLocalIP reports whether ip belongs to one of this host's interfaces.
func isLocalIP(ip net.IP) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// Rejoin contacts the join list once more, without retrying. A broker whose
// join list resolved only to itself at start (a headless DNS name answered
// before its peers existed) starts alone; the server calls Rejoin while it
// still has fewer peers than it expects, so brokers that all started alone
// still find each other.
func (m *Membership) Rejoin(ctx context.Context) error {
	targets, err := m.joinTargets(ctx)
	if len(targets) == 0 {
		return err
	}
	_, jerr := m.ml.Join(targets)
	return errors.Join(err, jerr)
}
