// Package wire speaks the Kafka binary protocol on behalf of a broker: it
// frames requests and responses, decodes request headers and bodies with
// franz-go's kmsg, and runs the per-connection loop that hands each decoded
// request to a Handler. It contains no broker logic and imports nothing
// internal, so the server package can sit on top of it and replica fetchers
// can reuse its small client side (Dial / Client.Request).
//
// # Framing
//
// Every request and response is an int32 big-endian size followed by that
// many bytes. A request frame is
//
//	size        int32   bytes that follow; 10 <= size <= Config.MaxRequestSize
//	api_key     int16
//	api_version int16
//	corr_id     int32
//	client_id   int16 length + bytes, -1 = null (never compact, even in header v2)
//	tags        uvarint-prefixed tagged fields, only when (key, version) is flexible (header v2)
//	body        the kmsg request at api_version
//
// and a response frame is
//
//	size    int32
//	corr_id int32
//	tags    one 0x00 byte when the response is flexible, EXCEPT ApiVersions,
//	        whose response header never carries tagged fields (clients parse
//	        it before they know which versions the broker speaks)
//	body    the kmsg response at the request's version
//
// A size below the 10-byte header minimum or above MaxRequestSize closes the
// connection, as Kafka does (socket.request.max.bytes, default 100 MiB). The
// body buffer grows as bytes arrive, so a peer that announces a large frame
// and then stalls costs at most twice what it actually sent.
//
// The old request header v0 without client_id (ControlledShutdown v0 only)
// is not supported; Kafka 4 removed that API.
//
// # Errors on the wire
//
// Kafka answers protocol violations by closing the connection, and so does
// this package: an unknown API key, a version outside Config.Versions, a
// truncated or garbage body, or a Handler error each log one line (with the
// connection id and remote address) and close only that connection.
//
// The one exception is ApiVersions (key 18) at a version we do not
// implement (KIP-511): the client is probing, so we answer in the v0 body
// format with UNSUPPORTED_VERSION (35) and our whole version table; the
// client then retries with a version we listed.
//
// # Goroutines per connection
//
// Each connection runs three goroutines, all owned by the Server and waited
// for by Close:
//
//	reader  reads and decodes frames, queueing at most readAheadRequests
//	        requests and readAheadBytes bytes ahead of the handler
//	serve   calls Handler.ServeKafka one request at a time, in arrival order
//	writer  encodes responses in order and coalesces whatever is queued into
//	        one write
//
// Keeping the handler off the reader lets the next request be decoded while a
// slow one (a Fetch long-poll) is served, and keeping it off the writer means
// a finished response is never held back behind the next request. Responses
// therefore leave in request order, as clients that pipeline require.
//
// Config.Observe, when set, is called once per request served with its API
// key and the time from its frame being read to its response being ready
// (a deferred response: to its finish), for request metrics; wire keeps no
// metrics itself.
//
// # Connection limits
//
// Config.MaxConnections and MaxConnectionsPerIP (max.connections,
// max.connections.per.ip) are enforced at accept time: a connection over
// either limit is closed at once, before any goroutine starts for it.
// Config.AcceptQuota (connection creation rates, KIP-612; the policy is the
// caller's) is asked first: the accept loop waits out the delay it returns,
// and a connection it refuses is held, unread and without a goroutine, until
// its throttle ends, then closed (at most maxHeld at once; Close closes
// them). ConnectionsMaxIdle (connections.max.idle.ms, 10 minutes) closes a
// connection that has had no request in progress and no bytes read or
// written for that long; the reader waits for each frame's first byte under
// a read deadline and re-arms it while a request is in progress. Every
// response write runs under a deadline of WriteTimeout per started MiB, so a
// client that stops reading costs its writer goroutine and queued responses
// for a bounded time, not forever.
//
// # TLS
//
// With Config.TLS set every accepted connection is a TLS server connection.
// The handshake runs first on the connection's own goroutine, under
// Config.TLSHandshakeTimeout (10 s) and the Server's shutdown, so neither a
// silent client nor garbage instead of a ClientHello can stall the accept
// loop or other connections; a failed handshake closes that connection only
// and is logged rate-limited (1st, 2nd, 4th, 8th... at Warn). A verified
// client certificate becomes the connection's principal through
// Config.PrincipalFromCert before the first request is read; the mapping is
// the caller's policy. Spliced file ranges (Fetch records) are copied
// through the encryption instead of sendfile(2). On the client side,
// TLSDial layers a TLS handshake, with a client certificate if configured,
// over any DialFunc, for DialWith.
//
// # SASL
//
// On a SASL_PLAINTEXT or SASL_SSL listener (Config.SecurityProtocol) the
// serve loop lets only ApiVersions, SaslHandshake and SaslAuthenticate
// through until the Handler records a completed exchange with
// ConnInfo.Authenticated; anything else closes the connection, as Kafka
// does. Frames before that are capped at 512 KiB. After a KIP-152 session
// lifetime ends, only a re-authentication (SaslHandshake, SaslAuthenticate)
// is served. Request.CloseAfterResponse lets a failed authentication be
// answered and then disconnected. SaslHandshake v0's raw tokens are read and
// written here (auth.go), as SaslAuthenticate requests for the Handler. On
// the client side, Client.AuthenticateSASL and SASLClient (client_sasl.go)
// authenticate broker-to-broker connections, re-authenticating before the
// session ends.
//
// Request bodies may alias their frame buffer (kmsg does not copy byte
// fields such as Produce records). Frame buffers are never reused, so a
// Handler may keep references into a request after ServeKafka returns.
package wire
