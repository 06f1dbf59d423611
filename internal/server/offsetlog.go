package server

import (
	"context"

	"github.com/strombroker/strom/replica"
)

// offsetLog lets the group coordinator write and replay one
// __consumer_offsets partition through the normal replica path, so committed
// offsets get the same durability (and, with replication, the same copies)
// as any record.
type offsetLog struct{ part *replica.Partition }

func (o offsetLog) Append(ctx context.Context, batch []byte) (int64, error) {
	res, err := o.part.Produce(ctx, batch, -1)
	if err != nil {
		return -1, err
	}
	return res.BaseOffset, nil
}

func (o offsetLog) Read(offset int64, maxBytes int) ([]byte, error) {
	res, err := o.part.Fetch(offset, maxBytes, false)
	return res.Records, err
}

func (o offsetLog) LogStartOffset() int64 { return o.part.LogStartOffset() }
func (o offsetLog) LogEndOffset() int64   { return o.part.HighWatermark() }
