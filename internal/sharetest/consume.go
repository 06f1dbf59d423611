package sharetest

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Consume polls the share consumer cl, accepting every record, until done
// says stop, then flushes the acknowledgements so that they are persisted
// before it returns how often each value came. Each poll is bounded by a
// second so that done is asked again while nothing arrives; it fails t
// when ctx ends first.
func Consume(t testing.TB, ctx context.Context, cl *kgo.Client, done func(seen map[string]int) bool) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for !done(seen) {
		if ctx.Err() != nil {
			t.Fatalf("share consumer: %d distinct records before the deadline", len(seen))
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)]++
			r.Ack(kgo.AckAccept)
		})
	}
	if err := cl.FlushAcks(ctx); err != nil {
		t.Fatal(err)
	}
	return seen
}
