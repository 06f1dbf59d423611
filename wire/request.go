package wire

import (
	"context"
	"net"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Request is one decoded request.
//
// Body may alias the frame it was decoded from (kmsg keeps byte fields such
// as Produce records as sub-slices). The frame is never reused, so the
// Handler owns the Request and everything it references.
type Request struct {
	Key           int16
	Version       int16
	CorrelationID int32
	ClientID      string       // a null client id reads as ""
	Body          kmsg.Request // decoded, with its version set
	Conn          *ConnInfo    // shared by every request on the connection; read-only

	splices    []splice // file ranges registered with Splice
	deferred   *deferred
	closeAfter bool // CloseAfterResponse
	raw        bool // a raw SASL token after SaslHandshake v0 (auth.go)
	// body is the pooled frame Body was decoded from (producePool), nil
	// for an ordinary allocation; it goes back once the request is served
	// and its deferred answer, if any, is finished.
	body *[]byte
	// received is when the request's frame was read (Config.Observe);
	// observe is Config.Observe, carried for a deferred finish.
	received time.Time
	observe  func(key int16, took time.Duration)
}

// ConnInfo describes the connection a request arrived on. One value is
// shared by every request of a connection; its fields must not be modified,
// and the principal changes only through SetPrincipal.
type ConnInfo struct {
	ID         uint64   // unique per Server, counting from 1
	LocalAddr  net.Addr // the listener address the client connected to
	RemoteAddr net.Addr
	Listener   string // listener name (PLAINTEXT unless configured)
	// SecurityProtocol is the listener's protocol: ProtocolPlaintext,
	// ProtocolSSL, ProtocolSASLPlaintext or ProtocolSASLSSL.
	SecurityProtocol string

	principal principalSlot
	auth      authState // SASL progress (auth.go)
	// mutedUntil is when a quota throttle ends, UnixNano (mute.go).
	mutedUntil atomic.Int64
	// software is what the client's ApiVersions v3+ said it is (software.go).
	software atomic.Pointer[ClientSoftware]
}

// Handler serves decoded requests. It is called from one goroutine per
// connection, one request at a time, so responses leave in request order; it
// may block (Fetch long-poll) and must honour ctx, which is cancelled when the
// connection closes or the server shuts down (Server.Close waits for it to
// return). Different connections call it concurrently.
//
// A nil response sends nothing (Produce acks=0). A non-nil response must be
// the response kind for req.Key; the server sets its version to req.Version
// and owns it from then on: it is encoded later on the writer goroutine, so
// the handler must not modify it or return the same value for two requests. A non-nil error closes the connection (logged with
// reason), which is how Kafka reacts to a request it cannot serve at all;
// errors a client should see belong in the response's error codes.
type Handler interface {
	ServeKafka(ctx context.Context, req *Request) (kmsg.Response, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *Request) (kmsg.Response, error)

// ServeKafka calls f(ctx, req).
func (f HandlerFunc) ServeKafka(ctx context.Context, req *Request) (kmsg.Response, error) {
	return f(ctx, req)
}
