// Package raftmeta holds Strom's cluster metadata (brokers, topics,
// partition leadership, producer-id blocks, the cluster id) and the Raft node
// that replicates it: the controller.
//
// # Design
//
// Every broker runs hashicorp/raft with raft-boltdb/v2, even alone: a single
// broker is a one-voter cluster, so there is one code path for one node and
// for many. The raft leader is the controller; only it accepts writes.
//
// The metadata is a deterministic state machine (fsm.go). Each raft log
// entry is one command: a type byte followed by a JSON body (command.go).
// The command codes are append-only; an entry with a code this binary does
// not know fails loudly (ErrUnknownCommand, logged on every replica) rather
// than being skipped. Anything random — topic ids, the replica placement
// offset, the cluster id — is chosen by the proposer and written into the
// command, so every replica applying the log computes identical state.
//
// The FSM trusts no command: each is checked when it is proposed and again
// when it is applied (validate.go), whatever path brought it into the log —
// a Kafka handler, the forwarding port, a buggy or older proposer. Topic
// names must pass ValidateTopicName (Kafka's rules; a name becomes a
// partition directory name, so "x/../orders" must never reach the disk),
// partition counts and replica lists are bounded and name distinct
// registered brokers, an ISR is a subset of the replicas and a leader is in
// it or -1, broker listeners have a name, a host and a port in 1..65535,
// config keys and values and producer-id blocks are bounded. A command that
// fails is refused with an error result (a sentinel of errors.go) on every
// replica alike and changes nothing; apply never panics on input (a guard
// turns an unexpected panic into ErrCorruptCommand, identically everywhere,
// because apply never mutates the state it reads). Tightening a check is a
// compatibility change: replicas of a newer binary refuse entries an older
// leader accepted, so checks are only tightened for inputs no correct
// proposer produces.
//
// Readers never lock the FSM: after each applied command the FSM publishes a
// new immutable *State through an atomic pointer, and Changed returns a
// channel closed at the next publication. The controller id is not FSM state
// (it is raft's view of the leader) and is overlaid on the published copy.
//
// Partition reassignments (Partition.AddingReplicas/RemovingReplicas,
// command ReassignPartition, reassign.go) and dynamic broker configs
// (State.BrokerConfigs, command AlterBrokerConfigs, brokerconfigs.go) live
// in the log too, so a new controller continues a reassignment.
//
// Client quotas (State.Quotas, command AlterClientQuotas, quotas.go) are
// stored by entity (user and/or client id, "" the default); the server
// validates keys and enforces them.
//
// A broker gone for good is removed from State.Brokers by command
// UnregisterBroker (unregister.go: only fenced brokers, at the epoch the
// proposer saw; it leaves the ISRs and its partitions go leaderless for the
// controller to elect another). Operators change the Raft voters with
// AddRaftVoter and RemoveRaftVoter (voters.go, KIP-853), keyed by node id
// and Broker.DirectoryID; these are raft configuration changes, not
// commands.
// Finalized feature levels (State.Features and FeaturesEpoch, command
// UpdateFeatures, features.go), KIP-714 client metrics subscriptions
// (State.ClientMetrics, command AlterClientMetrics, clientmetrics.go) and
// delegation tokens (State.Tokens, command DelegationToken, tokens.go) are
// stored as the server decided them: which levels are allowed, what a
// subscription means and a token's HMAC (never stored) are the server's.
// A feature change carries the epoch it was computed from, so racing
// changes cannot both win; token commands carry the proposer's clock to
// prune expired tokens deterministically.
//
// ACLs (State.ACLs, commands CreateACLs and DeleteACLs) are stored sorted
// and unique; a delete carries the exact ACLs its proposer resolved from
// its filters, so every FSM removes the same ones. Their meaning is
// internal/acl's.
//
// Snapshots are the whole State as JSON (snapshot.go), kept by raft's file
// snapshot store in DataDir/raft/snapshots; the log and raft's stable store
// are DataDir/raft/raft.db. Nothing else is persisted outside raft: the node
// id the directory belongs to is a key in raft's stable store, and a node
// with existing raft state never bootstraps again.
//
// Leadership follows Consul: raft's buffered NotifyCh feeds a monitor
// goroutine that starts a leader loop per term; the loop issues a Barrier so
// the state reflects everything earlier leaders committed, sets the cluster id
// if there is none, and only then marks the term established (IsController).
//
// # Cluster mode
//
// The cluster control loop (internal/controller) drives the cluster side
// with plain calls fed from gossip membership; this package never talks to
// gossip itself.
//
//   - Forming: with Config.BootstrapExpect = N > 1 no node bootstraps at
//     Open. The controller loop calls TryBootstrap(peers) on each membership
//     change; the node with the lowest id among the N lowest-id members
//     bootstraps, with exactly those N as voters, once N members are visible
//     and none reports Peer.HasState (see TryBootstrap for the rule and its
//     limit). The others get the configuration from the elected leader.
//   - Growing and healing: the controller loop calls ReconcileMembers(ctx,
//     peers) on every node on each membership change. Every node records the
//     list and since when raft servers have been missing; the Raft leader
//     adds unknown members as non-voters (every broker holds a replicated
//     copy of the metadata), replaces voters missing for
//     Config.DeadVoterTimeout by promoting a live non-voter before removing
//     them, and fences (Broker.Fenced, command SetBrokersFenced) registered
//     brokers missing from the list. The leader loop repeats the run every
//     Config.ReconcileInterval with the last list.
//   - Partition leaders: internal/controller plans elections, the ISR
//     shrink of fenced brokers and preferred-leader moves as pure functions
//     of a State and writes each with AlterPartition, whose partition-epoch
//     check makes a stale change fail instead of overwriting a newer one.
//
// Config.InMemory runs raft on in-memory stores and transport
// (ConnectInMemory links nodes), so the layers above test a real controller
// without sockets or disks.
//
// # Forwarding
//
// The server may call any write on any node, like Consul forwards RPCs to
// its leader. RegisterBroker, CreateTopic, DeleteTopic, CreatePartitions,
// AlterTopicConfigs, AllocateProducerIDs and AlterPartition run on the
// controller: locally when this node is it, otherwise sent over the raft
// port (forward.go, forward_server.go, wire format in forward_wire.go). The
// controller runs the same local code, so placement and topic ids are
// decided on its fresh state, and answers with the result or the error plus
// its applied index. RegisterBroker also draws the broker's new epoch there
// (Broker.Epoch: 63 random bits, never 0; whatever the caller sent is
// replaced), so every registration, even one that changes nothing else,
// gives the broker an epoch nobody can predict, and every node applies the
// same one. Guarantees to the caller:
//
//   - Read your writes: a forwarded call returns only once this node's
//     State() has applied the controller's index, so State() shows the
//     change (and, for a refused call, the state the refusal was based on).
//     If ctx ends in between, the call fails with ctx's error although the
//     write took effect (the message says so).
//   - Errors: the controller's sentinel errors come back as the same
//     sentinels (errors.Is) with the controller's message; errors without a
//     sentinel come back as plain errors with the message.
//   - Retries: while no controller is known, the controller says it no
//     longer leads, or it cannot be reached, the call is retried with a
//     short backoff until ctx ends (then the error matches both the last
//     cause — ErrNotController or ErrNoController — and ctx's error) or the
//     node closes (ErrClosed). Always pass a ctx with a deadline.
//   - Ambiguity: a retry after a lost connection or a controller that lost
//     leadership mid-call may repeat a write that did take effect; the
//     repeat then reports what Kafka clients see after a retry
//     (ErrTopicExists, ErrUnknownTopic, ErrInvalidPartitions,
//     ErrStalePartitionEpoch), or for AllocateProducerIDs wastes a block.
//     A ctx that ends mid-call leaves the outcome unknown, as locally.
//
// Leader-only, never forwarded (a *NotControllerError elsewhere): AddVoter,
// AddNonvoter, RemoveServer; ReconcileMembers acts only on the controller
// and merely records the members elsewhere.
//
// The raft port carries both protocols: transport.go reads the first byte of
// every accepted connection; forwardConnByte (0xF5, far above raft's rpc
// types 0..4) marks a forward connection, anything else goes to raft with
// the byte put back.
//
// # Not yet
//
// Promotion does not check that a non-voter has caught up with the log
// (hashicorp/raft has no per-follower progress API; Consul's autopilot polls
// each server for it); a non-voter is promoted only after it has been in the
// configuration for at least one reconciliation run. This node's own raft
// address is not updated in the configuration when it changes across
// restarts unless another controller reconciles with the new address.
package raftmeta
