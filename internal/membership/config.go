package membership

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config configures a Membership. Start from DefaultConfig, then set NodeID,
// Meta and the addresses; Start calls Validate.
type Config struct {
	// NodeID is the broker id. The gossip node name is "strom-<id>", and two
	// live processes with the same id are refused (ErrDuplicateNodeID).
	NodeID int32
	// BindAddr is the host:port the gossip transport (UDP and TCP) listens on;
	// port 0 picks a free port (see Membership.Addr). The host must be an IP
	// literal; a wildcard (0.0.0.0, ::) requires AdvertiseAddr.
	BindAddr string
	// AdvertiseAddr is the host:port other brokers use to reach this one
	// (optional; defaults to the bound address). The host must be an IP
	// literal; port 0 means the bound port.
	AdvertiseAddr string
	// Join lists host:port gossip addresses of brokers to join at Start.
	// Addresses that are this broker itself are skipped; if nothing else
	// is left (an empty list, or one that names only this broker) the broker
	// starts alone. Otherwise Start retries until one answers or its context
	// ends.
	Join []string
	// Meta is gossiped to every member; Meta.NodeID must equal NodeID.
	Meta Meta
	// Logger receives this package's and memberlist's logs; nil discards.
	Logger *slog.Logger
	// Fast selects tight loopback timers for tests (failures detected in
	// about a second). Not for production: a busy machine would be declared
	// dead.
	Fast bool
	// EventBuffer is the capacity of the Events channel. 0 means
	// DefaultEventBuffer. A full channel never blocks gossip; see Events.
	EventBuffer int
	// BroadcastTimeout bounds how long UpdateMeta waits for its update to go
	// out. 0 means DefaultBroadcastTimeout.
	BroadcastTimeout time.Duration
	// WrapTransport, when set, wraps the bound UDP+TCP transport before
	// memberlist gets it. For tests: the in-process cluster harness drops
	// gossip between partitioned brokers this way. Production leaves it nil.
	// The wrapper's Shutdown must shut the wrapped transport down.
	WrapTransport func(memberlist.Transport) memberlist.Transport
	// Keys, when set, encrypt and authenticate all gossip (memberlist's
	// keyring: AES-GCM with 16-, 24- or 32-byte keys). Keys[0] encrypts
	// what this node sends; every key is tried on what it receives, so a
	// key can be rotated in with rolling restarts: add the new key second,
	// then make it first, then drop the old one. A node without one of
	// the keys cannot join, and its packets are dropped. Empty: plain gossip.
	Keys [][]byte
}

const (
	// DefaultBindAddr matches the broker's default gossip address.
	DefaultBindAddr = "127.0.0.1:9094"
	// DefaultEventBuffer is the default capacity of the Events channel.
	DefaultEventBuffer = 64
	// DefaultBroadcastTimeout is the default UpdateMeta wait.
	DefaultBroadcastTimeout = 5 * time.Second
)

// DefaultConfig returns production defaults: memberlist's LAN timers and the
// broker's default gossip address. NodeID and Meta are left for the caller.
func DefaultConfig() Config {
	return Config{
		BindAddr:         DefaultBindAddr,
		EventBuffer:      DefaultEventBuffer,
		BroadcastTimeout: DefaultBroadcastTimeout,
	}
}

// Validate reports whether c can start; errors wrap ErrInvalidConfig, or
// ErrMetaTooLarge when the meta does not fit memberlist's limit.
func (c *Config) Validate() error {
	if c.NodeID < 0 {
		return fmt.Errorf("%w: node id %d is negative", ErrInvalidConfig, c.NodeID)
	}
	if c.Meta.NodeID != c.NodeID {
		return fmt.Errorf("%w: Meta.NodeID %d differs from NodeID %d", ErrInvalidConfig, c.Meta.NodeID, c.NodeID)
	}
	bindIP, _, err := splitIPPort(c.BindAddr, true)
	if err != nil {
		return fmt.Errorf("%w: BindAddr: %v", ErrInvalidConfig, err)
	}
	if c.AdvertiseAddr == "" {
		if bindIP.IsUnspecified() {
			return fmt.Errorf("%w: BindAddr %q is a wildcard address; set AdvertiseAddr", ErrInvalidConfig, c.BindAddr)
		}
	} else {
		ip, _, err := splitIPPort(c.AdvertiseAddr, true)
		if err != nil {
			return fmt.Errorf("%w: AdvertiseAddr: %v", ErrInvalidConfig, err)
		}
		if ip.IsUnspecified() {
			return fmt.Errorf("%w: AdvertiseAddr %q is a wildcard address", ErrInvalidConfig, c.AdvertiseAddr)
		}
	}
	for _, j := range c.Join {
		host, port, err := net.SplitHostPort(j)
		if err == nil && host == "" {
			err = fmt.Errorf("empty host")
		}
		if err == nil {
			err = checkPort(port, false)
		}
		if err != nil {
			return fmt.Errorf("%w: Join address %q: %v", ErrInvalidConfig, j, err)
		}
	}
	for i, k := range c.Keys {
		if n := len(k); n != 16 && n != 24 && n != 32 {
			return fmt.Errorf("%w: gossip key %d is %d bytes, want 16, 24 or 32", ErrInvalidConfig, i+1, n)
		}
	}
	if c.EventBuffer < 0 || c.BroadcastTimeout < 0 {
		return fmt.Errorf("%w: negative EventBuffer (%d) or BroadcastTimeout (%v)", ErrInvalidConfig, c.EventBuffer, c.BroadcastTimeout)
	}
	if _, err := encodeMeta(c.Meta); err != nil {
		return err
	}
	return nil
}

// splitIPPort parses "ip:port"; memberlist's transport needs IP literals.
func splitIPPort(addr string, zeroPortOK bool) (net.IP, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, 0, err
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return nil, 0, fmt.Errorf("host %q is not an IP address", host)
	}
	if err := checkPort(port, zeroPortOK); err != nil {
		return nil, 0, err
	}
	p, _ := strconv.Atoi(port)
	return ip, p, nil
}

func checkPort(port string, zeroOK bool) error {
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 || (p == 0 && !zeroOK) {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// memberlistConfig returns memberlist's timers for c: LAN defaults, or
// loopback timers tightened further when c.Fast is set.
func (c *Config) memberlistConfig() *memberlist.Config {
	if !c.Fast {
		// memberlist's LAN profile notices a dead node after about five
		// seconds (1 s probes, suspicion 4x). Brokers sit on one LAN and
		// partition leadership waits on this, so probe four times as often
		// and suspect for half as long: a killed broker is declared dead
		// in about a second. Lifeguard still stretches the timeouts on a
		// node that is itself slow, which keeps false alarms rare.
		mc := memberlist.DefaultLANConfig()
		mc.ProbeInterval = 250 * time.Millisecond
		mc.ProbeTimeout = 200 * time.Millisecond
		mc.SuspicionMult = 2
		mc.GossipInterval = 100 * time.Millisecond
		// A frozen peer still completes TCP handshakes (its kernel does), so
		// a push-pull or join against it waits for this timeout.
		mc.TCPTimeout = 2 * time.Second
		return mc
	}
	mc := memberlist.DefaultLocalConfig()
	mc.ProbeInterval = 200 * time.Millisecond
	mc.ProbeTimeout = 100 * time.Millisecond
	mc.GossipInterval = 20 * time.Millisecond
	mc.PushPullInterval = 2 * time.Second
	mc.GossipToTheDeadTime = 2 * time.Second
	mc.TCPTimeout = time.Second
	return mc
}

func (c *Config) eventBuffer() int {
	if c.EventBuffer == 0 {
		return DefaultEventBuffer
	}
	return c.EventBuffer
}

func (c *Config) broadcastTimeout() time.Duration {
	if c.BroadcastTimeout == 0 {
		return DefaultBroadcastTimeout
	}
	return c.BroadcastTimeout
}
