package wire

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// deferred is a response whose request has been served in order but whose
// answer is not ready yet (an acks=all Produce waiting for replicas).
type deferred struct {
	ch chan deferredResult // capacity 1: Finish never blocks
}

type deferredResult struct {
	resp kmsg.Response
	err  error
}

// Defer lets the handler answer req later without holding up the requests
// behind it: the handler returns (nil, nil) right after calling Defer, and
// calls the returned finish exactly once, from any goroutine, with the
// response (or an error, which closes the connection). Later requests on the
// connection are served meanwhile, but responses still leave in request
// order: the writer waits for this one before writing anything after it.
// Kafka's ordering promise holds because the handler does the request's
// effects (appends) before returning; only the wait moves off the serve
// loop. finish must be called even if the connection closes (with the
// handler ctx's error, typically); calling it after the connection closed
// is harmless.
func (r *Request) Defer() (finish func(kmsg.Response, error)) {
	if r.deferred != nil {
		return func(kmsg.Response, error) {}
	}
	d := &deferred{ch: make(chan deferredResult, 1)}
	r.deferred = d
	key, version := r.Key, r.Version
	return func(resp kmsg.Response, err error) {
		if err == nil && resp != nil {
			if resp.Key() != key {
				err = fmt.Errorf("%w: %s response to a %s request", ErrBadResponse, kmsg.NameForKey(resp.Key()), kmsg.NameForKey(key))
			} else {
				resp.SetVersion(version)
			}
		}
		select {
		case d.ch <- deferredResult{resp, err}:
			if err == nil {
				r.observed()
			}
		default: // finished twice: the first answer stands
		}
	}
}

// await blocks until the deferred response is finished or the connection
// closes (ok false).
func (c *conn) await(o *outbound) (ok bool) {
	select {
	case res := <-o.deferred.ch:
		if res.err != nil {
			c.log.Info("wire: deferred handler failed; closing connection", "err", res.err)
			return false
		}
		if res.resp == nil {
			c.log.Error("wire: BUG: deferred response finished with nothing")
			return false
		}
		o.resp = res.resp
		o.deferred = nil
		return true
	case <-c.ctx.Done():
		return false
	}
}

// observed reports the request to Config.Observe, if any.
func (r *Request) observed() {
	if r.observe != nil {
		r.observe(r.Key, time.Since(r.received))
	}
}
