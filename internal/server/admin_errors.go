package server

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Sentinel errors of the admin handlers. The ones a client must see as a
// specific Kafka code wrap that kerr value, so errorCode maps them (through
// its errors.As case) without a line of its own; errors.Is still works on the
// sentinel itself.
var (
	// errFencedLeaderEpoch: the client's current leader epoch is older than
	// ours (it has stale metadata).
	errFencedLeaderEpoch = fmt.Errorf("leader epoch in the request is older than the broker's: %w", kerr.FencedLeaderEpoch)
	// errUnknownLeaderEpoch: the client's current leader epoch is newer than
	// ours (we have not caught up with the metadata yet).
	errUnknownLeaderEpoch = fmt.Errorf("leader epoch in the request is newer than the broker's: %w", kerr.UnknownLeaderEpoch)
	// errMismatchedEndpoint: DescribeCluster asked a broker for controller endpoints.
	errMismatchedEndpoint = fmt.Errorf("brokers only describe broker endpoints: %w", kerr.MismatchedEndpointType)
	// errUnsupportedEndpoint: DescribeCluster with an endpoint type we do not know.
	errUnsupportedEndpoint = fmt.Errorf("unsupported endpoint type: %w", kerr.UnsupportedEndpointType)
	// errDynamicBrokerConfig: Strom's broker settings are static (flags,
	// environment, server.properties); nothing can be changed at runtime.
	errDynamicBrokerConfig = fmt.Errorf("%w: dynamic broker configs are not supported; broker settings are read-only at runtime", errInvalidRequest)
)
