package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Sentinel errors. Every error a subcommand returns wraps one of these (or a
// kerr error from the broker) so tests and callers can use errors.Is, while
// the text printed to people names the cause and the fix.
var (
	// ErrUsage marks a command-line mistake; Main exits 2.
	ErrUsage = errors.New("usage")
	// ErrUnreachable means no seed broker accepted a connection or answered
	// within --timeout.
	ErrUnreachable = errors.New("cannot reach broker")
	// ErrUnknownTopic means the named topic does not exist on the cluster.
	ErrUnknownTopic = errors.New("unknown topic")
	// ErrUnknownGroup means the named consumer group does not exist.
	ErrUnknownGroup = errors.New("unknown group")
	// ErrGroupNotEmpty means an operation that needs an idle group (offset
	// reset) found members still joined.
	ErrGroupNotEmpty = errors.New("group has active members")
	// ErrNotDelivered means at least one produced record was not
	// acknowledged by the broker.
	ErrNotDelivered = errors.New("records not delivered")
	// ErrIncomplete means a bounded read (bench consume) ended before it saw
	// the number of records it was asked for.
	ErrIncomplete = errors.New("fewer records than requested")
	// ErrClusterNotReady means cluster status found fewer live brokers than
	// --expect-brokers asked for, or offline partitions with --fail-offline;
	// scripts (deploy/cluster.sh) poll on it.
	ErrClusterNotReady = errors.New("cluster not ready")

	// errHelp is returned after -h printed the help; Main exits 0.
	errHelp = errors.New("help requested")
)

// friendlyError carries a message for people together with the sentinel
// (kind) and the underlying cause for errors.Is/As.
type friendlyError struct {
	kind  error
	msg   string
	cause error
}

func (f *friendlyError) Error() string { return f.msg }

func (f *friendlyError) Unwrap() []error {
	if f.cause == nil {
		return []error{f.kind}
	}
	return []error{f.kind, f.cause}
}

func friendly(kind, cause error, format string, args ...any) error {
	return &friendlyError{kind: kind, msg: fmt.Sprintf(format, args...), cause: cause}
}

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

const startHint = "is a broker running? start one with `strom broker` or set --brokers/STROM_BROKERS"

// explainConn turns a connection-level failure into a message that says which
// address failed and what to do. It returns err unchanged if it is not about
// reaching the brokers.
func explainConn(err error, brokers []string, o *common) error {
	if err == nil {
		return nil
	}
	var fe *friendlyError
	if errors.As(err, &fe) {
		return err
	}
	addr := strings.Join(brokers, ",")
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		if errors.As(err, &opErr) && opErr.Addr != nil {
			addr = opErr.Addr.String()
		}
		return friendly(ErrUnreachable, err, "cannot reach %s: connection refused — %s", addr, startHint)
	case errors.As(err, &dnsErr):
		return friendly(ErrUnreachable, err, "cannot resolve %s: %v — check --brokers/STROM_BROKERS", dnsErr.Name, dnsErr.Err)
	case errors.Is(err, context.DeadlineExceeded):
		return friendly(ErrUnreachable, err, "no answer from %s within %s — %s, or raise --timeout", addr, o.timeout, startHint)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return friendly(ErrUnreachable, err, "cannot reach %s: %v — %s", addr, opErr.Err, startHint)
	}
	return err
}

// explainTopic maps broker errors about one topic to a message with a fix.
func explainTopic(err error, topic string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		return friendly(ErrUnknownTopic, err, "topic %s does not exist — create it with `strom topic create %s`", topic, topic)
	case errors.Is(err, kerr.TopicAlreadyExists):
		return friendly(err, nil, "topic %s already exists — see it with `strom topic describe %s`", topic, topic)
	case errors.Is(err, kerr.InvalidReplicationFactor):
		return friendly(err, nil, "topic %s: replication factor is larger than the number of brokers — lower --replication-factor", topic)
	case errors.Is(err, kerr.InvalidPartitions):
		return friendly(err, nil, "topic %s: invalid partition count — partitions must be positive and can only grow", topic)
	case errors.Is(err, kerr.InvalidTopicException):
		return friendly(err, nil, "topic name %q is invalid — use letters, digits, '.', '_' and '-' (at most 249)", topic)
	case errors.Is(err, kerr.InvalidConfig):
		return friendly(err, nil, "topic %s: a config is invalid (%v) — check the --config key=value pairs", topic, err)
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		return friendly(err, nil, "not authorized for topic %s — check the client's ACLs", topic)
	}
	return fmt.Errorf("topic %s: %w", topic, err)
}

// explainGroup maps broker errors about one group to a message with a fix.
func explainGroup(err error, group string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.GroupIDNotFound):
		return friendly(ErrUnknownGroup, err, "group %s does not exist — list groups with `strom group list`", group)
	case errors.Is(err, kerr.NonEmptyGroup):
		return friendly(ErrGroupNotEmpty, err, "group %s still has members — stop its consumers first", group)
	case errors.Is(err, kerr.GroupAuthorizationFailed):
		return friendly(err, nil, "not authorized for group %s — check the client's ACLs", group)
	case errors.Is(err, kerr.CoordinatorNotAvailable), errors.Is(err, kerr.CoordinatorLoadInProgress):
		return friendly(err, nil, "group %s: the group coordinator is not ready (%v) — retry in a moment", group, err)
	}
	return fmt.Errorf("group %s: %w", group, err)
}
