package wire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
)

// Client side of SASL, for broker-to-broker connections to a SASL_* listener:
// SaslHandshake v1 then SaslAuthenticate v1 steps driven by a franz-go
// sasl.Mechanism (plain.Auth, scram.Auth), over whatever connection the
// Client was dialled with (plain TCP or TLS).

// ErrSASLFailed wraps a broker's refusal of our SASL exchange (its error
// code and message are in the text; errors.Is also matches the kerr error).
var ErrSASLFailed = errors.New("wire: SASL authentication failed")

// AuthenticateSASL runs a SASL exchange on c with m and returns the session
// lifetime the broker granted (0: none, KIP-152). On failure the broker
// closes the connection, so the Client should be discarded.
func (c *Client) AuthenticateSASL(ctx context.Context, m sasl.Mechanism) (time.Duration, error) {
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.SetVersion(1)
	hs.Mechanism = m.Name()
	resp, err := c.Request(ctx, hs)
	if err != nil {
		return 0, err
	}
	if r := resp.(*kmsg.SASLHandshakeResponse); r.ErrorCode != 0 {
		return 0, fmt.Errorf("%w: SaslHandshake %s: %w (broker enables %v)", ErrSASLFailed, m.Name(), kerr.ErrorForCode(r.ErrorCode), r.SupportedMechanisms)
	}
	host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	session, out, err := m.Authenticate(ctx, host)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrSASLFailed, m.Name(), err)
	}
	for {
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.SetVersion(1)
		req.SASLAuthBytes = out
		resp, err := c.Request(ctx, req)
		if err != nil {
			return 0, err
		}
		r := resp.(*kmsg.SASLAuthenticateResponse)
		if r.ErrorCode != 0 {
			msg := ""
			if r.ErrorMessage != nil {
				msg = ": " + *r.ErrorMessage
			}
			return 0, fmt.Errorf("%w: %s: %w%s", ErrSASLFailed, m.Name(), kerr.ErrorForCode(r.ErrorCode), msg)
		}
		done, next, err := session.Challenge(r.SASLAuthBytes)
		if err != nil {
			return 0, fmt.Errorf("%w: %s: %w", ErrSASLFailed, m.Name(), err)
		}
		if done {
			return time.Duration(r.SessionLifetimeMillis) * time.Millisecond, nil
		}
		out = next
	}
}

// SASLClient is a Client that authenticated with SASL and re-authenticates
// (KIP-368) before its session lifetime runs out, so a long-lived follower
// connection is not closed by a broker with connections.max.reauth.ms.
// Requests are serialized, as on Client.
type SASLClient struct {
	*Client
	mech sasl.Mechanism

	mu       sync.Mutex // serializes Request with re-authentication
	reauthAt time.Time  // zero: the session has no lifetime
}

// DialSASL dials addr (as DialWith) and authenticates with m.
func DialSASL(ctx context.Context, dial DialFunc, addr, clientID string, m sasl.Mechanism) (*SASLClient, error) {
	cl, err := DialWith(ctx, dial, addr, clientID)
	if err != nil {
		return nil, err
	}
	return NewSASLClient(ctx, cl, m)
}

// NewSASLClient authenticates an open Client (plain TCP or TLS) with m; on
// failure it closes cl.
func NewSASLClient(ctx context.Context, cl *Client, m sasl.Mechanism) (*SASLClient, error) {
	sc := &SASLClient{Client: cl, mech: m}
	if err := sc.authenticate(ctx); err != nil {
		cl.Close()
		return nil, err
	}
	return sc, nil
}

// authenticate runs the exchange and schedules the next one at 85% of the
// granted lifetime (room for a slow round trip, as franz-go leaves).
func (c *SASLClient) authenticate(ctx context.Context) error {
	start := time.Now()
	life, err := c.Client.AuthenticateSASL(ctx, c.mech)
	if err != nil {
		return err
	}
	c.reauthAt = time.Time{}
	if life > 0 {
		c.reauthAt = start.Add(life * 85 / 100)
	}
	return nil
}

// Request re-authenticates first when the session is about to end, then
// sends req.
func (c *SASLClient) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.reauthAt.IsZero() && !time.Now().Before(c.reauthAt) {
		if err := c.authenticate(ctx); err != nil {
			c.Client.Close()
			return nil, fmt.Errorf("wire: re-authentication: %w", err)
		}
	}
	return c.Client.Request(ctx, req)
}
