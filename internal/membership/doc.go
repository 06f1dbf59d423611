// Package membership tells each Strom broker which other brokers are alive,
// where to reach them and what they advertise, using hashicorp/memberlist
// (SWIM gossip). The cluster control loop (internal/controller) turns these
// facts into the Raft quorum, fencing, Raft voters and partition leadership
// (brokers register themselves with the metadata, raftmeta's
// RegisterBroker, at start); this package only observes and reports, and
// imports nothing internal.
//
// # Node meta
//
// Every broker gossips a Meta (node id, listeners, Raft address, rack,
// version) in memberlist's alive messages. memberlist caps it at 512 bytes
// (MetaMaxSize) and panics beyond, so it is JSON with one- or two-letter keys,
// and Start and UpdateMeta refuse oversized meta with ErrMetaTooLarge naming
// the largest fields. Unknown keys are ignored on decode, so fields can be
// added (short keys, omitempty) without breaking older brokers.
//
// # Node ids are unique
//
// The memberlist node name is "strom-<id>". A second process claiming a live
// id from another address is refused in three places: NotifyMerge on both
// ends of a join (the joiner refuses a cluster that already has its id; the
// cluster refuses a joiner whose id it has at another address), NotifyAlive on
// every alive message (nobody may claim this node's own id, and a name must
// match its meta's id), and memberlist's own name-conflict check, reported
// through NotifyConflict. When Start meets a claim on its id from another
// address it pings that address under the id: if the claimant answers, Start
// returns ErrDuplicateNodeID and the broker that was first keeps running; if
// not, it is this broker's own previous incarnation (a crash and a restart on
// a new port), and Start retries until the cluster's failure detector has
// declared it dead. From then on the id may return from the new address.
//
// # Events
//
// memberlist reports joins, updates and departures through synchronous
// callbacks made under its node lock. The callbacks update a member table
// (what Members returns) and push onto an event queue that never blocks: a
// goroutine owned by the Membership moves events into the Events channel,
// and undelivered events for the same node coalesce into the newest, so a
// stalled consumer costs at most one pending event per node and never stalls
// gossip.
//
// memberlist does not tell its delegates a graceful leave from a failure
// (v0.6.0 leaves Node.State unset in NotifyLeave). So Leave first sends every
// live member a direct "leaving" message over TCP and waits for each to
// acknowledge it, then broadcasts memberlist's leave; a member that recorded
// the message reports EventLeave, otherwise EventFail. Without the
// acknowledgement the leave (UDP gossip) could overtake the message on a busy
// receiver. If a member does not acknowledge in time and the leave overtakes
// the message after all, the receiver reports Fail and then corrects it with
// Leave. A member that is leaving too says so in its acknowledgement; when
// every live member is leaving (a whole cluster stopped at once), nobody is
// left to gossip memberlist's leave to, so Leave skips it instead of waiting
// out its timeout.
//
// # Locks
//
// Lock order: memberlist's node lock, then Membership.mu. The delegate
// callbacks run under memberlist's lock and take mu, so no code calls into
// memberlist while holding mu. Membership.lifecycle (shared by Leave and
// UpdateMeta, exclusive in Shutdown) is taken before either and only guards
// against calling memberlist after Shutdown.
//
// # Not yet
//
// Healing split clusters: memberlist never merges two clusters that do not
// know each other, so brokers that start at the same moment with join lists
// that resolve only to themselves (say, a headless service's DNS before its
// peers are ready) each start alone. This package leaves them apart; the
// controller calls Rejoin every couple of seconds while it sees fewer peers
// than it expects, which merges them once the names resolve. Also missing: gossip
// encryption and cluster labels, and a callback for a duplicate id that
// shows up after Start (it is refused and logged, but the late process
// keeps running).
package membership
