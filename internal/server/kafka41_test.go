package server

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/strombroker/strom/wire"
)

// kafka41Exclusions are the keys Kafka 4.1 answers that Strom does not
// reach yet, each with the reason (none today: every key is at Kafka 4.1's
// maximum). The test fails for an entry Strom has since reached, so the
// list only shrinks.
var kafka41Exclusions = map[int16]string{}

// TestApiVersionsCoverKafka41: for every key a Kafka 4.1 broker answers
// (franz-go's kversion.V4_1_0, the client-facing table), Strom's
// ApiVersions reaches Kafka's maximum version, or the key is in
// kafka41Exclusions; an exclusion Strom already reaches is stale.
func TestApiVersionsCoverKafka41(t *testing.T) {
	resp := (&Server{}).handleApiVersions(&wire.Request{}, kmsg.NewPtrApiVersionsRequest()).(*kmsg.ApiVersionsResponse)
	have := map[int16]int16{}
	for _, k := range resp.ApiKeys {
		have[k.ApiKey] = k.MaxVersion
	}
	kafka := kversion.V4_1_0()
	kafka.EachMaxKeyVersion(func(key, max int16) {
		got, ok := have[key]
		reached := ok && got >= max
		reason, excluded := kafka41Exclusions[key]
		switch {
		case !reached && !excluded:
			t.Errorf("%s (%d): Kafka 4.1 answers up to v%d, Strom %s", kmsg.NameForKey(key), key, max, maxString(got, ok))
		case reached && excluded:
			t.Errorf("%s (%d): Strom reaches Kafka 4.1's v%d; remove the exclusion %q", kmsg.NameForKey(key), key, max, reason)
		}
	})
	for key := range kafka41Exclusions {
		if !kafka.HasKey(key) {
			t.Errorf("exclusion for key %d, which Kafka 4.1 does not answer", key)
		}
	}
}

func maxString(v int16, ok bool) string {
	if !ok {
		return "does not answer it"
	}
	return fmt.Sprintf("stops at v%d", v)
}
