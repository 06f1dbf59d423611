package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// saslTestHandler authenticates a connection on any SaslAuthenticate whose
// bytes are "ok" (with the session lifetime in lifetime), and answers a
// failed one with CloseAfterResponse, as the server's SASL handler does.
type saslTestHandler struct {
	inner    Handler
	lifetime time.Duration
}

func (h saslTestHandler) ServeKafka(ctx context.Context, req *Request) (kmsg.Response, error) {
	switch r := req.Body.(type) {
	case *kmsg.SASLHandshakeRequest:
		resp := kmsg.NewPtrSASLHandshakeResponse()
		resp.SupportedMechanisms = []string{"PLAIN"}
		return resp, nil
	case *kmsg.SASLAuthenticateRequest:
		resp := kmsg.NewPtrSASLAuthenticateResponse()
		if string(r.SASLAuthBytes) != "ok" {
			resp.ErrorCode = 58 // SASL_AUTHENTICATION_FAILED
			req.CloseAfterResponse()
			return resp, nil
		}
		var exp time.Time
		if h.lifetime > 0 {
			exp = time.Now().Add(h.lifetime)
		}
		req.Conn.Authenticated(Principal{Type: "User", Name: "alice"}, exp)
		return resp, nil
	}
	return h.inner.ServeKafka(ctx, req)
}

func saslTestServer(t *testing.T, lifetime time.Duration) *testServer {
	t.Helper()
	versions := map[int16]VersionRange{3: {0, 12}, 17: {1, 1}, 18: {0, 3}, 36: {0, 2}}
	h := newFakeHandler()
	ts := startServer(t, Config{
		Handler:          saslTestHandler{inner: h, lifetime: lifetime},
		Versions:         versions,
		SecurityProtocol: ProtocolSASLPlaintext,
	})
	h.addr = func() string { return ts.addr }
	return ts
}

func request(c *Client, req kmsg.Request, version int16) (kmsg.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req.SetVersion(version)
	return c.Request(ctx, req)
}

func authenticate(t *testing.T, c *Client, token string) *kmsg.SASLAuthenticateResponse {
	t.Helper()
	if _, err := request(c, kmsg.NewPtrSASLHandshakeRequest(), 1); err != nil {
		t.Fatalf("SaslHandshake: %v", err)
	}
	a := kmsg.NewPtrSASLAuthenticateRequest()
	a.SASLAuthBytes = []byte(token)
	resp, err := request(c, a, 1)
	if err != nil {
		t.Fatalf("SaslAuthenticate: %v", err)
	}
	return resp.(*kmsg.SASLAuthenticateResponse)
}

func TestSASLGateClosesUnauthenticatedRequest(t *testing.T) {
	ts := saslTestServer(t, 0)
	c := dialClient(t, ts.addr)
	if _, err := request(c, kmsg.NewPtrApiVersionsRequest(), 3); err != nil {
		t.Fatalf("ApiVersions before authentication: %v", err)
	}
	if _, err := request(c, kmsg.NewPtrMetadataRequest(), 4); err == nil {
		t.Fatal("Metadata before authentication was answered")
	}
	ts.logs.waitFor(t, c.nc.LocalAddr().String(), ErrUnauthenticated.Error())
}

func TestSASLGateServesAfterAuthentication(t *testing.T) {
	ts := saslTestServer(t, 0)
	c := dialClient(t, ts.addr)
	if resp := authenticate(t, c, "ok"); resp.ErrorCode != 0 {
		t.Fatalf("SaslAuthenticate error %d", resp.ErrorCode)
	}
	if _, err := request(c, kmsg.NewPtrMetadataRequest(), 4); err != nil {
		t.Fatalf("Metadata after authentication: %v", err)
	}
}

func TestSASLFailureClosesAfterResponse(t *testing.T) {
	ts := saslTestServer(t, 0)
	c := dialClient(t, ts.addr)
	if resp := authenticate(t, c, "bad"); resp.ErrorCode != 58 {
		t.Fatalf("SaslAuthenticate error %d, want 58", resp.ErrorCode)
	}
	_, err := request(c, kmsg.NewPtrApiVersionsRequest(), 3)
	if err == nil {
		t.Fatal("connection still served after a failed authentication")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("connection left open: %v", err)
	}
}

func TestSASLExpiredSessionClosesExceptReauthentication(t *testing.T) {
	ts := saslTestServer(t, time.Nanosecond)
	c := dialClient(t, ts.addr)
	authenticate(t, c, "ok")
	// The session has expired: re-authenticating is allowed...
	authenticate(t, c, "ok")
	// ...anything else closes.
	if _, err := request(c, kmsg.NewPtrMetadataRequest(), 4); err == nil {
		t.Fatal("Metadata on an expired session was answered")
	}
	ts.logs.waitFor(t, c.nc.LocalAddr().String(), ErrSessionExpired.Error())
}

func TestPlaintextListenerHasNoGate(t *testing.T) {
	ts := startServer(t, Config{})
	c := dialClient(t, ts.addr)
	if _, err := request(c, kmsg.NewPtrMetadataRequest(), 4); err != nil {
		t.Fatalf("Metadata on a PLAINTEXT listener: %v", err)
	}
}

func TestSASLUnauthenticatedFrameCap(t *testing.T) {
	ts := saslTestServer(t, 0)
	rc := dialRaw(t, ts.addr)
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], maxRawSASLToken+1)
	rc.write(hdr[:])
	ts.logs.waitFor(t, rc.local(), "bad frame size")
}
