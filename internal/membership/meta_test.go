package membership

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"
)

func TestMetaRoundTrip(t *testing.T) {
	for _, m := range []Meta{
		{NodeID: 0},
		testMeta(7),
		{NodeID: 2147483647, Listeners: []Listener{{"A", "h", 1}, {"B", "::1", 65535}}, RaftAddr: "[::1]:1", Rack: "rack-é", Version: "1.0"},
	} {
		b, err := encodeMeta(m)
		if err != nil {
			t.Fatalf("encode %+v: %v", m, err)
		}
		got, err := decodeMeta(b)
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Errorf("round trip of %+v = %+v, %v (encoded %s)", m, got, err, b)
		}
	}
}

// TestMetaTypicalSize keeps an eye on the room left: a broker with three
// listeners on long host names must fit comfortably.
func TestMetaTypicalSize(t *testing.T) {
	m := Meta{NodeID: 12, RaftAddr: "strom-12.strom-headless.kafka.svc.cluster.local:9095", Rack: "eu-west-1a", Version: "0.9.0"}
	for _, name := range []string{"INTERNAL", "EXTERNAL", "REPLICATION"} {
		m.Listeners = append(m.Listeners, Listener{Name: name, Host: "strom-12.strom-headless.kafka.svc.cluster.local", Port: 9092})
	}
	b, err := encodeMeta(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > memberlist.MetaMaxSize*3/4 {
		t.Errorf("typical meta takes %d of %d bytes", len(b), memberlist.MetaMaxSize)
	}
}

func TestMetaLimitIsExact(t *testing.T) {
	base, _ := encodeMeta(Meta{NodeID: 1, Version: "x"})
	fill := memberlist.MetaMaxSize - len(base) + 1 // Version grows the encoding one byte per byte
	m := Meta{NodeID: 1, Version: strings.Repeat("x", fill)}
	if b, err := encodeMeta(m); err != nil || len(b) != memberlist.MetaMaxSize {
		t.Fatalf("meta of exactly %d bytes: len %d, %v", memberlist.MetaMaxSize, len(b), err)
	}
	m.Version += "x"
	_, err := encodeMeta(m)
	if !errors.Is(err, ErrMetaTooLarge) || !strings.Contains(err.Error(), "513 bytes") {
		t.Fatalf("513-byte meta: %v", err)
	}
}

func TestDecodeMetaRefusesForeignPayloads(t *testing.T) {
	for _, in := range []string{"", "null", "{}", `{"l":[]}`, "[]", "{\"id\":-1}", "{\"id\":\"one\"}", "\x01\x02", "{\"id\":1"} {
		if _, err := decodeMeta([]byte(in)); !errors.Is(err, ErrInvalidMeta) {
			t.Errorf("decodeMeta(%q) = %v, want ErrInvalidMeta", in, err)
		}
	}
	// Unknown keys from a newer broker are ignored.
	m, err := decodeMeta([]byte(`{"id":4,"zz":"future"}`))
	if err != nil || m.NodeID != 4 {
		t.Errorf("decode with an unknown key = %+v, %v", m, err)
	}
}

func FuzzDecodeMeta(f *testing.F) {
	b, _ := encodeMeta(testMeta(3))
	f.Add(b)
	f.Add([]byte(`{"id":1,"l":[{"n":"A","h":"h","p":1}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := decodeMeta(in)
		if err != nil {
			return
		}
		if m.NodeID < 0 {
			t.Fatalf("accepted negative id from %q", in)
		}
	})
}
