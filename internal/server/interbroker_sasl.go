package server

import (
	"context"
	"fmt"

	fsasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/strombroker/strom/internal/sasl"
	"github.com/strombroker/strom/replica"
	"github.com/strombroker/strom/wire"
)

// interBrokerSASL sets the follower fetchers' dialer to authenticate, when
// the inter-broker listener is SASL_PLAINTEXT or SASL_SSL, with
// sasl.mechanism.inter.broker.protocol and this broker's own JAAS username
// and password (Kafka's convention). Leaders then see the follower as
// User:<that username>. Config.Validate has checked the credentials exist.
// It wraps a Dialer set before it (TLS), so it must be applied last.
func (s *Server) interBrokerSASL(repl *replica.ReplicationConfig) {
	if !isSASL(s.cfg.SecurityProtocol(s.cfg.interBrokerListener())) {
		return
	}
	user, pass, err := s.cfg.interBrokerCredentials()
	if err != nil {
		s.logger.Error("inter-broker SASL credentials missing; follower fetches will fail", "err", err)
		return
	}
	mech := interBrokerMechanism(s.cfg.SASL.interBrokerMechanism(), user, pass)
	netDial, prev := repl.NetDial, repl.Dialer
	clientID := fmt.Sprintf("strom-replica-fetcher-%d", s.cfg.NodeID)
	repl.Dialer = func(ctx context.Context, addr string) (replica.Requester, error) {
		if prev == nil {
			cl, err := wire.DialSASL(ctx, netDial, addr, clientID, mech)
			if err != nil {
				return nil, err
			}
			return cl, nil
		}
		// Another layer (TLS for SASL_SSL) dials: authenticate over its
		// connection.
		r, err := prev(ctx, addr)
		if err != nil {
			return nil, err
		}
		cl, ok := r.(*wire.Client)
		if !ok {
			r.Close()
			return nil, fmt.Errorf("inter-broker SASL needs a *wire.Client, the dialer returned %T", r)
		}
		sc, err := wire.NewSASLClient(ctx, cl, mech)
		if err != nil {
			return nil, err
		}
		return sc, nil
	}
}

// interBrokerMechanism is franz-go's client side of mechanism.
func interBrokerMechanism(mechanism, user, pass string) fsasl.Mechanism {
	switch mechanism {
	case sasl.ScramSHA256:
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	case sasl.ScramSHA512:
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
	}
	return plain.Auth{User: user, Pass: pass}.AsMechanism()
}
