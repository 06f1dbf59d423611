package wire

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestAppendResponseHeader(t *testing.T) {
	tests := []struct {
		name    string
		resp    kmsg.Response
		version int16
		tagByte bool
	}{
		{"ApiVersions v0", kmsg.NewPtrApiVersionsResponse(), 0, false},
		{"ApiVersions v3 flexible, still no tags", kmsg.NewPtrApiVersionsResponse(), 3, false},
		{"Metadata v8", kmsg.NewPtrMetadataResponse(), 8, false},
		{"Metadata v9 flexible", kmsg.NewPtrMetadataResponse(), 9, true},
		{"Produce v9 flexible", kmsg.NewPtrProduceResponse(), 9, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.resp.SetVersion(tt.version)
			prefix := []byte("keep")
			out := appendResponse(prefix, 77, tt.resp)
			if string(out[:4]) != "keep" {
				t.Fatalf("clobbered dst prefix")
			}
			frame := out[4:]
			if size := binary.BigEndian.Uint32(frame); int(size) != len(frame)-4 {
				t.Fatalf("size %d, frame %d", size, len(frame)-4)
			}
			if corr := int32(binary.BigEndian.Uint32(frame[4:])); corr != 77 {
				t.Fatalf("corr %d", corr)
			}
			body := frame[8:]
			if want := tt.resp.AppendTo(nil); tt.tagByte {
				if body[0] != 0 || string(body[1:]) != string(want) {
					t.Fatalf("want 0x00 tag byte then body")
				}
			} else if string(body) != string(want) {
				t.Fatalf("want body right after correlation id")
			}
		})
	}
}

// TestDrainIntoCoalescesInOrder checks the writer's batching: everything
// already queued goes into one buffer, in queue order.
func TestDrainIntoCoalescesInOrder(t *testing.T) {
	c := &conn{out: make(chan outbound, responseQueue)}
	for i := range 3 {
		resp := kmsg.NewPtrApiVersionsResponse()
		c.out <- outbound{corr: int32(10 + i), resp: resp}
	}
	first := kmsg.NewPtrApiVersionsResponse()
	buf, next, n := c.drainInto(appendResponse(nil, 9, first))
	if next != nil {
		t.Fatal("no spliced response was queued, yet one came back")
	}
	if n != 3 {
		t.Fatalf("drainInto counted %d responses, want 3", n)
	}
	if len(c.out) != 0 {
		t.Fatalf("%d responses left queued", len(c.out))
	}
	for want := int32(9); want <= 12; want++ {
		if len(buf) < 8 {
			t.Fatalf("batch ended before corr %d", want)
		}
		size := int(binary.BigEndian.Uint32(buf))
		if corr := int32(binary.BigEndian.Uint32(buf[4:])); corr != want {
			t.Fatalf("corr %d, want %d", corr, want)
		}
		buf = buf[4+size:]
	}
	if len(buf) != 0 {
		t.Fatalf("%d trailing bytes", len(buf))
	}
}

func TestDecodeRequestHeader(t *testing.T) {
	hdr := func(key, version int16, clientID *string) []byte {
		b := kbin.AppendInt16(nil, key)
		b = kbin.AppendInt16(b, version)
		b = kbin.AppendInt32(b, 5)
		return kbin.AppendNullableString(b, clientID)
	}
	id := "cid"
	// ApiVersions v3 with a non-empty header tag section (tag 0, 3 bytes)
	// that must be skipped, then an empty v3 body.
	tagged := append(hdr(18, 3, &id), 1, 0, 3, 'x', 'y', 'z')
	tagged = append(tagged, 1, 1, 0) // body: two empty compact strings, no tags

	tests := []struct {
		name     string
		frame    []byte
		clientID string
		err      error
	}{
		{"null client id", hdr(18, 0, nil), "", nil},
		{"client id", hdr(18, 0, &id), "cid", nil},
		{"header tags skipped", tagged, "cid", nil},
		{"short header", []byte{0, 18, 0}, "", ErrMalformed},
		{"client id cut", hdr(18, 0, &id)[:10], "", ErrMalformed},
		{"flexible header without tags", hdr(18, 3, &id), "", ErrMalformed},
		{"unknown key", hdr(1000, 0, nil), "", ErrUnknownAPIKey},
		{"negative version", hdr(18, -1, nil), "", ErrUnsupportedVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := decodeRequest(tt.frame, nil)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if err == nil && (req.ClientID != tt.clientID || req.CorrelationID != 5 || req.Body == nil) {
				t.Fatalf("decoded %+v", req)
			}
		})
	}
}

func TestVersionTableAPIKeys(t *testing.T) {
	keys := versionTable(testVersions).apiKeys()
	if len(keys) != len(testVersions) {
		t.Fatalf("%d keys", len(keys))
	}
	for i, k := range keys {
		if i > 0 && keys[i-1].ApiKey >= k.ApiKey {
			t.Fatalf("not sorted: %+v", keys)
		}
		if vr := testVersions[k.ApiKey]; vr.Min != k.MinVersion || vr.Max != k.MaxVersion {
			t.Fatalf("key %d: %d..%d, want %+v", k.ApiKey, k.MinVersion, k.MaxVersion, vr)
		}
	}
	all := versionTable(nil).apiKeys()
	if len(all) < 50 || all[0].ApiKey != 0 {
		t.Fatalf("nil table lists %d keys", len(all))
	}
}
