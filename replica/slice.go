package replica

import (
	"fmt"

	"github.com/strombroker/strom/storage"
)

// FetchSlice is Fetch without copying the records: it returns where they lie
// in a segment file so the connection can sendfile them (or, for a small
// range, the bytes themselves: storage.SliceCopyMax). ok is false when
// storage cannot hand out a file range (see storage.Log.ReadSlice); the
// caller then uses Fetch. The caller owns sl.File and must Close it.
func (p *Partition) FetchSlice(offset int64, maxBytes int, toLEO bool) (r FetchResult, sl storage.Slice, ok bool, err error) {
	hw := p.hw.Load()
	leo := p.log.LogEndOffset()
	upTo := hw
	if toLEO {
		upTo = leo
	}
	r = FetchResult{HighWatermark: hw, LastStable: p.LastStableOffset(), LogStartOffset: p.log.LogStartOffset(), LogEndOffset: leo}
	if offset > leo || offset < r.LogStartOffset {
		return r, sl, false, fmt.Errorf("%w: offset %d not in [%d, %d]", storage.ErrOffsetOutOfRange, offset, r.LogStartOffset, leo)
	}
	if offset >= upTo {
		return r, sl, true, nil
	}
	sl, ok, err = p.log.ReadSlice(offset, maxBytes, upTo)
	return r, sl, ok, err
}
