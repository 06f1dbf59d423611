package wire

import "sync/atomic"

// Security protocols of a listener, Kafka's names (listener.security.protocol.map).
const (
	ProtocolPlaintext     = "PLAINTEXT"
	ProtocolSSL           = "SSL"
	ProtocolSASLPlaintext = "SASL_PLAINTEXT"
	ProtocolSASLSSL       = "SASL_SSL"
)

// Principal is who a connection acts as, in Kafka's "Type:Name" form
// (KafkaPrincipal): User:alice after SASL, User:CN=client,O=acme from a
// client certificate, User:ANONYMOUS on a PLAINTEXT listener (and on SSL
// without a client certificate), which is how Kafka lets a loopback
// listener bootstrap the first users.
type Principal struct {
	Type string // "User" for every principal a listener produces
	Name string
}

// Anonymous is the principal of an unauthenticated connection.
var Anonymous = Principal{Type: "User", Name: "ANONYMOUS"}

// String is "Type:Name", the form ACLs and super.users name principals in.
func (p Principal) String() string { return p.Type + ":" + p.Name }

// Principal returns who the connection is authenticated as: Anonymous until
// SetPrincipal (a TLS client certificate or a completed SASL exchange).
func (c *ConnInfo) Principal() Principal {
	if p := c.principal.Load(); p != nil {
		return *p
	}
	return Anonymous
}

// SetPrincipal records who the connection is authenticated as. Only the
// connection's own authentication steps call it (the TLS handshake, a SASL
// exchange and its KIP-152 re-authentications); requests read it.
func (c *ConnInfo) SetPrincipal(p Principal) { c.principal.Store(&p) }

// principalSlot is the atomically replaced principal of a ConnInfo.
type principalSlot = atomic.Pointer[Principal]
