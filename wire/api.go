package wire

// API CONTRACT (written by the lead so internal/server can compile against it).
// The wire owner replaces the bodies; exported names and signatures are relied
// on by internal/server. Additions are fine; changes must be coordinated.

import (
	"context"
	"log/slog"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// VersionRange is the inclusive range of versions implemented for one API key.
type VersionRange struct{ Min, Max int16 }

// Request is one decoded request.
type Request struct {
	Key           int16
	Version       int16
	CorrelationID int32
	ClientID      string
	Body          kmsg.Request // decoded, with its version set
	Conn          *ConnInfo
}

// ConnInfo describes the connection a request arrived on.
type ConnInfo struct {
	ID         uint64
	LocalAddr  net.Addr // the listener address the client connected to
	RemoteAddr net.Addr
	Listener   string // listener name (PLAINTEXT unless configured)
}

// Handler serves decoded requests. It is called from one goroutine per
// connection, one request at a time, so responses leave in request order; it
// may block (Fetch long-poll) and must honour ctx, which is cancelled when the
// connection closes or the server shuts down. A nil response sends nothing
// (Produce acks=0). A non-nil error closes the connection (logged with reason).
type Handler interface {
	ServeKafka(ctx context.Context, req *Request) (kmsg.Response, error)
}

// Config configures a Server.
type Config struct {
	Handler        Handler
	Versions       map[int16]VersionRange // implemented APIs; feeds version checks
	MaxRequestSize int32                  // socket.request.max.bytes
	ListenerName   string
	Logger         *slog.Logger
}

// Server accepts Kafka connections.
type Server struct{}

// NewServer returns a server; call Serve with a listener.
func NewServer(cfg Config) *Server { panic("todo") }

// Serve accepts connections on ln until Close; returns nil after Close.
func (s *Server) Serve(ln net.Listener) error { panic("todo") }

// Close stops accepting, cancels in-flight handlers and waits for every
// connection goroutine to exit.
func (s *Server) Close() error { panic("todo") }
