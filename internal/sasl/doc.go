// Package sasl is the server side of Kafka's SASL authentication: the
// PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 mechanisms, the credentials they
// check, and the parser for Kafka's JAAS configuration strings
// (sasl.jaas.config), which is where Kafka keeps PLAIN users and a broker's
// own inter-broker credentials.
//
// The Kafka framing (SaslHandshake, SaslAuthenticate, the per-connection
// gate) is elsewhere: wire enforces that nothing but the exchange runs
// before authentication, and internal/server's handlers for keys 17 and 36
// drive an Exchange from this package. SCRAM credentials live in the
// replicated metadata (raftmeta); this package reads them through Store and
// never sees a SCRAM user's password.
//
// SCRAM itself (RFC 5802) is github.com/xdg-go/scram; only the Kafka rules
// around it (iteration bounds, how a salted password becomes StoredKey and
// ServerKey, PLAIN checked against a SCRAM credential) are written here.
package sasl
