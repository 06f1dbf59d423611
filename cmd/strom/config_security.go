package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/strombroker/strom/internal/acl"
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
	{"ssl-keystore-type", []string{"ssl.keystore.type"}, "keystore format of SSL and SASL_SSL listeners: PEM (the only one supported)", sslSetter("ssl.keystore.type")},
	{"ssl-keystore-location", []string{"ssl.keystore.location"}, "PEM file with the private key (PKCS#8, unencrypted) and certificate chain of SSL and SASL_SSL listeners; reloaded when it changes", sslSetter("ssl.keystore.location")},
	{"ssl-key-password", []string{"ssl.key.password"}, "password of an encrypted private key: not supported (an encrypted key is refused at start)", sslSetter("ssl.key.password")},
	{"ssl-keystore-certificate-chain", []string{"ssl.keystore.certificate.chain"}, "the certificate chain as a PEM string, instead of ssl.keystore.location", sslSetter("ssl.keystore.certificate.chain")},
	{"ssl-keystore-key", []string{"ssl.keystore.key"}, "the private key as a PEM string, with ssl.keystore.certificate.chain (prefer a properties file or the env var: flags show in ps)", sslSetter("ssl.keystore.key")},
	{"ssl-truststore-type", []string{"ssl.truststore.type"}, "truststore format: PEM (the only one supported)", sslSetter("ssl.truststore.type")},
	{"ssl-truststore-location", []string{"ssl.truststore.location"}, "PEM file of the CA certificates client certificates (and, for followers, peer brokers) are verified with; reloaded when it changes", sslSetter("ssl.truststore.location")},
	{"ssl-truststore-certificates", []string{"ssl.truststore.certificates"}, "the truststore's CA certificates as a PEM string, instead of ssl.truststore.location", sslSetter("ssl.truststore.certificates")},
	{"ssl-client-auth", []string{"ssl.client.auth"}, "client certificates on SSL listeners: none, requested (verified when given) or required (mTLS)", sslSetter("ssl.client.auth")},
	{"ssl-principal-mapping-rules", []string{"ssl.principal.mapping.rules"}, "how a client certificate's subject becomes its principal: RULE:pattern/replacement/[LU],...,DEFAULT (DEFAULT: the subject, e.g. CN=client,OU=eng,O=acme)", sslSetter("ssl.principal.mapping.rules")},
	{"ssl-enabled-protocols", []string{"ssl.enabled.protocols"}, "TLS versions accepted: TLSv1.2,TLSv1.3 (default both)", sslSetter("ssl.enabled.protocols")},
	{"ssl-protocol", []string{"ssl.protocol"}, "TLSv1.3 (default), TLSv1.2 (caps the version at 1.2) or TLS", sslSetter("ssl.protocol")},
	{"ssl-cipher-suites", []string{"ssl.cipher.suites"}, "comma-separated TLS 1.2 cipher suites (IANA names); default Go's secure set", sslSetter("ssl.cipher.suites")},
	{"ssl-endpoint-identification-algorithm", []string{"ssl.endpoint.identification.algorithm"}, "followers verify that the leader's certificate names the address they dial (https, the default); empty: verify the chain only", sslSetter("ssl.endpoint.identification.algorithm")},
	{"raft-security-protocol", []string{"raft.security.protocol"}, "Strom's own: PLAINTEXT or SSL, mutual TLS on the Raft port (controller RPCs and forwarded metadata writes) with the ssl.* settings, overridden by listener.name.raft.ssl.*; client certificates are always required there", func(c *server.Config, v string) error {
		c.RaftSecurityProtocol = strings.ToUpper(strings.TrimSpace(v))
		return nil
	}},
	{"ssl-reload-interval-ms", []string{"ssl.reload.interval.ms"}, "Strom's own: how often keystore and truststore files are checked for changes (-1 = never)", durSetter(time.Millisecond, func(c *server.Config) *time.Duration { return &c.TLSReloadInterval })},
	{"authorizer-class-name", []string{"authorizer.class.name"}, "turns authorization (ACLs) on: org.apache.kafka.metadata.authorizer.StandardAuthorizer (or kafka.security.authorizer.AclAuthorizer, or strom); empty (default) allows everything", func(c *server.Config, v string) error {
		name, err := server.ParseAuthorizerClassName(strings.TrimSpace(v))
		c.Authorizer = name
		return err
	}},
	{"super-users", []string{"super.users"}, "semicolon-separated principals allowed everything (User:admin;User:CN=broker1); put the brokers' own principal here", func(c *server.Config, v string) error {
		users, err := acl.ParseSuperUsers(v)
		c.SuperUsers = users
		return err
	}},
	{"allow-everyone-if-no-acl-found", []string{"allow.everyone.if.no.acl.found"}, "with an authorizer, allow operations on resources no ACL names", func(c *server.Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		c.AllowEveryoneIfNoACLFound = b
		return err
	}},
}

// sslSetter sets the broker-wide ssl.* property key; its value is checked
// when the configuration is validated (server.TLSSettings). Per-listener
// listener.name.<name>.ssl.* keys go through server.Config.SetListenerSSL.
func sslSetter(key string) func(*server.Config, string) error {
	return func(c *server.Config, v string) error {
		if !c.SSL.Set(key, v) {
			return fmt.Errorf("unknown TLS setting %s", key)
		}
		return nil
	}
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
	{"delegation-token-secret-key", []string{"delegation.token.secret.key"}, "key delegation tokens are signed with, the same on every broker; empty (the default) disables delegation tokens; prefer the properties file, flags show in ps", func(c *server.Config, v string) error {
		c.SASL.DelegationTokenSecretKey = v
		return nil
	}},
	{"delegation-token-max-lifetime-ms", []string{"delegation.token.max.lifetime.ms"}, "longest a delegation token lives, however renewed (default 604800000, 7 days)", positiveDur(time.Millisecond, func(c *server.Config) *time.Duration { return &c.SASL.DelegationTokenMaxLifetime })},
	{"delegation-token-expiry-time-ms", []string{"delegation.token.expiry.time.ms"}, "how long a delegation token lives until renewed, by default (default 86400000, 24 hours)", positiveDur(time.Millisecond, func(c *server.Config) *time.Duration { return &c.SASL.DelegationTokenExpiryTime })},
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
