package server

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/replica"
)

// maxIdleBrokerConns bounds the idle connections kept per broker address.
const maxIdleBrokerConns = 4

// brokerConns keeps idle inter-broker connections for the transaction
// paths (markers, verification), so that a transaction does not pay a
// dial (and a TLS or SASL handshake) per partition. Each connection is
// used by one request at a time; safe for concurrent use.
type brokerConns struct {
	mu     sync.Mutex
	idle   map[string][]replica.Requester
	closed bool
}

// brokerRequest sends req to the broker at addr over an idle connection or
// a new one, which it keeps for reuse unless the request failed.
func (s *Server) brokerRequest(ctx context.Context, addr string, req kmsg.Request) (kmsg.Response, error) {
	c := &s.txnConns
	c.mu.Lock()
	var cl replica.Requester
	if n := len(c.idle[addr]); n > 0 {
		cl = c.idle[addr][n-1]
		c.idle[addr] = c.idle[addr][:n-1]
	}
	c.mu.Unlock()
	if cl == nil {
		var err error
		if cl, err = s.dialBroker(ctx, addr); err != nil {
			return nil, err
		}
	}
	resp, err := cl.Request(ctx, req)
	if err != nil {
		cl.Close()
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || len(c.idle[addr]) >= maxIdleBrokerConns {
		cl.Close()
		return resp, nil
	}
	if c.idle == nil {
		c.idle = make(map[string][]replica.Requester)
	}
	c.idle[addr] = append(c.idle[addr], cl)
	return resp, nil
}

// close closes the idle connections; later ones are closed after use.
func (c *brokerConns) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, cls := range c.idle {
		for _, cl := range cls {
			cl.Close()
		}
	}
	c.idle = nil
}
