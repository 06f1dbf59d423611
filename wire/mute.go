package wire

import (
	"time"
)

// Muting a connection for a quota throttle (Kafka's KIP-219): the handler
// answers at once with throttle_time_ms set and calls Request.Throttle; the
// connection then serves none of its next requests until the throttle
// ends, and the reader reads no new frame while muted. A frame the reader
// had already read ahead (at most readAheadRequests) waits, unserved, for
// the same deadline. wire holds no quota policy: how long to mute is the
// handler's decision.

// Throttle mutes the request's connection for d from now: its next request
// is not served (nor, if the reader is not already waiting on the socket, a
// new frame read) before then. A shorter throttle never shortens a longer
// one already in force. d <= 0 does nothing.
func (r *Request) Throttle(d time.Duration) {
	if d <= 0 || r.Conn == nil {
		return
	}
	until := time.Now().Add(d).UnixNano()
	for {
		cur := r.Conn.mutedUntil.Load()
		if cur >= until || r.Conn.mutedUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// MutedUntil is when the connection's current throttle ends (the zero time
// if it was never throttled).
func (ci *ConnInfo) MutedUntil() time.Time {
	if n := ci.mutedUntil.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// waitMuted blocks while the connection is muted; false if it closed.
func (c *conn) waitMuted() bool {
	for {
		d := time.Until(time.Unix(0, c.info.mutedUntil.Load()))
		if d <= 0 {
			return true
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return false
		}
	}
}
