// Package netfault is a fault-injecting network for in-process cluster
// tests (internal/cluster): it lets a test partition brokers that all live
// in one process on loopback, where there is no firewall to pull.
//
// A Network knows which node owns which listening address (Register) and
// which pairs of nodes are cut, and how (Cut, Heal). Each node gets a dial
// function (Dialer) for its outbound connections and a wrapper for its
// gossip transport (WrapGossip); the brokers take them through
// server.Config.Dial and server.Config.WrapGossip. Because every
// broker-to-broker TCP connection is dialed through the dialing node's
// Dialer, wrapping the dialing end is enough to cut both directions of it;
// gossip packets are filtered on send and on receipt (a UDP packet carries
// its sender's gossip address).
//
// Cutting a link affects connections already open across it, not only new
// dials: under Blackhole they stall (Read and Write block until their
// deadline or Close, as with a peer behind a pulled cable), under Refuse
// they are reset. A connection stalled by a cut never carries traffic
// again; Heal resets it so its owner redials at once. Closing a stalled
// connection does close the real socket, so its peer sees the connection
// end, which a real black hole would hide; nothing in Strom relies on that.
//
// Addresses no node registered (the test's own Kafka clients, say) are never
// cut, unless the client dials through a Dialer of its own pseudo node.
//
// Lock order: Network.mu, then conn.mu.
package netfault
