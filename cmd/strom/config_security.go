package main

import (
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
