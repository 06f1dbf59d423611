package server

// A compacted topic keeps the latest record per key, so a record without a
// key has no place in it: Kafka's LogValidator refuses such a batch with
// INVALID_RECORD ("Compacted topic cannot accept message without key"), and
// so does Strom, before anything is appended. Control batches carry keys of
// their own and are not produced by clients anyway.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/strombroker/strom/replica"
	"github.com/strombroker/strom/storage"
)

// errNoKey is a keyless record produced to a compacted topic.
var errNoKey = errors.New("compacted topic cannot accept a record without a key")

// checkKeys verifies every record of every batch has a key. Like
// checkRecordCounts, it streams the records and reads at most
// maxDecompressedBatch bytes of a batch; a framing problem it meets is
// INVALID_RECORD too.
func checkKeys(records []byte, hs []storage.BatchHeader) error {
	pos := 0
	for _, h := range hs {
		b := records[pos : pos+h.Size()]
		pos += h.Size()
		if h.IsControl() {
			continue
		}
		if err := checkBatchKeys(b[batchRecordsOffset:], h.Attributes&0x07, h.NumRecords); err != nil {
			return fmt.Errorf("%w: %w", replica.ErrInvalidRecord, err)
		}
	}
	return nil
}

func checkBatchKeys(body []byte, codec int16, n int32) error {
	r, done, err := recordsReader(body, codec)
	if err != nil {
		return err
	}
	defer done()
	br := countReaders.Get().(*bufio.Reader)
	br.Reset(io.LimitReader(r, maxDecompressedBatch))
	defer func() {
		br.Reset(nil)
		countReaders.Put(br)
	}()
	for i := int32(0); i < n; i++ {
		l, err := binary.ReadVarint(br)
		if err != nil || l < minRecordBody {
			return fmt.Errorf("record %d: bad length", i)
		}
		head, _ := br.Peek(int(min(l, 32)))
		p, keyLen := 1, int64(0) // after attributes
		for range 3 {            // timestampDelta, offsetDelta, keyLength
			v, k := binary.Varint(head[min(p, len(head)):])
			if k <= 0 {
				return fmt.Errorf("record %d: bad varint", i)
			}
			p, keyLen = p+k, v
		}
		if keyLen < 0 {
			return errNoKey
		}
		if _, err := br.Discard(int(l)); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
	}
	return nil
}
