package raftmeta

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

const (
	// forwardServerIdle is how long the controller keeps a forward
	// connection with no request open.
	forwardServerIdle = 2 * time.Minute
	// forwardFrameTimeout bounds reading the rest of a request once its
	// header arrived, and writing a response.
	forwardFrameTimeout = 10 * time.Second
)

// The forwardable writes. Each pairs its wire name with the local
// implementation (write.go); the exported methods call them.
var (
	fwdRegisterBroker      = forwardMethod[registerBrokerArgs, struct{}]{"RegisterBroker", (*Node).registerBrokerLocal}
	fwdCreateTopic         = forwardMethod[createTopicArgs, *Topic]{"CreateTopic", (*Node).createTopicLocal}
	fwdDeleteTopic         = forwardMethod[deleteTopicArgs, struct{}]{"DeleteTopic", (*Node).deleteTopicLocal}
	fwdCreatePartitions    = forwardMethod[createPartitionsArgs, struct{}]{"CreatePartitions", (*Node).createPartitionsLocal}
	fwdAlterTopicConfigs   = forwardMethod[alterTopicConfigsArgs, struct{}]{"AlterTopicConfigs", (*Node).alterTopicConfigsLocal}
	fwdAllocateProducerIDs = forwardMethod[allocateProducerIDsArgs, int64]{"AllocateProducerIDs", (*Node).allocateProducerIDsLocal}
	fwdAlterPartition      = forwardMethod[alterPartitionArgs, Partition]{"AlterPartition", (*Node).alterPartitionLocal}
	fwdCreateACLs          = forwardMethod[aclsArgs, struct{}]{"CreateACLs", (*Node).createACLsLocal}
	fwdDeleteACLs          = forwardMethod[aclsArgs, []ACL]{"DeleteACLs", (*Node).deleteACLsLocal}
)

// serveFunc runs a forwarded request locally: JSON arguments in, JSON result
// out.
type serveFunc func(n *Node, ctx context.Context, args json.RawMessage) (json.RawMessage, error)

// forwardMethods is what the controller serves, by wire name.
var forwardMethods = map[string]serveFunc{
	fwdRegisterBroker.name:      fwdRegisterBroker.serve,
	fwdCreateTopic.name:         fwdCreateTopic.serve,
	fwdDeleteTopic.name:         fwdDeleteTopic.serve,
	fwdCreatePartitions.name:    fwdCreatePartitions.serve,
	fwdAlterTopicConfigs.name:   fwdAlterTopicConfigs.serve,
	fwdAllocateProducerIDs.name: fwdAllocateProducerIDs.serve,
	fwdAlterPartition.name:      fwdAlterPartition.serve,
	fwdSync.name:                fwdSync.serve,
	fwdCreateACLs.name:          fwdCreateACLs.serve,
	fwdDeleteACLs.name:          fwdDeleteACLs.serve,

	fwdAlterScramCredentials.name: fwdAlterScramCredentials.serve, // scram.go
	fwdReassignPartition.name:     fwdReassignPartition.serve,     // reassign.go
	fwdAlterBrokerConfigs.name:    fwdAlterBrokerConfigs.serve,    // brokerconfigs.go
	fwdAlterClientQuotas.name:     fwdAlterClientQuotas.serve,     // quotas.go
	fwdUnregisterBroker.name:      fwdUnregisterBroker.serve,      // unregister.go
	fwdAddRaftVoter.name:          fwdAddRaftVoter.serve,          // voters.go
	fwdRemoveRaftVoter.name:       fwdRemoveRaftVoter.serve,       // voters.go
	fwdAlterGroupConfigs.name:     fwdAlterGroupConfigs.serve,     // groupconfigs.go
	fwdUpdateFeatures.name:        fwdUpdateFeatures.serve,        // features.go
	fwdAlterClientMetrics.name:    fwdAlterClientMetrics.serve,    // clientmetrics.go
	fwdDelegationToken.name:       fwdDelegationToken.serve,       // tokens.go
}

// errBadArgs: a request whose arguments do not decode.
var errBadArgs = errors.New("raftmeta: bad forward arguments")

// serve decodes the arguments, runs the local implementation (never
// forwarding again: a node that is not the controller answers
// not_controller) and encodes the result.
func (m forwardMethod[A, R]) serve(n *Node, ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
	var args A
	if err := json.Unmarshal(raw, &args); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errBadArgs, m.name, err)
	}
	res, err := m.local(n, ctx, args)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("raftmeta: encode %s result: %w", m.name, err)
	}
	return out, nil
}

// serveForward answers forward requests on one connection, in order, until
// the connection fails, a malformed frame arrives, or the stream closes it.
// It runs on a goroutine owned by the transport (tcpStream.sniff).
func (n *Node) serveForward(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		_ = c.SetReadDeadline(time.Now().Add(forwardServerIdle))
		size, err := readFrameHeader(r)
		if err != nil {
			n.logForwardDrop(c, err)
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(forwardFrameTimeout))
		body, err := readFrameBody(r, size)
		if err != nil {
			n.logForwardDrop(c, err)
			return
		}
		var req forwardRequest
		if err := json.Unmarshal(body, &req); err != nil {
			n.logForwardDrop(c, fmt.Errorf("%w: %v", errBadFrame, err))
			return
		}
		out, err := appendFrame(nil, n.handleForward(&req))
		if err != nil {
			n.logForwardDrop(c, err)
			return
		}
		_ = c.SetWriteDeadline(time.Now().Add(forwardFrameTimeout))
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// logForwardDrop notes why a forward connection is closed; a peer closing
// its end (or our shutdown) is not worth a line.
func (n *Node) logForwardDrop(c net.Conn, err error) {
	if errors.Is(err, errBadFrame) {
		n.logger.Warn("raftmeta: closing forward connection", "remote", c.RemoteAddr().String(), "err", err)
	}
}

// handleForward runs one request and returns the encoded response.
func (n *Node) handleForward(req *forwardRequest) []byte {
	timeout := forwardMaxTimeout
	if req.TimeoutMS > 0 && req.TimeoutMS < forwardMaxTimeout.Milliseconds() { // no overflow
		timeout = time.Duration(req.TimeoutMS) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(n.baseCtx, timeout)
	defer cancel()

	var resp forwardResponse
	fn := forwardMethods[req.Method]
	var err error
	if fn == nil {
		err = fmt.Errorf("raftmeta: unknown forward method %q", req.Method)
	} else {
		resp.Result, err = fn(n, ctx, req.Args)
	}
	if err != nil && n.isClosed() {
		// Shutting down: for the caller this node is no longer the
		// controller, whatever the error says.
		err = &NotControllerError{ControllerID: -1, Err: err}
	}
	if err != nil {
		resp.Result = nil
		encodeError(&resp, err)
	}
	resp.Index = n.fsm.current().Index
	out, merr := json.Marshal(&resp)
	if merr == nil && len(out) <= maxForwardFrame {
		return out
	}
	// Cannot happen with the types above short of a topic near
	// maxPartitions with a huge replication factor; say so instead of
	// dropping the connection.
	small := forwardResponse{Index: resp.Index}
	encodeError(&small, fmt.Errorf("raftmeta: %s result does not fit a forward frame (%d bytes, err %v)", req.Method, len(out), merr))
	out, _ = json.Marshal(&small)
	return out
}
