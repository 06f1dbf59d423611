package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/strombroker/strom/internal/sasl"
	"github.com/strombroker/strom/internal/server"
)

// securitySettings are the listener security, TLS, SASL and authorizer
// settings, under Kafka's property names.
var securitySettings = []setting{
	{"listener-security-protocol-map", []string{"listener.security.protocol.map"}, "NAME:PROTOCOL,... giving each listener's security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL); a listener named after a protocol has it, any other unmapped one is PLAINTEXT", func(c *server.Config, v string) error {
		m, err := server.ParseSecurityProtocolMap(v)
		c.ListenerSecurityProtocols = m
		return err
	}},
}

// saslSettings are the SASL settings (internal/server/config_sasl.go).
// Per-listener forms (listener.name.<listener>.…) are properties-file keys
// only; see applyListenerProperty.
var saslSettings = []setting{
	{"sasl-enabled-mechanisms", []string{"sasl.enabled.mechanisms"}, "SASL mechanisms of SASL_* listeners: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (default all three; Kafka's default GSSAPI is not implemented)", func(c *server.Config, v string) error {
		c.SASL.EnabledMechanisms = server.ParseMechanisms(v)
		return nil
	}},
	{"sasl-jaas-config", []string{"sasl.jaas.config"}, "JAAS login module for every SASL listener (PlainLoginModule user_<name>=\"<password>\" entries are PLAIN's users; username/password are this broker's inter-broker credentials); prefer the properties file, flags show in ps", func(c *server.Config, v string) error {
		return setJAAS(c, "", v)
	}},
	{"sasl-mechanism-inter-broker-protocol", []string{"sasl.mechanism.inter.broker.protocol"}, "SASL mechanism brokers authenticate to each other with when the inter-broker listener is SASL_* (default PLAIN; Kafka's GSSAPI is not implemented)", func(c *server.Config, v string) error {
		c.SASL.InterBrokerMechanism = strings.TrimSpace(v)
		return nil
	}},
	{"connections-max-reauth-ms", []string{"connections.max.reauth.ms"}, "KIP-152 SASL session lifetime: clients re-authenticate within it or are disconnected (0 = off, the default)", func(c *server.Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return err
		}
		if n < 0 {
			return fmt.Errorf("must be >= 0, got %d", n)
		}
		c.SASL.MaxReauth = time.Duration(n) * time.Millisecond
		return nil
	}},
}

// setJAAS records a sasl.jaas.config for scope ("" or "LISTENER" or
// "LISTENER/mechanism"), checking that it parses.
func setJAAS(c *server.Config, scope, v string) error {
	if _, err := sasl.ParseJAASModule(v); err != nil {
		return err
	}
	if c.SASL.JAAS == nil {
		c.SASL.JAAS = map[string]string{}
	}
	c.SASL.JAAS[scope] = v
	return nil
}

// applyListenerProperty sets a listener-prefixed SASL property, Kafka's
// listener.name.<listener>.sasl.enabled.mechanisms and
// listener.name.<listener>.[<mechanism>.]sasl.jaas.config (listener name
// lower-case in Kafka's docs, matched case-insensitively). It reports
// whether key is one of them.
func applyListenerProperty(c *server.Config, key, v string) (bool, error) {
	rest, ok := strings.CutPrefix(key, "listener.name.")
	if !ok {
		return false, nil
	}
	listener, prop, ok := strings.Cut(rest, ".")
	if !ok || listener == "" {
		return false, nil
	}
	listener = strings.ToUpper(listener)
	switch {
	case prop == "sasl.enabled.mechanisms":
		if c.SASL.ListenerMechanisms == nil {
			c.SASL.ListenerMechanisms = map[string][]string{}
		}
		c.SASL.ListenerMechanisms[listener] = server.ParseMechanisms(v)
		return true, nil
	case prop == "sasl.jaas.config":
		return true, setJAAS(c, listener, v)
	case strings.HasSuffix(prop, ".sasl.jaas.config"):
		mech := strings.TrimSuffix(prop, ".sasl.jaas.config")
		return true, setJAAS(c, listener+"/"+strings.ToLower(mech), v)
	}
	return false, nil
}
