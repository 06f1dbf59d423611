package netfault

import (
	"context"
	"fmt"
	"net"
	"sync"
	"syscall"
)

// Mode is how a cut link fails.
type Mode int

const (
	// Blackhole loses everything silently: dials hang until their context
	// ends or the link heals, packets vanish, and open connections stall
	// (Read and Write block until their deadline or Close). This is a dead
	// or unplugged peer, the case timeouts must handle.
	Blackhole Mode = iota + 1
	// Refuse fails fast: dials fail with ECONNREFUSED, open connections are
	// reset, and packets still vanish (UDP has no refusal). This is a
	// firewall that rejects, or a peer whose process is gone.
	Refuse
)

func (m Mode) String() string {
	switch m {
	case 0:
		return "connected"
	case Blackhole:
		return "blackhole"
	case Refuse:
		return "refuse"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Errors of cut links, matched with errors.Is.
var (
	// ErrRefused fails a dial across a link cut with Refuse. It also
	// matches syscall.ECONNREFUSED, as a real refused dial does.
	ErrRefused = fmt.Errorf("netfault: connection refused by partition: %w", syscall.ECONNREFUSED)
	// ErrReset fails Read and Write on a connection reset by a cut (Refuse)
	// or by Heal after a Blackhole stalled it. It also matches
	// syscall.ECONNRESET.
	ErrReset = fmt.Errorf("netfault: connection reset by partition: %w", syscall.ECONNRESET)
)

// DialFunc opens a connection, as net.Dialer.DialContext does.
type DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// link is an unordered pair of nodes, a < b.
type link struct{ a, b int32 }

func mkLink(x, y int32) link {
	if x > y {
		x, y = y, x
	}
	return link{x, y}
}

// Network is one fault-injecting network shared by the nodes of a test
// cluster. Its methods may be called concurrently.
type Network struct {
	mu     sync.Mutex
	owner  map[string]int32   // guarded by mu; normalized address -> node
	cuts   map[link]Mode      // guarded by mu; absent means connected
	conns  map[*conn]struct{} // guarded by mu; open connections to registered nodes
	healed chan struct{}      // guarded by mu; closed (and replaced) by Heal
}

// New returns a network with every link connected.
func New() *Network {
	return &Network{
		owner:  map[string]int32{},
		cuts:   map[link]Mode{},
		conns:  map[*conn]struct{}{},
		healed: make(chan struct{}),
	}
}

// normalize makes "127.0.0.1:9092" and "[::ffff:127.0.0.1]:9092" one key.
func normalize(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil {
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		host = ip.String()
	}
	return net.JoinHostPort(host, port)
}

// Register records that node listens on addrs ("ip:port"): connections
// and packets to or from them belong to node.
func (n *Network) Register(node int32, addrs ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range addrs {
		n.owner[normalize(a)] = node
	}
}

// Cut cuts every node of a from every node of b with mode, including
// connections already open between them. A node in both sets is not cut
// from itself; any mode but Refuse black-holes. Cutting a cut link again
// changes its mode for new dials and for connections still open.
func (n *Network) Cut(mode Mode, a, b []int32) {
	if mode != Refuse {
		mode = Blackhole
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, x := range a {
		for _, y := range b {
			if x != y {
				n.cuts[mkLink(x, y)] = mode
			}
		}
	}
	for c := range n.conns {
		if m := n.cuts[mkLink(c.from, c.to)]; m != 0 {
			c.cut(m)
		}
	}
}

// Heal reconnects every link. Dials waiting in a black hole go ahead;
// connections a Blackhole stalled are reset (ErrReset), so their owners
// notice and redial instead of waiting out their timeouts.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.cuts)
	for c := range n.conns {
		c.heal()
	}
	close(n.healed)
	n.healed = make(chan struct{})
}

// Mode returns how the link between nodes x and y is cut (0: connected).
func (n *Network) Mode(x, y int32) Mode {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cuts[mkLink(x, y)]
}

// route returns the node owning addr (ok false if none), how the link from
// node from to it is cut, and the channel Heal closes next.
func (n *Network) route(from int32, addr string) (to int32, ok bool, m Mode, healed <-chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	to, ok = n.owner[normalize(addr)]
	if ok && to != from {
		m = n.cuts[mkLink(from, to)]
	}
	return to, ok, m, n.healed
}

// blocked reports whether packets between node from and addr are lost.
func (n *Network) blocked(from int32, addr string) bool {
	_, _, m, _ := n.route(from, addr)
	return m != 0
}

// Dialer returns the dial function of node from: connections to addresses
// of nodes cut from it are refused or hang (see Mode), and connections it
// opens to registered nodes are cut when their link is.
func (n *Network) Dialer(from int32) DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return n.dial(ctx, from, network, addr)
	}
}

func (n *Network) dial(ctx context.Context, from int32, network, addr string) (net.Conn, error) {
	for {
		to, ok, m, healed := n.route(from, addr)
		switch m {
		case Refuse:
			return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("%s: %w", addr, ErrRefused)}
		case Blackhole:
			select {
			case <-ctx.Done():
				return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("%s: black-holed by partition: %w", addr, ctx.Err())}
			case <-healed:
				continue
			}
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil || !ok || to == from {
			return c, err
		}
		return n.track(c, from, to), nil
	}
}

// track wraps c and applies a cut made while it was being dialed.
func (n *Network) track(nc net.Conn, from, to int32) net.Conn {
	c := newConn(nc, n, from, to)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.conns[c] = struct{}{}
	if m := n.cuts[mkLink(from, to)]; m != 0 {
		c.cut(m)
	}
	return c
}

func (n *Network) untrack(c *conn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.conns, c)
}
