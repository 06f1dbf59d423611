package membership

import "errors"

// Sentinel errors. Callers test them with errors.Is; the returned errors wrap
// them with the details (which field is too long, which address already holds
// the node id). This package never speaks Kafka error codes.
var (
	// ErrInvalidConfig: Config.Validate failed.
	ErrInvalidConfig = errors.New("membership: invalid config")
	// ErrMetaTooLarge: the encoded node meta exceeds memberlist's 512-byte
	// limit (memberlist.MetaMaxSize). memberlist itself panics on oversized
	// meta, so Start and UpdateMeta refuse it first and name the biggest
	// fields.
	ErrMetaTooLarge = errors.New("membership: node meta too large")
	// ErrInvalidMeta: meta whose NodeID is not this node's, or gossiped meta
	// that does not decode (a peer that is not a Strom broker).
	ErrInvalidMeta = errors.New("membership: invalid node meta")
	// ErrDuplicateNodeID: another live process at a different address already
	// claims this node id. Start returns it to the late joiner; the broker
	// that was there first keeps running and refuses the newcomer's gossip.
	ErrDuplicateNodeID = errors.New("membership: duplicate node id")
	// ErrJoin: Start's context ended before any join address answered.
	ErrJoin = errors.New("membership: could not join the cluster")
	// ErrBroadcastTimeout: UpdateMeta or Leave could not confirm within the
	// timeout that the message went out. The change is still queued and
	// gossip keeps spreading it; this only says it was not confirmed.
	ErrBroadcastTimeout = errors.New("membership: broadcast not confirmed in time")
	// ErrClosed: the Membership has been shut down (or, for UpdateMeta, has
	// left).
	ErrClosed = errors.New("membership: left or shut down")
)
