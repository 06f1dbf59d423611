package main

import (
	"strconv"
	"strings"

	"github.com/strombroker/strom/internal/acl"
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
