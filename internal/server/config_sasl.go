package server

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/strombroker/strom/internal/sasl"
	"github.com/strombroker/strom/wire"
)

// DefaultSASLMechanisms is sasl.enabled.mechanisms when unset. Kafka's
// default is GSSAPI, which Strom does not implement; Strom enables the three
// mechanisms it has.
var DefaultSASLMechanisms = []string{sasl.Plain, sasl.ScramSHA256, sasl.ScramSHA512}

// SASLConfig is the SASL part of the broker configuration, under Kafka's
// property names. It only matters for SASL_PLAINTEXT and SASL_SSL listeners.
type SASLConfig struct {
	// EnabledMechanisms is sasl.enabled.mechanisms; nil means
	// DefaultSASLMechanisms.
	EnabledMechanisms []string
	// ListenerMechanisms is listener.name.<listener>.sasl.enabled.mechanisms
	// (listener name upper-cased), overriding EnabledMechanisms.
	ListenerMechanisms map[string][]string
	// JAAS holds sasl.jaas.config values by scope: "" for the unprefixed
	// sasl.jaas.config, "LISTENER" for listener.name.<listener>.sasl.jaas.config
	// and "LISTENER/mechanism" (mechanism lower-case, as in Kafka's
	// listener.name.<listener>.<mechanism>.sasl.jaas.config). The most
	// specific one applies.
	JAAS map[string]string
	// InterBrokerMechanism is sasl.mechanism.inter.broker.protocol, used when
	// the inter-broker listener is SASL_*; "" means PLAIN (Kafka: GSSAPI).
	InterBrokerMechanism string
	// MaxReauth is connections.max.reauth.ms (KIP-152): an authenticated
	// session lasts this long, then the client must re-authenticate or be
	// disconnected at its next request. 0 (the default) means no lifetime.
	MaxReauth time.Duration

	// DelegationTokenSecretKey is delegation.token.secret.key: the key the
	// brokers sign delegation tokens with (HMAC-SHA512 of the token id),
	// the same on every broker. Empty (the default) disables delegation
	// tokens (delegationtokens.go).
	DelegationTokenSecretKey string
	// DelegationTokenMaxLifetime is delegation.token.max.lifetime.ms: no
	// token lives longer, however renewed (7 days, as Kafka).
	DelegationTokenMaxLifetime time.Duration
	// DelegationTokenExpiryTime is delegation.token.expiry.time.ms: how
	// long a token lives until renewed, when the request does not say (24
	// hours, as Kafka).
	DelegationTokenExpiryTime time.Duration
}

// mechanisms returns the SASL mechanisms enabled on listener.
func (c *SASLConfig) mechanisms(listener string) []string {
	if m, ok := c.ListenerMechanisms[listener]; ok {
		return m
	}
	if c.EnabledMechanisms != nil {
		return c.EnabledMechanisms
	}
	return DefaultSASLMechanisms
}

// jaas returns the sasl.jaas.config that applies to mechanism on listener.
func (c *SASLConfig) jaas(listener, mechanism string) string {
	for _, k := range []string{listener + "/" + strings.ToLower(mechanism), listener, ""} {
		if v, ok := c.JAAS[k]; ok {
			return v
		}
	}
	return ""
}

// interBrokerMechanism is the mechanism brokers authenticate to each other with.
func (c *SASLConfig) interBrokerMechanism() string {
	if c.InterBrokerMechanism == "" {
		return sasl.Plain
	}
	return c.InterBrokerMechanism
}

// ParseMechanisms parses a sasl.enabled.mechanisms list (comma-separated;
// names are case-sensitive, as in Kafka).
func ParseMechanisms(v string) []string {
	out := []string{}
	for _, m := range strings.Split(v, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// authenticator builds listener's SASL authenticator: its mechanisms, and
// PLAIN's users from the PlainLoginModule of its JAAS config.
func (c *Config) authenticator(listener string, store sasl.Store) (*sasl.Authenticator, error) {
	sc := &c.SASL
	cfg := sasl.Config{Mechanisms: sc.mechanisms(listener), Store: store}
	if j := sc.jaas(listener, sasl.Plain); j != "" {
		m, err := sasl.ParseJAASModule(j)
		if err != nil {
			return nil, fmt.Errorf("sasl.jaas.config of listener %s: %w", listener, err)
		}
		if m.Class == sasl.PlainLoginModule {
			cfg.PlainUsers = m.PlainUsers()
		}
	}
	a, err := sasl.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("sasl.enabled.mechanisms of listener %s: %w", listener, err)
	}
	return a, nil
}

// interBrokerCredentials are the username and password this broker
// authenticates with on the inter-broker listener: the JAAS username and
// password options for the inter-broker mechanism (Kafka's convention).
func (c *Config) interBrokerCredentials() (user, pass string, err error) {
	l := c.interBrokerListener()
	mech := c.SASL.interBrokerMechanism()
	j := c.SASL.jaas(l, mech)
	if j == "" {
		return "", "", fmt.Errorf("inter-broker listener %s is %s but has no sasl.jaas.config for %s with username and password", l, c.SecurityProtocol(l), mech)
	}
	m, err := sasl.ParseJAASModule(j)
	if err != nil {
		return "", "", fmt.Errorf("sasl.jaas.config of listener %s: %w", l, err)
	}
	user, pass = m.Options["username"], m.Options["password"]
	if user == "" || pass == "" {
		return "", "", fmt.Errorf("sasl.jaas.config of listener %s for %s lacks username or password (the broker's own inter-broker credentials)", l, mech)
	}
	return user, pass, nil
}

// interBrokerListener is the listener name brokers reach each other on.
func (c *Config) interBrokerListener() string {
	if c.InterBrokerListenerName != "" {
		return c.InterBrokerListenerName
	}
	if len(c.Listeners) > 0 {
		return c.Listeners[0].Name
	}
	return ""
}

// isSASL reports whether a security protocol authenticates with SASL.
func isSASL(protocol string) bool {
	return protocol == wire.ProtocolSASLPlaintext || protocol == wire.ProtocolSASLSSL
}

// validateSASL checks the SASL settings of every SASL listener, and that
// the inter-broker listener, if SASL, has this broker's credentials.
func (c *Config) validateSASL() error {
	var errs []error
	if c.SASL.DelegationTokenMaxLifetime <= 0 || c.SASL.DelegationTokenExpiryTime <= 0 {
		errs = append(errs, fmt.Errorf("delegation.token.max.lifetime.ms and delegation.token.expiry.time.ms must be > 0, got %d and %d",
			c.SASL.DelegationTokenMaxLifetime.Milliseconds(), c.SASL.DelegationTokenExpiryTime.Milliseconds()))
	}
	if c.SASL.MaxReauth < 0 {
		errs = append(errs, fmt.Errorf("connections.max.reauth.ms must be >= 0, got %d", c.SASL.MaxReauth.Milliseconds()))
	}
	for _, l := range c.Listeners {
		if !isSASL(c.SecurityProtocol(l.Name)) {
			continue
		}
		if _, err := c.authenticator(l.Name, nil); err != nil {
			errs = append(errs, err)
		}
		if len(c.SASL.mechanisms(l.Name)) == 0 {
			errs = append(errs, fmt.Errorf("listener %s is %s but enables no SASL mechanism", l.Name, c.SecurityProtocol(l.Name)))
		}
	}
	if l := c.interBrokerListener(); isSASL(c.SecurityProtocol(l)) {
		m := c.SASL.interBrokerMechanism()
		if m != sasl.Plain && !sasl.IsScram(m) {
			errs = append(errs, fmt.Errorf("sasl.mechanism.inter.broker.protocol %q: Strom supports PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512", m))
		}
		if _, _, err := c.interBrokerCredentials(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
