package netfault

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// WrapGossip returns the gossip transport wrapper of node from (for
// membership.Config.WrapTransport): packets to or from nodes cut from it
// vanish, and its streams are dialed through Dialer(from). Inbound streams
// need no filter: the dialing node's own wrapper cuts them.
func (n *Network) WrapGossip(from int32) func(memberlist.Transport) memberlist.Transport {
	return func(inner memberlist.Transport) memberlist.Transport {
		t := &gossipTransport{
			Transport: inner,
			n:         n,
			self:      from,
			packets:   make(chan *memberlist.Packet),
			stopping:  make(chan struct{}),
			done:      make(chan struct{}),
		}
		t.wg.Go(t.filterPackets)
		return t
	}
}

// gossipTransport filters a memberlist transport. Embedding only the
// Transport interface hides the inner NodeAwareTransport methods, so
// memberlist sends everything through WriteTo and DialTimeout below.
type gossipTransport struct {
	memberlist.Transport
	n        *Network
	self     int32
	packets  chan *memberlist.Packet // filtered inbound packets
	stopping chan struct{}           // closed when Shutdown starts: drain, deliver nothing
	done     chan struct{}           // closed once the inner transport is down
	once     sync.Once
	wg       sync.WaitGroup // filterPackets
}

// WriteTo drops a packet to a cut node as the wire would: silently.
func (t *gossipTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if t.n.blocked(t.self, addr) {
		return time.Now(), nil
	}
	return t.Transport.WriteTo(b, addr)
}

// PacketCh delivers the inbound packets that no cut drops.
func (t *gossipTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }

// DialTimeout dials through the fault network.
func (t *gossipTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return t.n.dial(ctx, t.self, "tcp", addr)
}

// Shutdown shuts the inner transport down, then stops the packet filter.
// The filter keeps draining the inner transport meanwhile: its UDP reader
// blocks on an unbuffered send, and its Shutdown waits for that reader.
func (t *gossipTransport) Shutdown() error {
	var err error
	t.once.Do(func() {
		close(t.stopping)
		err = t.Transport.Shutdown()
		close(t.done)
		t.wg.Wait()
	})
	return err
}

// filterPackets forwards inbound packets whose sender is not cut from us,
// until Shutdown.
func (t *gossipTransport) filterPackets() {
	in := t.Transport.PacketCh()
	for {
		select {
		case <-t.done:
			return
		case p := <-in:
			if p.From != nil && t.n.blocked(t.self, p.From.String()) {
				continue
			}
			select {
			case t.packets <- p:
			case <-t.stopping: // nobody may read any more: drop it
			case <-t.done:
				return
			}
		}
	}
}
