package wire

import (
	"errors"
	"testing"
)

// FuzzDecodeRequest feeds arbitrary bytes to the request decoder (header
// and body, as they follow the size prefix). It must never panic, must
// classify every failure with a sentinel, and whatever it accepts must
// survive being re-encoded and decoded again.
func FuzzDecodeRequest(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzDecodeRequest (see TestFuzzSeedCorpus).
	f.Fuzz(func(t *testing.T, frame []byte) {
		for _, vt := range []versionTable{nil, testVersions} {
			req, err := decodeRequest(frame, vt)
			if req == nil {
				t.Fatalf("nil Request (err %v)", err)
			}
			if err != nil {
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownAPIKey) && !errors.Is(err, ErrUnsupportedVersion) {
					t.Fatalf("error without a sentinel: %v", err)
				}
				if req.Body != nil {
					t.Fatalf("body set on error %v", err)
				}
				continue
			}
			if req.Body == nil || req.Body.Key() != req.Key || req.Body.GetVersion() != req.Version {
				t.Fatalf("decoded key %d v%d into %T", req.Key, req.Version, req.Body)
			}
			again, err := decodeRequest(appendRequest(nil, req.CorrelationID, req.ClientID, req.Body)[4:], vt)
			if err != nil {
				t.Fatalf("re-encoded %T v%d does not decode: %v", req.Body, req.Version, err)
			}
			if again.Key != req.Key || again.Version != req.Version || again.CorrelationID != req.CorrelationID || again.ClientID != req.ClientID {
				t.Fatalf("header changed in round trip: %+v then %+v", req, again)
			}
		}
	})
}
