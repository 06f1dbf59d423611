package wire

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	// DefaultMaxRequestSize is Kafka's socket.request.max.bytes default
	// (100 MiB): the largest request frame a connection may send.
	DefaultMaxRequestSize = 100 << 20

	// DefaultListenerName is the listener name reported in ConnInfo when
	// Config.ListenerName is empty.
	DefaultListenerName = "PLAINTEXT"

	// DefaultConnectionsMaxIdle is Kafka's connections.max.idle.ms default
	// (10 minutes): a connection with no request in progress that neither
	// sends nor receives for this long is closed.
	DefaultConnectionsMaxIdle = 10 * time.Minute

	// DefaultTLSHandshakeTimeout bounds a TLS handshake (see
	// Config.TLSHandshakeTimeout).
	DefaultTLSHandshakeTimeout = 10 * time.Second

	// DefaultWriteTimeout bounds how long a response write may make no
	// progress (see Config.WriteTimeout).
	DefaultWriteTimeout = 30 * time.Second

	// requestHeaderMin is the smallest valid request frame: api key (2),
	// version (2), correlation id (4) and the client id length (2).
	requestHeaderMin = 10
)

// VersionRange is the inclusive range of versions implemented for one API key.
type VersionRange struct{ Min, Max int16 }

// Config configures a Server. It is a plain value: build it with
// DefaultConfig, set the Handler and Versions, and NewServer fills any zero
// field with its default.
type Config struct {
	// Handler serves every decoded request. Required.
	Handler Handler

	// Versions is the table of implemented APIs. A request whose key is
	// missing or whose version is outside its range closes the connection
	// (ApiVersions is answered KIP-511 style instead), and the same table
	// is sent in that ApiVersions answer. The server package should feed
	// this and its own ApiVersions handler from one table.
	//
	// A nil map accepts every key and version kmsg can decode; that is
	// meant for tests and tools, not for a broker.
	Versions map[int16]VersionRange

	// MaxRequestSize is socket.request.max.bytes; 0 means
	// DefaultMaxRequestSize.
	MaxRequestSize int32

	// MaxConnections is max.connections: connections accepted beyond this
	// many open ones (on this Server, all listeners) are closed at once.
	// 0 or less means unlimited.
	MaxConnections int

	// MaxConnectionsPerIP is max.connections.per.ip: like MaxConnections,
	// counted per remote IP address. 0 or less means unlimited.
	MaxConnectionsPerIP int

	// AcceptQuota, when set, is asked about every accepted connection
	// before it is served (connection creation rate quotas, KIP-612; the
	// policy is the caller's, see AcceptQuota). Nil: no rate limit.
	AcceptQuota AcceptQuota

	// ConnectionsMaxIdle is connections.max.idle.ms: a connection with no
	// request in progress and no bytes read or written for this long is
	// closed. 0 means DefaultConnectionsMaxIdle; negative means never.
	ConnectionsMaxIdle time.Duration

	// WriteTimeout bounds a stalled response write: each chunk of at most
	// writeChunk bytes (and each whole smaller response) must be taken by
	// the peer's socket within this long, or the connection is closed. A
	// client that stops reading thus pins its writer goroutine and queued
	// responses for at most this long. 0 means DefaultWriteTimeout;
	// negative means never.
	WriteTimeout time.Duration

	// ListenerName is reported in ConnInfo.Listener; "" means
	// DefaultListenerName.
	ListenerName string

	// SecurityProtocol is reported in ConnInfo.SecurityProtocol; "" means
	// ProtocolPlaintext.
	SecurityProtocol string

	// Logger receives connection-level events (rejected frames, handler
	// errors, recovered panics); nil discards them.
	Logger *slog.Logger

	// TLS, when set, makes every accepted connection a TLS server
	// connection with this configuration (its ClientAuth decides mTLS). It
	// is read at each handshake, so a GetConfigForClient or GetCertificate
	// callback can hand new connections reloaded certificates. The
	// handshake runs on the connection's own goroutine, never the accept
	// loop, so a silent client cannot stall accepts. Nil: plaintext.
	TLS *tls.Config

	// TLSHandshakeTimeout bounds a TLS handshake; a client that has not
	// finished it by then is disconnected. 0 means
	// DefaultTLSHandshakeTimeout.
	TLSHandshakeTimeout time.Duration

	// PrincipalFromCert maps the verified client certificate (the leaf of
	// the chain a client presented in the TLS handshake) to the
	// connection's principal (ssl.principal.mapping.rules live in the
	// server package; wire keeps no policy). An error ends the connection.
	// Nil, or a client without a certificate, leaves the principal
	// Anonymous. Called once per connection, before its first request is
	// read; it may be called concurrently for different connections.
	PrincipalFromCert func(cert *x509.Certificate) (Principal, error)

	// Observe, when set, is told of every request served: its API key and
	// how long it took from its frame being read to its response being
	// ready (for a deferred response, to its finish; for an acks=0
	// Produce, to the handler's return). It is Kafka's RequestMetrics
	// hook, so it must be cheap (a few atomic adds): it runs on the
	// connection's serve goroutine, or on whichever goroutine finishes a
	// deferred response, concurrently for different connections. A
	// request that closes the connection instead is not observed.
	Observe func(key int16, took time.Duration)
}

// AcceptQuota decides, per accepted connection, whether connection
// creation rates allow it (Kafka's ConnectionQuotas). Accept is called on
// the listener's accept goroutine, once per connection, and may be called
// concurrently by several listeners; it must not block.
type AcceptQuota interface {
	// Accept records a new connection from ip (as remoteIP formats it)
	// and returns how long the accept loop must wait before serving it
	// (delay: a listener or broker-wide rate, which slows every
	// connection down, as Kafka's acceptor blocks) and, when refuse > 0,
	// that the connection is over its IP's rate: it is then held, unread,
	// for refuse and closed, as Kafka delays closing a throttled socket
	// so that its client does not reconnect at once.
	Accept(ip string) (delay, refuse time.Duration)
}

// DefaultConfig returns a Config with every default filled in except the
// Handler and Versions, which only the caller can know.
func DefaultConfig() Config {
	return Config{
		MaxRequestSize:     DefaultMaxRequestSize,
		ConnectionsMaxIdle: DefaultConnectionsMaxIdle,
		WriteTimeout:       DefaultWriteTimeout,
		ListenerName:       DefaultListenerName,
		Logger:             slog.New(slog.DiscardHandler),
	}
}

// withDefaults returns c with zero fields replaced by their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxRequestSize == 0 {
		c.MaxRequestSize = d.MaxRequestSize
	}
	if c.ConnectionsMaxIdle == 0 {
		c.ConnectionsMaxIdle = d.ConnectionsMaxIdle
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.ListenerName == "" {
		c.ListenerName = d.ListenerName
	}
	if c.SecurityProtocol == "" {
		c.SecurityProtocol = ProtocolPlaintext
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	if c.TLSHandshakeTimeout <= 0 {
		c.TLSHandshakeTimeout = DefaultTLSHandshakeTimeout
	}
	return c
}

// Validate reports whether c can serve: a Handler is set, MaxRequestSize (if
// set) fits a request header, a non-nil Versions includes ApiVersions, and
// every Versions entry names an API key
// kmsg knows with 0 <= Min <= Max <= the newest version kmsg can decode
// (advertising a version we cannot decode would turn into closed
// connections).
func (c Config) Validate() error {
	if c.Handler == nil {
		return fmt.Errorf("%w: nil Handler", ErrInvalidConfig)
	}
	if c.MaxRequestSize != 0 && c.MaxRequestSize < requestHeaderMin {
		return fmt.Errorf("%w: MaxRequestSize %d below request header size %d", ErrInvalidConfig, c.MaxRequestSize, requestHeaderMin)
	}
	if _, ok := c.Versions[apiVersionsKey]; c.Versions != nil && !ok {
		// Every client opens with ApiVersions; without it nothing works.
		return fmt.Errorf("%w: Versions lacks ApiVersions (key 18)", ErrInvalidConfig)
	}
	for key, vr := range c.Versions {
		req := kmsg.RequestForKey(key)
		if req == nil {
			return fmt.Errorf("%w: Versions lists unknown api key %d", ErrInvalidConfig, key)
		}
		if vr.Min < 0 || vr.Min > vr.Max || vr.Max > req.MaxVersion() {
			return fmt.Errorf("%w: Versions[%d (%s)] = %d..%d, kmsg decodes 0..%d",
				ErrInvalidConfig, key, kmsg.NameForKey(key), vr.Min, vr.Max, req.MaxVersion())
		}
	}
	return nil
}
