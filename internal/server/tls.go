package server

import (
	"crypto/tls"
	"crypto/x509"

	"github.com/strombroker/strom/wire"
)

// startTLS loads the certificates of every SSL and SASL_SSL listener (a
// missing or bad file fails the start) and starts their reloaders.
func (s *Server) startTLS() error {
	for _, l := range s.cfg.Listeners {
		if !usesTLS(s.cfg.SecurityProtocol(l.Name)) {
			continue
		}
		src, err := newTLSSource(l.Name, s.cfg.ListenerTLS(l.Name), s.logger.With("component", "tls"))
		if err != nil {
			return err
		}
		if s.tls == nil {
			s.tls = map[string]*tlsSource{}
		}
		s.tls[l.Name] = src
		if s.cfg.TLSReloadInterval > 0 {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				src.run(s.ctx, s.cfg.TLSReloadInterval)
			}()
		}
	}
	return nil
}

// listenerTLS is what the wire server of the listener called name needs
// for TLS: its configuration, and on an SSL listener the mapping of client
// certificates to principals (on SASL_SSL the principal comes from SASL, as
// in Kafka). Nil and nil for a plaintext listener.
func (s *Server) listenerTLS(name string) (*tls.Config, func(*x509.Certificate) (wire.Principal, error)) {
	src := s.tls[name]
	if src == nil {
		return nil, nil
	}
	if s.cfg.SecurityProtocol(name) != wire.ProtocolSSL {
		return src.serverConfig(), nil
	}
	return src.serverConfig(), src.mapper.Principal
}

// interBrokerNetDial opens the connections follower fetches go over: TLS
// with this broker's keystore as client certificate when the inter-broker
// listener is SSL or SASL_SSL, plain TCP otherwise (over Config.Dial, the
// test harness's network, when set). The SASL step of SASL_SSL and
// SASL_PLAINTEXT belongs on top of the connection this returns.
func (s *Server) interBrokerNetDial() wire.DialFunc {
	name := s.cfg.InterBrokerListenerName
	if name == "" {
		name = s.cfg.Listeners[0].Name
	}
	src := s.tls[name]
	if src == nil {
		return s.cfg.Dial
	}
	return wire.TLSDial(s.cfg.Dial, src.clientConfig)
}
