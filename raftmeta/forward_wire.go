package raftmeta

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The forward protocol: how a follower asks the controller to run a write.
//
// A client opens a TCP connection to the controller's raft address and sends
// forwardConnByte once (transport.go routes the connection away from raft on
// it). Then, any number of times, in order: the client sends a request frame
// and the server answers with a response frame. A frame is a 4-byte
// big-endian length n (1 <= n <= maxForwardFrame) followed by n bytes of
// JSON: a forwardRequest or a forwardResponse. The server closes the
// connection on any malformed frame; the client closes it on any error.
//
// Compatibility: brokers of different versions talk this protocol during a
// rolling upgrade. Method names and error codes are only ever added; argument
// and result structs (and the exported types inside them, encoded with their
// Go field names) only gain fields. An unknown method gets an error response.

// maxForwardFrame bounds one request or response. A topic of maxPartitions
// partitions encodes to about 10 MiB.
const maxForwardFrame = 16 << 20

// forwardRequest asks the controller to run Method with Args.
type forwardRequest struct {
	Method string          `json:"m"`
	Args   json.RawMessage `json:"a"`
	// TimeoutMS is the caller's remaining time budget, so the controller
	// stops working for a caller that gave up; capped at forwardMaxTimeout.
	TimeoutMS int64 `json:"t"`
}

// forwardResponse is the outcome of one request.
type forwardResponse struct {
	// Code is "" on success, otherwise an entry of forwardErrors or
	// codeUnknown; Msg is the error's text.
	Code string `json:"c,omitempty"`
	Msg  string `json:"e,omitempty"`
	// Controller is the controller id as the server sees it; meaningful
	// with code not_controller.
	Controller int32 `json:"ctl"`
	// Index is the server's applied state index after running the method
	// (State.Index): the caller waits until its own state reaches it before
	// returning, so its State() shows the change (read your writes).
	Index  uint64          `json:"i"`
	Result json.RawMessage `json:"r,omitempty"`
}

// codeUnknown marks an error without a sentinel in forwardErrors; the caller
// gets a plain error with the message.
const codeUnknown = "error"

// forwardErrors is the one table mapping errors to wire codes and back:
// encodeError picks the first entry errors.Is matches (so the more specific
// come first), decodeError rebuilds an error matching the same sentinel.
// Every exported sentinel of errors.go is here (a test checks it). Codes are
// protocol: add, never change or reuse.
var forwardErrors = []struct {
	code string
	err  error
}{
	{"not_controller", ErrNotController},
	{"no_controller", ErrNoController},
	{"topic_exists", ErrTopicExists},
	{"unknown_topic", ErrUnknownTopic},
	{"invalid_partitions", ErrInvalidPartitions},
	{"invalid_replication_factor", ErrInvalidReplicationFactor},
	{"invalid_replica_assignment", ErrInvalidReplicaAssignment},
	{"unknown_command", ErrUnknownCommand},
	{"closed", ErrClosed},
	{"invalid_topic_name", ErrInvalidTopicName},
	{"invalid_config", ErrInvalidConfig},
	{"invalid_broker", ErrInvalidBroker},
	{"invalid_producer_id_count", ErrInvalidProducerIDCount},
	{"unknown_partition", ErrUnknownPartition},
	{"invalid_partition_state", ErrInvalidPartitionState},
	{"stale_partition_epoch", ErrStalePartitionEpoch},
	{"corrupt_command", ErrCorruptCommand},
	{"invalid_peer", ErrInvalidPeer},
	{"invalid_scram_credential", ErrInvalidScramCredential},
	{"invalid_acl", ErrInvalidACL},
	{"no_reassignment_in_progress", ErrNoReassignmentInProgress},
	{"reassignment_not_ready", ErrReassignmentNotReady},
	{"broker_not_registered", ErrBrokerNotRegistered},
	{"broker_alive", ErrBrokerAlive},
	{"duplicate_voter", ErrDuplicateVoter},
	{"voter_not_found", ErrVoterNotFound},
	{"voter_not_ready", ErrVoterNotReady},
	{"no_replacement_voter", ErrNoReplacementVoter},
	{"stale_features", ErrStaleFeatures},
	{"deadline_exceeded", context.DeadlineExceeded},
	{"canceled", context.Canceled},
}

// encodeError fills resp's error fields from err.
func encodeError(resp *forwardResponse, err error) {
	resp.Code, resp.Msg, resp.Controller = codeUnknown, err.Error(), -1
	for _, e := range forwardErrors {
		if errors.Is(err, e.err) {
			resp.Code = e.code
			break
		}
	}
	var nce *NotControllerError
	if errors.As(err, &nce) {
		resp.Controller = nce.ControllerID
	}
}

// decodeError turns a response's error fields back into an error: a
// *NotControllerError, an error matching the code's sentinel with the
// server's message, or a plain error for codes it does not know.
func decodeError(resp *forwardResponse) error {
	if resp.Code == "" {
		return nil
	}
	if resp.Code == "not_controller" {
		// Rebuild the controller's *NotControllerError, message included.
		nce := &NotControllerError{ControllerID: resp.Controller}
		if base := nce.Error(); resp.Msg != base {
			nce.Err = &remoteError{msg: strings.TrimPrefix(resp.Msg, base+": ")}
		}
		return nce
	}
	for _, e := range forwardErrors {
		if e.code == resp.Code {
			return &remoteError{msg: resp.Msg, sentinel: e.err}
		}
	}
	return &remoteError{msg: resp.Msg}
}

// remoteError is an error the controller returned: its message, and the
// sentinel it matched there (nil if none).
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

// errBadFrame: a frame whose length is 0 or above maxForwardFrame, or whose
// body is shorter than its length.
var errBadFrame = errors.New("raftmeta: bad forward frame")

// appendFrame appends body as one frame to dst.
func appendFrame(dst, body []byte) ([]byte, error) {
	if len(body) == 0 || len(body) > maxForwardFrame {
		return dst, fmt.Errorf("%w: %d bytes", errBadFrame, len(body))
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	return append(dst, body...), nil
}

// readFrameHeader reads a frame's length and checks it.
func readFrameHeader(r io.Reader) (int, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > maxForwardFrame {
		return 0, fmt.Errorf("%w: length %d", errBadFrame, n)
	}
	return int(n), nil
}

// readFrameBody reads n bytes. The buffer grows as bytes arrive, so a peer
// announcing a large frame and sending nothing costs no memory.
func readFrameBody(r io.Reader, n int) ([]byte, error) {
	var buf bytes.Buffer
	got, err := buf.ReadFrom(io.LimitReader(r, int64(n)))
	if err != nil {
		return nil, err
	}
	if got != int64(n) {
		return nil, fmt.Errorf("%w: %d of %d bytes: %w", errBadFrame, got, n, io.ErrUnexpectedEOF)
	}
	return buf.Bytes(), nil
}

// readFrame reads one frame.
func readFrame(r io.Reader) ([]byte, error) {
	n, err := readFrameHeader(r)
	if err != nil {
		return nil, err
	}
	return readFrameBody(r, n)
}
