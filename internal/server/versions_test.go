package server

import (
	"context"
	"maps"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/group"
	"github.com/strombroker/strom/wire"
)

// serve sends req through ServeKafka as wire would, from a client at
// 127.0.0.1, and fails the test on a handler error.
func serve(ctx context.Context, t *testing.T, s *Server, req kmsg.Request) kmsg.Response {
	t.Helper()
	conn := &wire.ConnInfo{
		ID:         1,
		LocalAddr:  &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9092},
		RemoteAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000},
		Listener:   "PLAINTEXT",
	}
	resp, err := s.ServeKafka(ctx, &wire.Request{Key: req.Key(), Version: req.GetVersion(), ClientID: "strom-test", Body: req, Conn: conn})
	if err != nil {
		t.Fatalf("%s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp
}

// TestVersionTableHasHandlers: every advertised key, at its minimum and
// maximum version (every version for the group keys), reaches a handler in
// ServeKafka, which answers with the request's key and version in a response
// that survives an encode/decode round trip.
func TestVersionTableHasHandlers(t *testing.T) {
	s, _ := startTestServer(t)
	ctx := testCtx(t, time.Minute)
	for key, vr := range versionTable {
		versions := []int16{vr.Min, vr.Max}
		if _, ok := group.Versions[key]; ok {
			versions = nil
			for v := vr.Min; v <= vr.Max; v++ {
				versions = append(versions, v)
			}
		}
		for _, v := range versions {
			req := kmsg.RequestForKey(key)
			if req == nil {
				t.Fatalf("key %d advertised but unknown to kmsg", key)
			}
			req.SetVersion(v)
			if f, ok := req.(*kmsg.FetchRequest); ok {
				f.MaxWaitMillis = 0
			}
			resp, err := s.ServeKafka(ctx, &wire.Request{Key: key, Version: v, Body: req, Conn: &wire.ConnInfo{}})
			if err != nil && strings.Contains(err.Error(), "no handler") {
				t.Fatalf("%s v%d advertised without a handler: %v", kmsg.NameForKey(key), v, err)
			}
			if err != nil || resp == nil {
				continue // answered (or not, like acks=0) by the handler itself
			}
			if resp.Key() != key || resp.GetVersion() != v {
				t.Fatalf("%s v%d: response key %d version %d", kmsg.NameForKey(key), v, resp.Key(), resp.GetVersion())
			}
			back := kmsg.ResponseForKey(key)
			back.SetVersion(v)
			if err := back.ReadFrom(resp.AppendTo(nil)); err != nil {
				t.Fatalf("%s v%d: decode own response: %v", kmsg.NameForKey(key), v, err)
			}
		}
	}
}

// TestVersionTableGroupKeys: the group keys advertised are exactly what
// internal/group says it implements, and the server lists none of them
// itself.
func TestVersionTableGroupKeys(t *testing.T) {
	for key, v := range group.Versions {
		if got, want := versionTable[key], (wire.VersionRange{Min: v[0], Max: v[1]}); got != want {
			t.Errorf("%s: advertised %+v, group implements %+v", kmsg.NameForKey(key), got, want)
		}
		if _, ok := serverVersions[key]; ok {
			t.Errorf("%s is listed by the server and by the group package", kmsg.NameForKey(key))
		}
	}
	want := maps.Clone(serverVersions)
	for key, v := range group.Versions {
		want[key] = wire.VersionRange{Min: v[0], Max: v[1]}
	}
	if !maps.Equal(versionTable, want) {
		t.Errorf("versionTable %v, want server keys ∪ group.Versions %v", versionTable, want)
	}
	resp := (&Server{}).handleApiVersions(&wire.Request{}, kmsg.NewPtrApiVersionsRequest()).(*kmsg.ApiVersionsResponse)
	if len(resp.ApiKeys) != len(versionTable) {
		t.Fatalf("ApiVersions lists %d keys, table has %d", len(resp.ApiKeys), len(versionTable))
	}
	for _, k := range resp.ApiKeys {
		if vr := versionTable[k.ApiKey]; vr.Min != k.MinVersion || vr.Max != k.MaxVersion {
			t.Errorf("ApiVersions %s: %d-%d, table %+v", kmsg.NameForKey(k.ApiKey), k.MinVersion, k.MaxVersion, vr)
		}
	}
}
