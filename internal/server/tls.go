package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

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
	return s.startRaftTLS()
}

// raftTLSName names the Raft port where TLS settings are per listener:
// listener.name.raft.ssl.* overrides the ssl.* settings for it, and logs
// and errors call it so.
const raftTLSName = "RAFT"

// raftTLSSettings are the Raft port's TLS settings: the broker-wide ssl.*
// ones with listener.name.raft.ssl.* applied, and client certificates
// always required, since only brokers may speak on that port.
func (c *Config) raftTLSSettings() TLSSettings {
	st := c.ListenerTLS(raftTLSName)
	st.ClientAuth = "required"
	return st
}

// validateRaftTLS checks raft.security.protocol and, for SSL, the settings
// the Raft port would load (a keystore, and a truststore to verify peers).
func (c *Config) validateRaftTLS() error {
	switch strings.ToUpper(c.RaftSecurityProtocol) {
	case "", wire.ProtocolPlaintext:
		return nil
	case wire.ProtocolSSL:
		st := c.raftTLSSettings()
		if st.TruststoreLocation == "" && st.TruststoreCertificates == "" {
			return errors.New("raft.security.protocol=SSL needs the CAs brokers' certificates are verified with: set ssl.truststore.location or ssl.truststore.certificates (or listener.name.raft.ssl.*)")
		}
		return st.validate(raftTLSName)
	default:
		return fmt.Errorf("raft.security.protocol=%s: want PLAINTEXT or SSL", c.RaftSecurityProtocol)
	}
}

// startRaftTLS loads the Raft port's certificates when
// raft.security.protocol is SSL, and starts their reloader.
func (s *Server) startRaftTLS() error {
	if !strings.EqualFold(s.cfg.RaftSecurityProtocol, wire.ProtocolSSL) {
		return nil
	}
	src, err := newTLSSource(raftTLSName, s.cfg.raftTLSSettings(), s.logger.With("component", "tls"))
	if err != nil {
		return err
	}
	s.raftTLS = src
	if s.cfg.TLSReloadInterval > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			src.run(s.ctx, s.cfg.TLSReloadInterval)
		}()
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
