package server

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
)

func TestGossipAdvertise(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		addr, adv string
		want      string
	}{
		{"bound address needs nothing", "127.0.0.1:9094", "", ""},
		{"ip literal kept", "0.0.0.0:9094", "10.1.2.3:7946", "10.1.2.3:7946"},
		{"localhost name resolved", "0.0.0.0:9094", "localhost:7946", "127.0.0.1:7946"},
		{"bad gossip.addr left to membership", "nonsense", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{GossipAddr: tt.addr, GossipAdvertise: tt.adv}
			got, err := c.gossipAdvertise(ctx)
			if err != nil || got != tt.want {
				t.Fatalf("gossipAdvertise() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestGossipAdvertiseUnresolvable(t *testing.T) {
	c := Config{GossipAddr: "0.0.0.0:9094", GossipAdvertise: "no-such-host.invalid:9094"}
	if got, err := c.gossipAdvertise(context.Background()); err == nil {
		t.Fatalf("gossipAdvertise() = %q, want an error for an unresolvable name", got)
	}
}

// TestGossipAdvertiseWildcardUsesHostname checks the container case: a
// wildcard bind is advertised as the hostname's non-loopback address, or
// refused with a message naming --gossip-advertise when there is none.
func TestGossipAdvertiseWildcardUsesHostname(t *testing.T) {
	c := Config{GossipAddr: "0.0.0.0:9094"}
	got, err := c.gossipAdvertise(context.Background())
	name, herr := os.Hostname()
	if herr != nil {
		t.Fatalf("os.Hostname: %v", herr)
	}
	want, rerr := resolveAdvertiseIP(context.Background(), name)
	if rerr != nil {
		if err == nil {
			t.Fatalf("gossipAdvertise() = %q although %s does not resolve to a usable address (%v)", got, name, rerr)
		}
		return
	}
	if err != nil {
		t.Fatalf("gossipAdvertise(): %v", err)
	}
	host, port, _ := net.SplitHostPort(got)
	if ip := net.ParseIP(host); ip == nil || ip.IsLoopback() || ip.IsUnspecified() || port != "9094" || host != want {
		t.Fatalf("gossipAdvertise() = %q, want %s:9094 (a routable IP literal)", got, want)
	}
}

func TestResolveAdvertiseIPRefusesLoopbackNames(t *testing.T) {
	// "localhost" is the one loopback name allowed (single-machine tests);
	// an IP literal is taken as given.
	if ip, err := resolveAdvertiseIP(context.Background(), "::1"); err != nil || ip != "::1" {
		t.Fatalf("resolveAdvertiseIP(::1) = %q, %v", ip, err)
	}
	if ip, err := resolveAdvertiseIP(context.Background(), "localhost"); err != nil || !net.ParseIP(ip).IsLoopback() {
		t.Fatalf("resolveAdvertiseIP(localhost) = %q, %v", ip, err)
	}
	if _, err := resolveAdvertiseIP(context.Background(), "no-such-host.invalid"); err == nil || errors.Is(err, errLoopbackOnly) {
		t.Fatalf("unresolvable name: err = %v, want a lookup error", err)
	}
}
