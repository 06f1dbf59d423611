package raftmeta

import "context"

// syncArgs are Sync's (empty) arguments on the wire.
type syncArgs struct{}

// fwdSync asks the controller for nothing but its applied index, which the
// forwarding machinery then waits for locally (a read barrier, like raft's
// ReadIndex).
var fwdSync = forwardMethod[syncArgs, struct{}]{"Sync", (*Node).syncLocal}

// Sync returns once this node's State() includes every change the
// controller had applied when Sync was called, or ctx ends. Call it before
// answering "unknown topic" or "not the leader" from local state that may
// lag: a client may have learnt of a topic or a leadership from another
// broker (or from this broker's forwarded write) a moment before this
// node applied it. On the controller it returns at once. It costs one
// round trip to the controller, so use it on misses only, never on every
// request.
func (n *Node) Sync(ctx context.Context) error {
	_, err := fwdSync.call(ctx, n, syncArgs{})
	return err
}

// syncLocal runs on the controller: an established controller has applied
// everything committed before its term, and the forward response carries
// its applied index.
func (n *Node) syncLocal(context.Context, syncArgs) (struct{}, error) {
	return struct{}{}, n.checkWritable()
}
