package replica

import (
	"fmt"

	"github.com/strombroker/strom/storage"
)

// FetchCommitted is Fetch for a read_committed consumer: it reads up to
// the last stable offset instead of the high watermark.
func (p *Partition) FetchCommitted(offset int64, maxBytes int) (FetchResult, error) {
	r, upTo, err := p.committedBounds(offset)
	if err != nil || offset >= upTo {
		return r, err
	}
	recs, err := p.log.Read(offset, maxBytes, upTo)
	r.Records = recs
	return r, err
}

// FetchSliceCommitted is FetchSlice for a read_committed consumer (see
// FetchCommitted); the same ownership rules apply.
func (p *Partition) FetchSliceCommitted(offset int64, maxBytes int) (r FetchResult, sl storage.Slice, ok bool, err error) {
	r, upTo, err := p.committedBounds(offset)
	if err != nil {
		return r, sl, false, err
	}
	if offset >= upTo {
		return r, sl, true, nil
	}
	sl, ok, err = p.log.ReadSlice(offset, maxBytes, upTo)
	return r, sl, ok, err
}

func (p *Partition) committedBounds(offset int64) (FetchResult, int64, error) {
	hw := p.hw.Load()
	leo := p.log.LogEndOffset()
	r := FetchResult{HighWatermark: hw, LastStable: p.LastStableOffset(), LogStartOffset: p.log.LogStartOffset(), LogEndOffset: leo}
	if offset > leo || offset < r.LogStartOffset {
		return r, 0, fmt.Errorf("%w: offset %d not in [%d, %d]", storage.ErrOffsetOutOfRange, offset, r.LogStartOffset, leo)
	}
	return r, r.LastStable, nil
}
